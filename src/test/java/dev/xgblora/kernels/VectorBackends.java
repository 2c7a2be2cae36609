package dev.xgblora.kernels;

/**
 * The backends a vector kernel test compares: the reference (the oracle) and the vector kernels on
 * one and on two threads (the bit-for-bit thread-invariance checks). A test class holds one in a
 * static field and closes it in {@code @AfterAll}.
 */
final class VectorBackends implements AutoCloseable {
    final Kernels ref = new ReferenceKernels();
    final VectorKernels one = new VectorKernels(1), two = new VectorKernels(2);

    /** The vector backend with {@code threads} threads (1, else 2). */
    VectorKernels threads(int threads) {
        return threads == 1 ? one : two;
    }

    @Override
    public void close() {
        one.close();
        two.close();
    }
}

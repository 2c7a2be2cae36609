package dev.xgblora.device.cuda;

import dev.xgblora.tensor.DType;

/**
 * The kernel checks of {@link CudaKernelsTest} (GEMM in every transpose and dtype, the adapter paths,
 * attention forward and backward) on a real GPU, as a main: bench/gpu-check.sh runs it on the GPU
 * machine from the carried test classes, where no build tool runs. Exits non-zero on the first
 * mismatch, with the check's message.
 */
public final class GpuChecks {
    private GpuChecks() {
    }

    public static void main(String[] args) {
        String spec = args.length > 0 ? args[0] : "cuda:0";
        float[] scaled = Cuda.load().scale(CudaKernels.deviceIndex(spec), new float[]{1f, -2f, 3f}, 2f);
        if (scaled[0] != 2f || scaled[1] != -4f || scaled[2] != 6f) throw new AssertionError("scale.ptx: " + java.util.Arrays.toString(scaled));
        System.out.println("scale.ptx: ok");
        try (CudaKernels gpu = CudaKernels.open(spec)) {
            System.out.println("device: " + gpu.device());
            for (DType d : DType.values()) {
                CudaKernelsTest.checkLinear(gpu, d);
                System.out.println("gemm.ptx linear forward / dX / dW, " + d + " weights, 37x29x45: ok");
            }
            CudaKernelsTest.checkLora(gpu);
            System.out.println("gemm.ptx rank-3 adapter forward / backward: ok");
            CudaKernelsTest.checkAllAttention(gpu);
            System.out.println("attention.ptx forward / backward (GQA, causal, padding, segments, cache, window): ok");
        }
    }
}

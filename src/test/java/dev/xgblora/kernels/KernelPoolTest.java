package dev.xgblora.kernels;

import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.tensor.Tensor;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** KernelPool: parallel from any caller thread, inline when nested, and a failing part stops the rest. */
class KernelPoolTest {
    /**
     * Both parts must be running at the same time to pass the barrier; a pool that runs them one
     * after the other on the caller thread breaks it (timeout) and the test fails.
     */
    private static Set<String> runTwoPartsTogether(KernelPool pool) {
        Set<String> threads = ConcurrentHashMap.newKeySet();
        CyclicBarrier both = new CyclicBarrier(2);
        pool.run(2, part -> {
            threads.add(Thread.currentThread().getName());
            try {
                both.await(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("part " + part + " ran without its sibling running at the same time", e);
            }
        });
        return threads;
    }

    @Test
    void aCallerInsideTheCommonPoolGetsEveryWorker() throws Exception {
        try (KernelPool pool = new KernelPool(2)) {
            Set<String> threads = ForkJoinPool.commonPool().submit(() -> runTwoPartsTogether(pool)).get(60, TimeUnit.SECONDS);
            assertEquals(2, threads.size(), threads.toString());
            assertTrue(threads.stream().allMatch(t -> t.startsWith("xgblora-kernel-")), threads.toString());
        }
    }

    @Test
    void callersInAParallelStreamGetEveryWorker() {
        try (KernelPool pool = new KernelPool(2)) {
            IntStream.range(0, 4).parallel().forEach(i -> assertEquals(2, runTwoPartsTogether(pool).size()));
        }
    }

    @Test
    void aKernelCalledFromAParallelStreamGivesTheSameBitsAsFromTheMainThread() {
        Random r = new Random(4);
        Tensor x = randn(r, 1f, 96, 200), w = randn(r, 1f, 130, 200), b = randn(r, 1f, 130);
        try (VectorKernels one = new VectorKernels(1); VectorKernels two = new VectorKernels(2)) {
            Tensor expected = Tensor.zeros(96, 130);
            one.linearForward(x, w, b, expected);
            IntStream.range(0, 3).parallel().forEach(i -> {
                Tensor y = Tensor.zeros(96, 130);
                two.linearForward(x, w, b, y);
                assertArrayEquals(expected.toFloatArray(), y.toFloatArray(), 0f);
            });
        }
    }

    @Test
    void aKernelNestedInAPartRunsInlineInsteadOfWaitingForBusyWorkers() {
        try (KernelPool pool = new KernelPool(2)) {
            AtomicInteger inner = new AtomicInteger();
            pool.run(2, p -> pool.run(3, q -> inner.incrementAndGet()));
            assertEquals(6, inner.get());
        }
    }

    @Test
    void aFailingPartStopsThePartsNotYetStartedAndReachesTheCallerUnchanged() throws Exception {
        try (KernelPool pool = new KernelPool(2)) {
            IllegalStateException boom = new IllegalStateException("part 0 failed", new ArithmeticException("the cause"));
            AtomicInteger ran = new AtomicInteger();
            int parts = 40;
            RuntimeException thrown = assertThrows(RuntimeException.class, () -> pool.run(parts, p -> {
                if (p == 0) throw boom;
                ran.incrementAndGet();
                sleep(20);
            }));
            assertSame(boom, thrown, "the first failure itself, not a copy");
            assertEquals("the cause", thrown.getCause().getMessage());
            int afterReturn = ran.get();
            assertTrue(afterReturn < parts / 2, afterReturn + " of " + (parts - 1) + " sibling parts still ran after the failure");
            Thread.sleep(100);
            assertEquals(afterReturn, ran.get(), "no part runs after the call returned");
        }
    }

    @Test
    void anInterruptedCallerSkipsTheRestAndKeepsItsInterruptFlag() {
        try (KernelPool pool = new KernelPool(2)) {
            AtomicInteger ran = new AtomicInteger();
            Thread.currentThread().interrupt();
            try {
                assertThrows(KernelPool.KernelInterruptedException.class, () -> pool.run(20, p -> {
                    ran.incrementAndGet();
                    sleep(20);
                }));
                assertTrue(Thread.currentThread().isInterrupted(), "the interrupt flag is restored");
            } finally {
                Thread.interrupted();
            }
            assertTrue(ran.get() < 20, ran.get() + " parts ran");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.xgblora.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.tensor.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.util.Set;
import java.util.TreeSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

class KernelWarmupTest {
    @Test
    void primingCallsEveryOp() {
        try (VectorKernels k = new VectorKernels(1)) {
            Set<String> called = new TreeSet<>();
            Kernels recording = (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
                    (proxy, m, args) -> {
                        called.add(m.getName());
                        try {
                            return m.invoke(k, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            KernelWarmup.prime(recording, 50);
            Set<String> ops = new TreeSet<>();
            for (Method m : Kernels.class.getMethods()) {
                if (!m.isDefault() && !Modifier.isStatic(m.getModifiers()) && m.getReturnType() != String.class && !m.getName().equals("threads")) {
                    ops.add(m.getName());
                }
            }
            ops.removeAll(called);
            assertEquals(Set.of(), ops, "ops the warm-up never calls (they would run interpreted on the first real call)");
        }
    }

    @Test
    void primingLeavesTheBackendExact() {
        for (int threads : new int[] {1, 2}) {
            try (VectorKernels k = new VectorKernels(threads)) {
                KernelWarmup.prime(k, 50);
                // Priming must not leave state behind (pack buffers, accumulators) that changes results.
                Random r = new Random(5);
                Tensor x = KernelTestSupport.randn(r, 1f, 37, 53), w = KernelTestSupport.randn(r, 1f, 29, 53);
                Tensor y = Tensor.zeros(37, 29), want = Tensor.zeros(37, 29);
                k.linearForward(x, w, null, y);
                new ReferenceKernels().linearForward(x, w, null, want);
                KernelTestSupport.assertClose("linear after priming, " + threads + " threads", want, y, 1e-4, 1e-4);
            }
        }
    }

    @Test
    void referenceAndZeroBudgetSkipPriming() {
        assertEquals(0, KernelWarmup.prime(new ReferenceKernels(), 1000));
        try (VectorKernels k = new VectorKernels(1)) {
            assertEquals(0, KernelWarmup.prime(k, 0));
        }
    }

    @Test
    void warmupPropertyIsValidated() {
        String old = System.getProperty("xgblora.warmup.ms");
        try {
            System.setProperty("xgblora.warmup.ms", "250");
            assertEquals(250, Backends.warmupMsProperty());
            System.setProperty("xgblora.warmup.ms", "-1");
            var e = assertThrows(IllegalArgumentException.class, Backends::warmupMsProperty);
            assertTrue(e.getMessage().contains("xgblora.warmup.ms"), e.getMessage());
            System.clearProperty("xgblora.warmup.ms");
            assertEquals(KernelWarmup.DEFAULT_BUDGET_MS, Backends.warmupMsProperty());
        } finally {
            if (old == null) System.clearProperty("xgblora.warmup.ms");
            else System.setProperty("xgblora.warmup.ms", old);
        }
    }
}

package dev.xgblora.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BackendsTest {
    @Test
    void createsEachAvailableBackendByName() {
        assertTrue(Backends.available().containsAll(java.util.List.of("reference", "vector")), Backends.available().toString());
        for (String name : Backends.available()) {
            Kernels k = Backends.create(name, 2);
            assertEquals(name, k.name());
            assertEquals(name.equals("reference") ? 1 : 2, k.threads());
            if (k instanceof AutoCloseable c) assertDoesNotThrow(c);
        }
    }

    @Test
    void unknownBackendNamesTheAvailableOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> Backends.create("cuda9", 1));
        assertTrue(e.getMessage().contains("cuda9") && e.getMessage().contains("vector"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backends.create("vector", 0));
    }

    @Test
    void threadsPropertyIsValidated() {
        String old = System.getProperty("xgblora.threads");
        try {
            System.setProperty("xgblora.threads", "3");
            assertEquals(3, Backends.threadsProperty());
            System.setProperty("xgblora.threads", "zero");
            var e = assertThrows(IllegalArgumentException.class, Backends::threadsProperty);
            assertTrue(e.getMessage().contains("xgblora.threads"), e.getMessage());
            System.clearProperty("xgblora.threads");
            assertEquals(Runtime.getRuntime().availableProcessors(), Backends.threadsProperty());
        } finally {
            if (old == null) System.clearProperty("xgblora.threads");
            else System.setProperty("xgblora.threads", old);
        }
    }

    @Test
    void defaultsIsVectorUnlessToldOtherwiseAndShared() {
        Kernels k = Backends.defaults();
        String want = System.getProperty("xgblora.kernels", "vector");
        assertEquals(want, k.name());
        assertTrue(k == Backends.defaults(), "defaults() must return one shared instance");
    }

    @Test
    void choiceSaysWhichBackendAndWhy() {
        String old = System.getProperty("xgblora.kernels");
        try {
            System.clearProperty("xgblora.kernels");
            Backends.Choice c = Backends.choice();
            assertEquals("vector", c.name(), "tests run with --add-modules jdk.incubator.vector");
            assertTrue(c.reason().contains("the default") && c.reason().contains("jdk.incubator.vector is in this JVM"), c.reason());
            System.setProperty("xgblora.kernels", "reference");
            c = Backends.choice();
            assertEquals(new Backends.Choice("reference", "chosen with -Dxgblora.kernels=reference", true), c);
        } finally {
            if (old == null) System.clearProperty("xgblora.kernels");
            else System.setProperty("xgblora.kernels", old);
        }
        String banner = Backends.slowBanner("because of X");
        assertTrue(banner.contains("WARNING") && banner.contains("REFERENCE kernels") && banner.contains("why: because of X")
                && banner.contains("--add-modules jdk.incubator.vector"), banner);
    }

    private static void assertDoesNotThrow(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new AssertionError("close failed", e);
        }
    }
}

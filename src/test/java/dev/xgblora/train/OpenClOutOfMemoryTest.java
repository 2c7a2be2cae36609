package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.device.opencl.ClFaults;
import dev.xgblora.device.opencl.OpenClKernels;
import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.kernels.VectorKernels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device runs out of memory mid-run (an injected clCreateBuffer failure when round 2's adapters
 * first reach the device): the run saves the state before the failed step, stops with a message
 * naming the device and what to do, and resuming that checkpoint (here on the CPU) finishes the
 * run with the losses of an uninterrupted one.
 */
class OpenClOutOfMemoryTest {
    @Test
    void outOfDeviceMemoryKeepsTheLastGoodStateAndSaysWhatToDo(@TempDir Path dir) {
        DeviceMemoryExhaustedException e;
        String device;
        try (OpenClKernels cl = OpenClTestSupport.fresh(true)) {
            device = cl.device().label();
            Trainer t = OpenClTrainingTest.trainer(cl, dir.resolve("cp"));
            t.run(5); // round 1 (steps 1-5) done; step 6 opens round 2 with new adapters
            ClFaults.plant("alloc#1");
            try {
                e = assertThrows(DeviceMemoryExhaustedException.class, t::run);
            } finally {
                ClFaults.plant(null);
            }
        }
        String m = e.getMessage();
        assertTrue(m.contains("out of memory on " + device) && m.contains("at step 6 of 20"), m);
        assertTrue(m.contains("--batch-size") && m.contains("--device cpu") && m.contains("--resume"), m);
        assertTrue(m.contains("CL_MEM_OBJECT_ALLOCATION_FAILURE"), m);
        assertNotNull(e.checkpoint(), m);
        assertEquals(Checkpoint.dirName(5), e.checkpoint().getFileName().toString(), "the state after 5 steps");

        List<Double> whole, resumed;
        try (VectorKernels vk = new VectorKernels(2)) {
            Trainer ref = OpenClTrainingTest.trainer(vk);
            ref.run();
            whole = ref.losses();
            Trainer r = OpenClTrainingTest.trainer(vk, dir.resolve("cp2"));
            Checkpoint.restore(r, e.checkpoint());
            r.run();
            resumed = r.losses();
        }
        assertEquals(whole.size(), resumed.size());
        for (int i = 5; i < whole.size(); i++) assertEquals(whole.get(i), resumed.get(i), 1e-4, "loss of step " + (i + 1) + " after resuming");
    }
}

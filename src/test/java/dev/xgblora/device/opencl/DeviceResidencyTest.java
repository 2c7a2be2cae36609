package dev.xgblora.device.opencl;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The dirty flags of device residency (DeviceTensors through HostAccess): a kernel output stays on
 * the device until the host reads it, a host write makes the device copy stale, a fill of a
 * device-valid tensor runs on the device, and closing the backend leaves the host copies current.
 */
class DeviceResidencyTest {
    static final ReferenceKernels REF = new ReferenceKernels();

    @Test
    void outputsStayOnTheDeviceUntilTheHostReadsThem() {
        try (OpenClKernels cl = OpenClTestSupport.fresh(true)) {
            Random r = new Random(1);
            Tensor x = randn(r, 1f, 9, 20), w = randn(r, 1f, 7, 20), w2 = randn(r, 1f, 5, 7);
            Tensor y = Tensor.zeros(9, 7), z = Tensor.zeros(9, 5), ye = Tensor.zeros(9, 7), ze = Tensor.zeros(9, 5);
            cl.linearForward(x, w, null, y);
            OpenClKernels.Transfers t0 = cl.transfers();
            cl.linearForward(y, w2, null, z); // y is read where it was written: only the new weight w2 moves
            OpenClKernels.Transfers chained = cl.transfers().minus(t0);
            assertEquals(new OpenClKernels.Transfers(4L * w2.numel(), 0), chained, "a chained op moved " + chained);
            REF.linearForward(x, w, null, ye);
            REF.linearForward(ye, w2, null, ze);
            OpenClKernels.Transfers t1 = cl.transfers();
            assertClose("z read lazily", ze, z, 1e-5, 1e-5);
            assertEquals(4L * z.numel(), cl.transfers().minus(t1).deviceToHost(), "reading z copies exactly z back");
            assertClose("y read lazily", ye, y, 1e-5, 1e-5);
        }
    }

    @Test
    void aHostWriteMakesTheDeviceCopyStale() {
        try (OpenClKernels cl = OpenClTestSupport.fresh(true)) {
            Random r = new Random(2);
            Tensor x = randn(r, 1f, 6, 11), w = randn(r, 1f, 4, 11);
            Tensor y = Tensor.zeros(6, 4), ye = Tensor.zeros(6, 4);
            cl.linearForward(x, w, null, y);
            x.set(3, 2, 100f); // host writes an input the device holds
            w.fill(0.5f);      // and a weight, whole
            cl.linearForward(x, w, null, y);
            REF.linearForward(x, w, null, ye);
            assertClose("after host writes", ye, y, 1e-4, 1e-5);
        }
    }

    @Test
    void zeroingADeviceValidTensorRunsOnTheDevice() {
        try (OpenClKernels cl = OpenClTestSupport.fresh(true)) {
            Random r = new Random(3);
            Tensor dy = randn(r, 1f, 8, 3), x = randn(r, 1f, 8, 5);
            Tensor dw = Tensor.zeros(3, 5), dwe = Tensor.zeros(3, 5);
            cl.linearBackwardWeight(dy, x, dw);
            OpenClKernels.Transfers t0 = cl.transfers();
            dw.zero();
            cl.linearBackwardWeight(dy, x, dw); // accumulates onto the device-zeroed copy
            assertEquals(0, cl.transfers().minus(t0).total(), "zero + accumulate moved bytes");
            REF.linearBackwardWeight(dy, x, dwe);
            assertClose("dW after a device zero", dwe, dw, 1e-5, 1e-5);
        }
    }

    @Test
    void closingLeavesTheHostCopiesCurrent() {
        Random r = new Random(4);
        Tensor x = randn(r, 1f, 5, 6), w = randn(r, 1f, 3, 6), y = Tensor.zeros(5, 3), ye = Tensor.zeros(5, 3);
        try (OpenClKernels cl = OpenClTestSupport.fresh(true)) {
            cl.linearForward(x, w, null, y);
            assertTrue(cl.mirroredBytes() > 0, "tensors are mirrored on the device");
        }
        REF.linearForward(x, w, null, ye);
        assertClose("after close", ye, y, 1e-5, 1e-5);
    }
}

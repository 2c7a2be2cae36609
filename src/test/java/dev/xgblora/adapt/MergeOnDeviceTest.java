package dev.xgblora.adapt;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.xgblora.device.opencl.OpenClKernels;
import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A dense XGBLoRA merge on an OpenCL backend runs where the weight lives: a resident W is merged in
 * place (only A and B travel, nothing comes back) and equals the host merge.
 */
class MergeOnDeviceTest {
    @Test
    void aResidentWeightIsMergedOnTheDevice() {
        int out = 13, in = 21, rank = 2;
        Random r = new Random(7);
        Tensor w0 = randn(r, 1f, out, in), x = randn(r, 1f, 5, in);
        float[] a = randn(r, 1f, rank, in).toFloatArray(), b = randn(r, 1f, out, rank).toFloatArray();
        Param host = new Param("w", w0.copy(), true);
        Merge.into(host, a, b, rank, 0.75f);
        try (OpenClKernels cl = OpenClTestSupport.fresh(true)) {
            Param dev = new Param("w", w0.copy(), true);
            Tensor y = Tensor.zeros(5, out);
            cl.linearForward(x, dev.value(), null, y); // W and x now on the device
            OpenClKernels.Transfers t0 = cl.transfers();
            Merge.into(dev, a, b, rank, 0.75f, cl);
            cl.linearForward(x, dev.value(), null, y); // uses the merged resident W
            OpenClKernels.Transfers moved = cl.transfers().minus(t0);
            assertEquals(new OpenClKernels.Transfers(4L * (a.length + b.length), 0), moved, "only the factors travel");
            assertClose("merged weight", host.value(), dev.value(), 1e-6, 1e-6);
            Tensor ye = Tensor.zeros(5, out);
            new ReferenceKernels().linearForward(x, host.value(), null, ye);
            assertClose("forward with the merged weight", ye, y, 1e-5, 1e-5);
        }
    }
}

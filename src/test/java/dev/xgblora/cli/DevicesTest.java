package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.kernels.Backends;
import org.junit.jupiter.api.Test;

/** The --device option: cpu, opencl[:N], and clear refusals for what is not there. */
class DevicesTest {
    @Test
    void cpuIsTheProcessWideBackend() {
        assertEquals(Backends.defaults(), Devices.kernels("cpu"));
    }

    @Test
    void openClDeviceZeroIsSelectable() {
        OpenClTestSupport.kernels(); // fails (or skips by request) when there is no OpenCL
        assertEquals("opencl", Devices.kernels("opencl:0").name());
    }

    @Test
    void cudaWithoutADriverAndUnknownDevicesAreRefusedWithWhatToUse() {
        org.junit.jupiter.api.Assumptions.assumeFalse(java.nio.file.Files.exists(java.nio.file.Path.of("/dev/nvidiactl")),
                "an NVIDIA driver may be present: cuda would open");
        for (String d : new String[]{"cuda", "cuda:1"}) {
            RuntimeException cuda = assertThrows(RuntimeException.class, () -> Devices.kernels(d));
            assertTrue(cuda.getMessage().startsWith("no NVIDIA driver (libcuda.so.1 not found): use --device cpu or --device opencl"),
                    cuda.getMessage());
        }
        assertTrue(DeviceListing.cudaLines().get(0).startsWith("none: no NVIDIA driver (libcuda.so.1 not found)"), DeviceListing.cudaLines().toString());
        IllegalArgumentException badIndex = assertThrows(IllegalArgumentException.class, () -> Devices.kernels("cuda:x"));
        assertTrue(badIndex.getMessage().contains("is not cuda or cuda:N"), badIndex.getMessage());
        IllegalArgumentException gpu = assertThrows(IllegalArgumentException.class, () -> Devices.kernels("gpu"));
        assertTrue(gpu.getMessage().contains("cpu, opencl[:N] or cuda[:N]"), gpu.getMessage());
    }

    @Test
    void infoListsTheOpenClDevices() {
        OpenClTestSupport.kernels();
        var lines = DeviceListing.openClLines();
        assertTrue(lines.get(0).startsWith("opencl:0 ") && lines.get(0).contains("compute units") && lines.get(0).contains("MiB global"),
                lines.toString());
    }
}

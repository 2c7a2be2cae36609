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
    void cudaAndUnknownDevicesAreRefusedWithWhatToUse() {
        RuntimeException cuda = assertThrows(RuntimeException.class, () -> Devices.kernels("cuda"));
        assertTrue(cuda.getMessage().contains("--device opencl") && cuda.getMessage().contains("--device cpu"), cuda.getMessage());
        IllegalArgumentException gpu = assertThrows(IllegalArgumentException.class, () -> Devices.kernels("gpu"));
        assertTrue(gpu.getMessage().contains("cpu, opencl or opencl:N"), gpu.getMessage());
    }

    @Test
    void infoListsTheOpenClDevices() {
        OpenClTestSupport.kernels();
        var lines = Devices.openClLines();
        assertTrue(lines.get(0).startsWith("opencl:0 ") && lines.get(0).contains("compute units") && lines.get(0).contains("MiB global"),
                lines.toString());
    }
}

package dev.xgblora.device.opencl;

import dev.xgblora.kernels.DeviceOutOfMemory;

/** The device ran out of memory (CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES, or a buffer over its limit). */
public final class OpenClOutOfMemoryException extends OpenClException implements DeviceOutOfMemory {
    private final String device;

    public OpenClOutOfMemoryException(String message, int code, String device) {
        super(message, code);
        this.device = device;
    }

    @Override
    public String deviceName() {
        return device;
    }
}

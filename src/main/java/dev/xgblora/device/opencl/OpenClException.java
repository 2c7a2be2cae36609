package dev.xgblora.device.opencl;

/** An OpenCL call failed: the message names the call, the CL error code and what to do about it. */
public class OpenClException extends RuntimeException {
    private final int code;

    public OpenClException(String message, int code) {
        super(message);
        this.code = code;
    }

    public OpenClException(String message) {
        this(message, 0);
    }

    /** The CL error code (0 when the failure was not a CL call). */
    public int code() {
        return code;
    }

    /** The device ran out of memory (allocation failure or out of resources). */
    public boolean outOfDeviceMemory() {
        return code == ClError.CL_MEM_OBJECT_ALLOCATION_FAILURE || code == ClError.CL_OUT_OF_RESOURCES;
    }
}

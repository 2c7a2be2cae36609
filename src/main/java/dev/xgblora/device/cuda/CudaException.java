package dev.xgblora.device.cuda;

/** A CUDA driver call failed, or there is no driver: the message names the call, the code and what to do. */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The CUresult (0 when the failure was not a driver call, e.g. no driver library). */
    public int code() {
        return code;
    }
}

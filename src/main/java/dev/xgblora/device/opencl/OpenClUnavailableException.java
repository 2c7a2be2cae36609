package dev.xgblora.device.opencl;

/** No usable OpenCL here: the loader library is missing, or it finds no platform or device. */
public final class OpenClUnavailableException extends OpenClException {
    public OpenClUnavailableException(String message) {
        super(message);
    }
}

package dev.xgblora.kernels;

/**
 * Marks the exception a device backend throws when its device runs out of memory, so training can
 * save its last good state and stop with advice, without knowing the device's own exception types.
 */
public interface DeviceOutOfMemory {
    /** The device, as the backend names it (for the message). */
    String deviceName();
}

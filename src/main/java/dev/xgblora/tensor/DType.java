package dev.xgblora.tensor;

/** Element types a tensor can hold. Activations, gradients and optimizer state are always F32. */
public enum DType {
    F32(4), BF16(2), F16(2);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    /** Widens a bf16 bit pattern to float: bf16 is the top half of an IEEE float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Rounds a float to bf16 (round to nearest even), NaN kept as NaN. */
    public static short floatToBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static short floatToF16(float v) {
        return Float.floatToFloat16(v);
    }

    /** Safetensors / PyTorch name of this dtype. */
    public String safetensorsName() {
        return name();
    }

    public static DType fromSafetensorsName(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "BF16" -> BF16;
            case "F16" -> F16;
            default -> throw new IllegalArgumentException(
                    "unsupported dtype '" + name + "' (supported: F32, BF16, F16)");
        };
    }
}

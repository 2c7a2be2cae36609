package dev.xgblora.adapt;

/**
 * One trained and merged booster: W[module] += factor · B·A, factor = s·η.
 * a is [rank, in] and b is [out, rank], row-major copies taken at merge time.
 */
public record Booster(int round, String module, int layer, int rank, int in, int out, float factor,
                      float[] a, float[] b, double deltaNorm) {
}

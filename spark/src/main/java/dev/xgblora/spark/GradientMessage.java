package dev.xgblora.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;

/**
 * One replica's contribution to a step's exchange, as the text {@code BarrierTaskContext.allGather}
 * carries: rank, step, the float values and the double scalars, little-endian, Base64.
 * {@link #sumInRankOrder} adds the contributions of all replicas in rank order 0..N-1, so the
 * result has the same bits on every replica whichever message arrived first.
 */
record GradientMessage(int rank, int step, float[] values, double[] scalars) {

    String encode() {
        ByteBuffer b = ByteBuffer.allocate(16 + 4 * values.length + 8 * scalars.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(rank).putInt(step).putInt(values.length).putInt(scalars.length);
        b.asFloatBuffer().put(values);
        b.position(16 + 4 * values.length);
        b.asDoubleBuffer().put(scalars);
        return Base64.getEncoder().encodeToString(b.array());
    }

    static GradientMessage decode(String text) {
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(text)).order(ByteOrder.LITTLE_ENDIAN);
        int rank = b.getInt(), step = b.getInt(), nv = b.getInt(), ns = b.getInt();
        if (b.remaining() != 4L * nv + 8L * ns) {
            throw new IllegalStateException("gradient message of rank " + rank + " at step " + step + ": " + b.remaining()
                    + " bytes for " + nv + " floats and " + ns + " doubles");
        }
        float[] v = new float[nv];
        b.asFloatBuffer().get(v);
        b.position(16 + 4 * nv);
        double[] s = new double[ns];
        b.asDoubleBuffer().get(s);
        return new GradientMessage(rank, step, v, s);
    }

    /**
     * Writes the sum of all messages into {@code values} and {@code scalars}, adding rank 0 first,
     * then 1, ...; every rank 0..N-1 must appear once, all for {@code step} and of the same sizes.
     */
    static void sumInRankOrder(String[] messages, int step, float[] values, double[] scalars) {
        GradientMessage[] byRank = new GradientMessage[messages.length];
        for (String text : messages) {
            GradientMessage m = decode(text);
            if (m.rank < 0 || m.rank >= byRank.length || byRank[m.rank] != null) {
                throw new IllegalStateException("step " + step + ": unexpected or repeated replica rank " + m.rank + " of " + byRank.length);
            }
            if (m.step != step || m.values.length != values.length || m.scalars.length != scalars.length) {
                throw new IllegalStateException("replica " + m.rank + " sent step " + m.step + " with " + m.values.length + " values and "
                        + m.scalars.length + " scalars; expected step " + step + " with " + values.length + " and " + scalars.length
                        + " (the replicas disagree about the run)");
            }
            byRank[m.rank] = m;
        }
        java.util.Arrays.fill(values, 0f);
        java.util.Arrays.fill(scalars, 0.0);
        for (GradientMessage m : byRank) {
            for (int i = 0; i < values.length; i++) values[i] += m.values[i];
            for (int i = 0; i < scalars.length; i++) scalars[i] += m.scalars[i];
        }
    }
}

package dev.xgblora.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GradientMessageTest {
    private static GradientMessage random(int rank, int step, Random r) {
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
        return new GradientMessage(rank, step, v, new double[] {r.nextDouble(), 100 + rank});
    }

    @Test
    void roundTripsExactly() {
        GradientMessage m = random(2, 7, new Random(1));
        GradientMessage back = GradientMessage.decode(m.encode());
        assertEquals(2, back.rank());
        assertEquals(7, back.step());
        assertArrayEquals(m.values(), back.values());
        assertArrayEquals(m.scalars(), back.scalars());
    }

    @Test
    void sumHasTheSameBitsWhicheverReplicaAnswersFirst() {
        Random r = new Random(3);
        String[] msgs = new String[4];
        for (int i = 0; i < msgs.length; i++) msgs[i] = random(i, 5, r).encode();
        float[] inOrder = new float[1000], reversed = new float[1000];
        double[] s1 = new double[2], s2 = new double[2];
        GradientMessage.sumInRankOrder(msgs, 5, inOrder, s1);
        GradientMessage.sumInRankOrder(new String[] {msgs[3], msgs[1], msgs[0], msgs[2]}, 5, reversed, s2);
        for (int i = 0; i < inOrder.length; i++) assertEquals(Float.floatToIntBits(inOrder[i]), Float.floatToIntBits(reversed[i]), "element " + i);
        assertArrayEquals(s1, s2);
        assertEquals(100 + 101 + 102 + 103, s1[1]);
        // and the sum is the plain rank-order float sum
        float expect = 0;
        for (String m : msgs) expect += GradientMessage.decode(m).values()[17];
        assertEquals(expect, inOrder[17]);
        // float addition is not associative: another order would differ somewhere, which is why the order is fixed
        float[] other = new float[1000];
        boolean differs = false;
        for (int i = 0; i < other.length; i++) {
            float a = 0;
            for (int k = msgs.length - 1; k >= 0; k--) a += GradientMessage.decode(msgs[k]).values()[i];
            differs |= a != inOrder[i];
        }
        assertTrue(differs, "the test data should be able to tell summation orders apart");
    }

    @Test
    void refusesMismatchedReplicas() {
        Random r = new Random(4);
        String[] steps = {random(0, 5, r).encode(), random(1, 6, r).encode()};
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> GradientMessage.sumInRankOrder(steps, 5, new float[1000], new double[2]));
        assertTrue(e.getMessage().contains("replica 1 sent step 6"), e.getMessage());
        String[] twice = {random(0, 5, r).encode(), random(0, 5, r).encode()};
        assertThrows(IllegalStateException.class, () -> GradientMessage.sumInRankOrder(twice, 5, new float[1000], new double[2]));
    }

    @Test
    void localMastersGetStageRetries() {
        assertEquals("local[2,4]", SparkRunner.withRetries("local[2]"));
        assertEquals("local[*,4]", SparkRunner.withRetries("local[*]"));
        assertEquals("spark://h:7077", SparkRunner.withRetries("spark://h:7077"));
    }
}

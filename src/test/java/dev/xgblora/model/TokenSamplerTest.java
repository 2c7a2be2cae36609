package dev.xgblora.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TokenSamplerTest {

    @Test
    void greedyPicksTheLargestLogit() {
        assertEquals(2, TokenSampler.greedy(new float[]{0.1f, -3f, 4f, 3.9f}));
        assertEquals(2, TokenSampler.sample(new float[]{0.1f, -3f, 4f, 3.9f}, 0.9f, 0f, new SplittableRandom(1)));
    }

    @Test
    void topPKeepsOnlyTheNucleusAndFollowsItsProbabilities() {
        // probabilities ∝ exp(logits): 0.5, 0.3, 0.15, 0.05 (ln of them as logits).
        float[] logits = {(float) Math.log(0.15), (float) Math.log(0.5), (float) Math.log(0.05), (float) Math.log(0.3)};
        SplittableRandom rng = new SplittableRandom(7);
        int[] counts = new int[4];
        int n = 20000;
        for (int i = 0; i < n; i++) counts[TokenSampler.sample(logits, 0.75f, 1f, rng)]++;
        assertEquals(0, counts[0], "outside the 0.75 nucleus {0.5, 0.3}");
        assertEquals(0, counts[2], "outside the nucleus");
        assertEquals(0.5 / 0.8, counts[1] / (double) n, 0.02);
        assertEquals(0.3 / 0.8, counts[3] / (double) n, 0.02);
    }

    @Test
    void temperatureFlattensTheDistribution() {
        float[] logits = {0f, 2f};
        int cold = 0, hot = 0;
        SplittableRandom rng = new SplittableRandom(3);
        for (int i = 0; i < 5000; i++) {
            cold += TokenSampler.sample(logits, 1f, 0.5f, rng) == 0 ? 1 : 0;
            hot += TokenSampler.sample(logits, 1f, 5f, rng) == 0 ? 1 : 0;
        }
        assertTrue(hot > 3 * cold, "token 0 drawn " + cold + " times cold vs " + hot + " hot");
    }
}

package dev.xgblora.adapt;

import static org.junit.jupiter.api.Assertions.*;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BoostConfigTest {
    @Test
    void presetsFollowTheSpecTable() {
        BoostPlan x = BoostConfig.of(Preset.XGBLORA).plan(2105, 6);
        assertEquals(43, x.rounds());
        assertEquals(50, x.stepsPerRound());
        assertEquals(2, x.layersPerRound());
        assertEquals(1, x.rank());
        assertEquals(16f, x.scale());
        assertEquals(LayerSelection.RANDOM, x.selection());
        assertEquals(11, BoostConfig.of(Preset.XGBLORA).plan(1000, 32).layersPerRound(), "L/3 of 32 layers, as the paper's best");
        assertEquals(1, BoostConfig.of(Preset.XGBLORA).plan(1000, 2).layersPerRound(), "at least 1");
        BoostPlan x3 = BoostConfig.of(Preset.XGBLORA).rounds(3).plan(1232, 6);
        assertEquals(411, x3.stepsPerRound(), "--rounds 3: κ = ceil(1232 / 3)");
        assertEquals(3, x3.rounds());
        assertEquals(25, BoostConfig.of(Preset.XGBLORA).rounds(3).stepsPerRound(25).plan(1232, 6).stepsPerRound(), "--kappa wins");

        BoostPlan l = BoostConfig.of(Preset.LORA).plan(2105, 6);
        assertEquals(1, l.rounds());
        assertEquals(2105, l.stepsPerRound());
        assertEquals(6, l.layersPerRound());
        assertEquals(8, l.rank());
        assertEquals(2f, l.scale());

        BoostPlan r = BoostConfig.of(Preset.RELORA).plan(1000, 6);
        assertEquals(4, r.rounds());
        assertEquals(250, r.stepsPerRound());
        assertEquals(25, r.rewarmSteps());
        assertEquals(LayerSelection.ALL, r.selection());

        BoostPlan c = BoostConfig.of(Preset.COLA).plan(900, 6);
        assertEquals(3, c.rounds());
        assertEquals(300, c.stepsPerRound());
        assertEquals(0, c.rewarmSteps());

        assertFalse(BoostConfig.of(Preset.FULL).plan(10, 6).usesAdapters());
        assertTrue(BoostConfig.of(Preset.FULL).plan(10, 6).trainsBackbone());
        BoostPlan head = BoostConfig.of(Preset.HEAD).plan(10, 6);
        assertFalse(head.usesAdapters());
        assertFalse(head.trainsBackbone());
        assertEquals(Preset.HEAD, Preset.parse(" Head "));
        assertFalse(BoostConfig.of(Preset.XGBLORA).plan(10, 6).trainsBackbone());
        assertEquals(16f / 2f, BoostConfig.of(Preset.LORA).rank(4).rsLora(true).plan(10, 6).scale());
        assertThrows(IllegalArgumentException.class, () -> BoostConfig.of(Preset.LORA).dropout(1f).plan(10, 6));
        assertEquals(8, BoostConfig.of(Preset.LORA).dropout(0.1f).plan(10, 6).rank());
    }

    @Test
    void roundBoundaries() {
        BoostPlan p = BoostConfig.of(Preset.XGBLORA).stepsPerRound(4).plan(10, 6);
        assertEquals(3, p.rounds());
        assertTrue(p.startsRound(0) && p.startsRound(4) && p.startsRound(8));
        assertFalse(p.startsRound(3));
        assertTrue(p.endsRound(3, 10) && p.endsRound(9, 10));
        assertFalse(p.endsRound(8, 10));
    }

    @Test
    void layerSelection() {
        for (int round = 0; round < 20; round++) {
            int[] s = LayerSelection.RANDOM.choose(round, 3, 8, 42);
            assertEquals(3, s.length);
            Set<Integer> u = new HashSet<>();
            for (int x : s) assertTrue(x >= 0 && x < 8 && u.add(x));
            assertArrayEquals(s, LayerSelection.RANDOM.choose(round, 3, 8, 42), "seeded");
        }
        int[] counts = new int[8];
        for (int round = 0; round < 800; round++) for (int x : LayerSelection.RANDOM.choose(round, 2, 8, 7)) counts[x]++;
        for (int c : counts) assertTrue(c > 140 && c < 260, "uniform: " + java.util.Arrays.toString(counts));
        assertArrayEquals(new int[] {0, 1, 2}, LayerSelection.CYCLIC.choose(0, 3, 8, 0));
        assertArrayEquals(new int[] {0, 6, 7}, LayerSelection.CYCLIC.choose(2, 3, 8, 0));
        assertArrayEquals(new int[] {0, 1, 2, 3}, LayerSelection.ALL.choose(5, 1, 4, 0));
    }
}

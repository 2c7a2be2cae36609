package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The time and memory budgets as stopping rules, on a fake clock and a fake resident-memory probe. */
class BudgetTest {
    @TempDir
    Path dir;

    /** A clock that advances {@code perStep[0]} nanoseconds at each step the trainer reports (logEvery 1). */
    static ProgressListener ticking(AtomicLong now, long[] perStep) {
        return ticking(now, perStep, Integer.MAX_VALUE, 0);
    }

    /** As above, steps from {@code from} on (counted from 1) taking {@code seconds} each. */
    static ProgressListener ticking(AtomicLong now, long[] perStep, int from, long seconds) {
        return new ProgressListener() {
            @Override
            public void onStep(StepInfo s) {
                if (s.step() == from) perStep[0] = seconds * 1_000_000_000L;
                now.addAndGet(perStep[0]);
            }
        };
    }

    static Trainer trainer(BoostConfig b, TrainConfig c) {
        return TrainerTest.trainer(b, c, TinyModels.sentiment(64, 1), TinyModels.sentiment(24, 2));
    }

    @Test
    void timeBudgetPlansTheHorizonFromTheMeasuredStepTime() throws Exception {
        AtomicLong now = new AtomicLong();
        long[] perStep = {1_000_000_000L}; // one second per step
        Path log = dir.resolve("run.jsonl");
        TrainConfig c = TrainerTest.cfg(1000).warmupSteps(-1).warmupRatio(0.1).timeBudgetSeconds(100).logFile(log);
        c.clock = now::get;
        Trainer t = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(10), c);
        t.listener(ticking(now, perStep)).run();
        assertEquals(100, t.step(), "100 s at 1 s per step");
        assertEquals(100, t.totalSteps());
        assertEquals(100, t.schedule.total(), "the LR schedule decays over the planned horizon, not the 1,000-step bound");
        assertEquals(10, t.schedule.warmup(), "warm-up: a tenth of the horizon");
        assertNull(t.stoppedBy(), "ended at its planned horizon");
        assertEquals(10, t.scheduler().plan().rounds());
        assertFalse(t.scheduler().inRound());
        assertEquals(1, t.evals().size(), "the final evaluation ran");
        assertTrue(Files.readString(log).contains("\"type\":\"budget\""));
    }

    @Test
    void timeBudgetStopsWhenStepsSlowDownAfterTheLastPlanAndTheOpenRoundIsMerged() {
        AtomicLong now = new AtomicLong();
        long[] perStep = {1_000_000_000L};
        TrainConfig c = TrainerTest.cfg(1000).timeBudgetSeconds(100);
        c.clock = now::get;
        Trainer t = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(7), c);
        t.listener(ticking(now, perStep, 60, 3)).run(); // the machine got busy after the last plan (at half the budget)
        // 59 steps at 1 s, then 3 s each: the budget of 100 s is spent after 59 + 14 steps, before the planned 100
        assertEquals(73, t.step());
        assertEquals(73, t.totalSteps());
        assertNotNull(t.stoppedBy());
        assertTrue(t.stoppedBy().startsWith("time budget spent"), t.stoppedBy());
        assertFalse(t.scheduler().inRound(), "the open round was ended");
        assertEquals(11, t.scheduler().boosters().stream().mapToInt(b -> b.round()).max().getAsInt() + 1, "10 rounds of 7 steps and one of 3 merged");
        assertEquals(1, t.evals().size());
    }

    @Test
    void horizonIsReplannedWhenTheFirstStepsWereSlow() {
        AtomicLong now = new AtomicLong();
        long[] perStep = {3_000_000_000L};
        TrainConfig c = TrainerTest.cfg(1000).timeBudgetSeconds(100);
        c.clock = now::get;
        Trainer t = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(10), c);
        t.listener(ticking(now, perStep, 9, 1)).run(); // JIT done: 3 s per step, then 1 s
        // planned once at 3 s per step the run would end after 33 steps and 43 s; the later plans use the budget
        assertEquals(84, t.step());
        assertEquals(100, now.get() / 1_000_000_000L);
        assertNull(t.stoppedBy());
    }

    @Test
    void loraHorizonReplansItsSingleRound() {
        AtomicLong now = new AtomicLong();
        long[] perStep = {2_000_000_000L};
        TrainConfig c = TrainerTest.cfg(500).timeBudgetSeconds(50);
        c.clock = now::get;
        Trainer t = trainer(BoostConfig.of(Preset.LORA), c);
        t.listener(ticking(now, perStep)).run();
        assertEquals(25, t.step());
        assertEquals(25, t.scheduler().plan().stepsPerRound());
        assertEquals(1, t.scheduler().boosters().stream().mapToInt(b -> b.round()).distinct().count(), "one round, merged at the end");
    }

    @Test
    void memoryBudgetStopsAfterTheFirstStepAboveIt() {
        AtomicLong rss = new AtomicLong(100L << 20);
        TrainConfig c = TrainerTest.cfg(40).memoryBudgetBytes(150L << 20);
        c.residentBytes = rss::get;
        Trainer t = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(5), c);
        t.listener(new ProgressListener() {
            @Override
            public void onStep(StepInfo s) {
                if (s.step() == 12) rss.set(200L << 20);
            }
        }).run();
        assertEquals(12, t.step());
        assertTrue(t.stoppedBy().startsWith("memory budget exceeded (resident 200 MiB > 150 MiB)"), t.stoppedBy());
        assertEquals(1, t.evals().size());
        assertFalse(t.scheduler().inRound());
    }

    @Test
    void budgetRunResumesOnItsPlannedHorizonWithTheBudgetLeft() throws Exception {
        long[] perStep = {1_000_000_000L};
        // uninterrupted
        AtomicLong now = new AtomicLong();
        TrainConfig c = TrainerTest.cfg(1000).timeBudgetSeconds(40).checkpointEvery(15).checkpointDir(dir.resolve("a"));
        c.clock = now::get;
        Trainer whole = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(6), c);
        whole.listener(ticking(now, perStep)).run();
        assertEquals(40, whole.step());
        // killed after 20 steps (checkpoint at 15), resumed in a new trainer on a new clock
        AtomicLong now2 = new AtomicLong();
        TrainConfig c2 = TrainerTest.cfg(1000).timeBudgetSeconds(40).checkpointEvery(15).checkpointDir(dir.resolve("b"));
        c2.clock = now2::get;
        Trainer first = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(6), c2);
        first.listener(ticking(now2, perStep)).run(20);
        AtomicLong now3 = new AtomicLong();
        TrainConfig c3 = TrainerTest.cfg(1000).timeBudgetSeconds(40).checkpointEvery(15).checkpointDir(dir.resolve("b"));
        c3.clock = now3::get;
        Trainer resumed = trainer(BoostConfig.of(Preset.XGBLORA).stepsPerRound(6), c3);
        Checkpoint.restore(resumed, Checkpoint.latest(dir.resolve("b")));
        assertEquals(15, resumed.step());
        assertEquals(40, resumed.totalSteps(), "the saved horizon, not the 1,000-step bound");
        resumed.listener(ticking(now3, perStep)).run();
        assertEquals(40, resumed.step(), "15 budget seconds were used before the checkpoint; 25 left");
        assertEquals(whole.losses(), resumed.losses(), "the same run");
    }
}

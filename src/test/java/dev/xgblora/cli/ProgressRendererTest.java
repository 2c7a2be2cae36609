package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.ProgressListener.StepInfo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressRendererTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final AtomicLong nanos = new AtomicLong();

    private ProgressRenderer renderer(ProgressRenderer.Mode mode, int every) {
        return new ProgressRenderer(mode, new PrintStream(bytes, true, StandardCharsets.UTF_8), nanos::get, 100, every);
    }

    private String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static StepInfo step(int step, double loss) {
        return new StepInfo(step, 100, 0, loss, 1e-3, 2500, 3, 1.5, false);
    }

    @Test
    void etaAndDurations() {
        assertEquals(90.0, ProgressRenderer.eta(10, 90, 10.0), 1e-12);
        assertTrue(Double.isNaN(ProgressRenderer.eta(0, 90, 0)));
        assertEquals("--:--", ProgressRenderer.formatDuration(Double.NaN));
        assertEquals("0:59", ProgressRenderer.formatDuration(59.4));
        assertEquals("1:05", ProgressRenderer.formatDuration(65));
        assertEquals("1:01:01", ProgressRenderer.formatDuration(3661));
    }

    @Test
    void barHasExactWidthAndFill() {
        for (int w : new int[] {2, 3, 10, 33}) {
            for (double f : new double[] {0, 0.25, 0.5, 0.999, 1, 1.5, -1, Double.NaN}) {
                assertEquals(w, ProgressRenderer.bar(f, w).length(), "width " + w + " fraction " + f);
            }
        }
        assertEquals("[=====>    ]", ProgressRenderer.bar(0.5, 12));
        assertEquals("[==========]", ProgressRenderer.bar(1, 12));
        assertEquals("[>         ]", ProgressRenderer.bar(0, 12));
    }

    @Test
    void barLineFitsTheTerminalAndShowsEveryFigure() {
        String line = ProgressRenderer.barLine(step(40, 0.4321), 0.5, 75, 99);
        assertTrue(line.length() <= 99, line);
        for (String part : List.of("40/100", "ep 0", "loss 0.5000", "lr 1.00e-03", "2500 tok/s", "round 3", "ETA 1:15")) {
            assertTrue(line.contains(part), part + " missing in " + line);
        }
        assertTrue(ProgressRenderer.barLine(step(40, 0.4), 0.4, 75, 50).length() <= 50);
    }

    @Test
    void terminalModeRedrawsOneLineAndSmoothsTheLoss() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.BAR, 10);
        r.onStep(step(1, 1.0));
        nanos.addAndGet(1_000_000_000L);
        r.onStep(step(2, 0.0));
        r.onFinal(Map.of());
        String out = text();
        assertEquals(2, out.chars().filter(c -> c == '\r').count());
        assertEquals(1, out.chars().filter(c -> c == '\n').count(), "the bar stays on one line until the end");
        assertTrue(out.contains("loss 0.9000"), "EMA of 1.0 then 0.0 with weight 0.1: " + out);
        assertTrue(out.contains("ETA 1:38"), "1 s per step, 98 steps left: " + out);
    }

    @Test
    void logModePrintsEveryNStepsOrAfterTenSeconds() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.LINES, 5);
        for (int s = 1; s <= 12; s++) r.onStep(step(s, 0.5));
        assertEquals(3, text().lines().count(), "steps 1, 6, 11: " + text());
        nanos.addAndGet(11_000_000_000L);
        r.onStep(step(13, 0.5));
        assertEquals(4, text().lines().count(), "10 s passed");
        assertFalse(text().contains("\r"));
    }

    @Test
    void quietModePrintsNothingWhileTraining() {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.QUIET, 1);
        r.onStep(step(1, 0.5));
        r.onMessage("loading");
        r.onEval(1, new EvalResult(0.5, 0.8, 0.8, 0.6, Double.NaN, 10));
        assertEquals("", text());
    }

    @Test
    void jsonModeWritesOneParsableObjectPerEvent() throws Exception {
        ProgressRenderer r = renderer(ProgressRenderer.Mode.JSON, 1);
        r.onMessage("plan");
        r.onStep(step(1, Double.NaN));
        r.onRound(new BoostingScheduler.RoundSummary(0, new int[] {1, 4}, List.of(), 0.25, 768), 0.6);
        r.onEval(50, new EvalResult(0.5, 0.8, 0.75, 0.6, Double.NaN, 10));
        r.onFinal(Map.of("accuracy_after", 0.85, "steps", 100));
        List<String> lines = text().lines().toList();
        assertEquals(5, lines.size());
        ObjectMapper m = new ObjectMapper();
        List<JsonNode> ev = lines.stream().map(l -> {
            try {
                return m.readTree(l);
            } catch (Exception e) {
                throw new AssertionError("not JSON: " + l, e);
            }
        }).toList();
        assertEquals(List.of("message", "step", "round", "eval", "final"), ev.stream().map(n -> n.get("type").asText()).toList());
        assertTrue(ev.get(1).get("loss").isNull(), "non-finite numbers become null");
        assertEquals(100, ev.get(1).get("total_steps").asInt());
        assertEquals(4, ev.get(2).get("layers").get(1).asInt());
        assertEquals(0.75, ev.get(3).get("f1").asDouble(), 0);
        assertEquals(0.85, ev.get(4).get("accuracy_after").asDouble(), 0);
    }

    @Test
    void modeFollowsFlagsThenTerminal() {
        assertEquals(ProgressRenderer.Mode.JSON, ProgressRenderer.choose(true, true, true));
        assertEquals(ProgressRenderer.Mode.QUIET, ProgressRenderer.choose(false, true, true));
        assertEquals(ProgressRenderer.Mode.BAR, ProgressRenderer.choose(false, false, true));
        assertEquals(ProgressRenderer.Mode.LINES, ProgressRenderer.choose(false, false, false));
    }
}

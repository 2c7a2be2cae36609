package dev.xgblora.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.BoostingScheduler;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.ProgressListener;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Shows training progress in one of four ways: a single progress line redrawn with {@code \r}
 * on a terminal; plain log lines every N steps or about every 10 s off a terminal (logs, pipes,
 * CI); nothing until the final table ({@code --quiet}); or one JSON object per event
 * ({@code --json}: step, round, eval, message, final).
 */
public final class ProgressRenderer implements ProgressListener {
    public enum Mode { BAR, LINES, QUIET, JSON }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Weight of the newest loss in the smoothed loss shown (exponential moving average). */
    static final double SMOOTHING = 0.1;
    static final long LINE_INTERVAL_NANOS = 10_000_000_000L;

    private final Mode mode;
    private final PrintStream out;
    private final LongSupplier clock;
    private final int width;
    private final int linesEvery;
    private double ema = Double.NaN;
    private int firstStep = -1;
    private long firstNanos;
    private long lastLineNanos;
    private int lastLineStep;
    private int barLength; // characters of the bar line now on screen (0: none)
    private String lastBar;

    public ProgressRenderer(Mode mode, PrintStream out, LongSupplier nanoClock, int terminalWidth, int linesEvery) {
        this.mode = mode;
        this.out = out;
        this.clock = nanoClock;
        this.width = Math.max(40, terminalWidth);
        this.linesEvery = Math.max(1, linesEvery);
    }

    /** The mode for the flags and whether standard output is an interactive terminal. */
    public static Mode choose(boolean json, boolean quiet, boolean terminal) {
        if (json) return Mode.JSON;
        if (quiet) return Mode.QUIET;
        return terminal ? Mode.BAR : Mode.LINES;
    }

    /** A renderer on System.out, the mode chosen from the flags and {@code System.console()}. */
    public static ProgressRenderer forConsole(boolean json, boolean quiet, int linesEvery) {
        boolean terminal = System.console() != null && System.console().isTerminal();
        return new ProgressRenderer(choose(json, quiet, terminal), System.out, System::nanoTime, terminalWidth(), linesEvery);
    }

    static int terminalWidth() {
        try {
            String c = System.getenv("COLUMNS");
            return c == null ? 100 : Integer.parseInt(c.trim());
        } catch (NumberFormatException e) {
            return 100;
        }
    }

    public Mode mode() {
        return mode;
    }

    @Override
    public void onStep(StepInfo s) {
        long now = clock.getAsLong();
        if (!s.skipped() && Double.isFinite(s.loss())) ema = Double.isNaN(ema) ? s.loss() : (1 - SMOOTHING) * ema + SMOOTHING * s.loss();
        if (firstStep < 0) {
            firstStep = s.step();
            firstNanos = now;
            lastLineNanos = now;
            lastLineStep = s.step();
        }
        double eta = eta(s.step() - firstStep, s.totalSteps() - s.step(), (now - firstNanos) / 1e9);
        switch (mode) {
            case BAR -> drawBar(barLine(s, ema, eta, width - 1));
            case LINES -> {
                boolean due = s.step() - lastLineStep >= linesEvery || now - lastLineNanos >= LINE_INTERVAL_NANOS
                        || s.step() == s.totalSteps() || s.step() == firstStep;
                if (due) {
                    out.println(logLine(s, ema, eta));
                    lastLineNanos = now;
                    lastLineStep = s.step();
                }
            }
            case JSON -> {
                Map<String, Object> m = event("step");
                m.put("step", s.step());
                m.put("total_steps", s.totalSteps());
                m.put("epoch", s.epoch());
                m.put("loss", finite(s.loss()));
                m.put("smoothed_loss", finite(ema));
                m.put("lr", s.lr());
                m.put("tokens_per_s", finite(s.tokensPerSecond()));
                m.put("round", s.round());
                m.put("grad_norm", finite(s.gradNorm()));
                m.put("skipped", s.skipped());
                m.put("eta_s", finite(eta));
                emit(m);
            }
            case QUIET -> {
            }
        }
    }

    @Override
    public void onRound(BoostingScheduler.RoundSummary r, double meanLoss) {
        switch (mode) {
            case BAR, LINES -> println(String.format(Locale.ROOT, "round %d  layers %s  loss %.4f  ‖ΔW‖ %.4f", r.round(),
                    Arrays.toString(r.layers()), meanLoss, r.deltaNorm()));
            case JSON -> {
                Map<String, Object> m = event("round");
                m.put("round", r.round());
                m.put("layers", r.layers());
                m.put("loss", finite(meanLoss));
                m.put("delta_norm", finite(r.deltaNorm()));
                m.put("trainable_params", r.trainableParams());
                emit(m);
            }
            case QUIET -> {
            }
        }
    }

    @Override
    public void onEval(int step, EvalResult e) {
        switch (mode) {
            case BAR, LINES -> println("eval @" + step + ": " + e.describe());
            case JSON -> {
                Map<String, Object> m = event("eval");
                m.put("step", step);
                putEval(m, e);
                emit(m);
            }
            case QUIET -> {
            }
        }
    }

    @Override
    public void onMessage(String message) {
        switch (mode) {
            case BAR, LINES -> println(message);
            case JSON -> {
                Map<String, Object> m = event("message");
                m.put("message", message);
                emit(m);
            }
            case QUIET -> {
            }
        }
    }

    /** The last event: in JSON mode one "final" object with {@code fields}; otherwise just ends the bar line. */
    public void onFinal(Map<String, ?> fields) {
        if (mode == Mode.JSON) {
            Map<String, Object> m = event("final");
            fields.forEach((k, v) -> m.put(k, v instanceof Double d ? finite(d) : v));
            emit(m);
        } else {
            endBar();
        }
    }

    static void putEval(Map<String, Object> m, EvalResult e) {
        m.put("loss", finite(e.loss()));
        if (!Double.isNaN(e.accuracy())) {
            m.put("accuracy", e.accuracy());
            m.put("f1", finite(e.f1()));
            m.put("mcc", finite(e.mcc()));
        } else {
            m.put("perplexity", finite(e.perplexity()));
        }
        m.put("count", e.count());
    }

    // ---- formatting (package-private for tests) --------------------------------------------------

    /** Seconds left, from the steps done and the time they took since the first step seen; NaN when unknown. */
    static double eta(int stepsDone, int stepsLeft, double seconds) {
        if (stepsDone <= 0 || seconds <= 0) return Double.NaN;
        return Math.max(0, stepsLeft) * seconds / stepsDone;
    }

    /** m:ss under an hour, h:mm:ss above, --:-- when unknown. */
    static String formatDuration(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) return "--:--";
        long s = Math.round(seconds);
        long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec) : String.format(Locale.ROOT, "%d:%02d", m, sec);
    }

    /** A bar of exactly {@code width} characters including its brackets, filled to {@code fraction}. */
    static String bar(double fraction, int width) {
        int inner = Math.max(0, width - 2);
        double f = Math.min(1, Math.max(0, Double.isFinite(fraction) ? fraction : 0));
        int full = (int) Math.floor(f * inner);
        StringBuilder sb = new StringBuilder(width).append('[');
        sb.append("=".repeat(full));
        if (full < inner) sb.append('>').append(" ".repeat(inner - full - 1));
        return sb.append(']').toString();
    }

    /** The terminal line, at most {@code maxWidth} characters: bar, step/total, then the figures. */
    static String barLine(StepInfo s, double smoothedLoss, double eta, int maxWidth) {
        String figures = String.format(Locale.ROOT, " %d/%d ep %d loss %.4f lr %.2e %s tok/s%s ETA %s", s.step(), s.totalSteps(), s.epoch(),
                smoothedLoss, s.lr(), tokens(s.tokensPerSecond()), s.round() >= 0 ? " round " + s.round() : "", formatDuration(eta));
        int barWidth = Math.min(32, maxWidth - figures.length());
        if (barWidth < 8) return figures.trim().length() > maxWidth ? figures.trim().substring(0, maxWidth) : figures.trim();
        return bar(s.totalSteps() == 0 ? 0 : (double) s.step() / s.totalSteps(), barWidth) + figures;
    }

    /** One plain log line (off a terminal). */
    static String logLine(StepInfo s, double smoothedLoss, double eta) {
        return String.format(Locale.ROOT, "step %d/%d  epoch %d  loss %.4f (smoothed %.4f)  lr %.2e  %s tok/s%s  ETA %s%s", s.step(), s.totalSteps(),
                s.epoch(), s.loss(), smoothedLoss, s.lr(), tokens(s.tokensPerSecond()), s.round() >= 0 ? "  round " + s.round() : "",
                formatDuration(eta), s.skipped() ? "  (skipped: non-finite)" : "");
    }

    private static String tokens(double tps) {
        return Double.isFinite(tps) ? String.format(Locale.ROOT, "%.0f", tps) : "-";
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static Map<String, Object> event(String type) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        return m;
    }

    private void emit(Map<String, Object> m) {
        try {
            out.println(JSON.writeValueAsString(m));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private void drawBar(String line) {
        int pad = Math.max(0, barLength - line.length());
        out.print("\r" + line + " ".repeat(pad));
        out.flush();
        barLength = line.length();
        lastBar = line;
    }

    /** Prints a whole line above the bar, then redraws the bar under it. */
    private void println(String line) {
        if (mode == Mode.BAR && barLength > 0) {
            out.print("\r" + line + " ".repeat(Math.max(0, barLength - line.length())) + System.lineSeparator());
            out.print(lastBar);
            out.flush();
        } else {
            out.println(line);
        }
    }

    private void endBar() {
        if (mode == Mode.BAR && barLength > 0) {
            out.println();
            barLength = 0;
        }
    }
}

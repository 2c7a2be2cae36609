package dev.xgblora.cli;

import dev.xgblora.cli.report.ReportData;
import dev.xgblora.io.ModelConfig;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.train.EvalResult;
import dev.xgblora.train.FineTune;
import dev.xgblora.train.FineTuneBuilder;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code xgblora train} does around the job itself: evaluates the untrained model, runs the
 * job with progress shown, writes {@code report.html} from the run log, and prints the results
 * table (or, with --json, one final JSON object).
 */
public final class TrainRun {
    private TrainRun() {
    }

    public static FineTuneBuilder.Outcome execute(FineTune.Job job, Kernels k, ProgressRenderer progress, Map<String, String> settings,
                                                  String title, PrintStream out, boolean baseline) {
        return present(FineTuneBuilder.run(job, k, progress, baseline), job, progress, settings, title, out);
    }

    /** The report, the final JSON object and the results table of a finished run (local, or replica 0 of a --spark run). */
    public static FineTuneBuilder.Outcome present(FineTuneBuilder.Outcome o, FineTune.Job job, ProgressRenderer progress,
                                                  Map<String, String> settings, String title, PrintStream out) {
        int layers = ModelConfig.load(job.modelDir()).numLayers();
        Map<String, String> table = table(o);
        Path report = null;
        Map<String, String> resolved = settings;
        if (o.runLog() != null && Files.isRegularFile(o.runLog())) {
            ReportData d = RunReport.fromLog(o.runLog(), layers, title);
            if (o.before() != null) {
                d.validationLoss.addFirst(new ReportData.Point(0, o.before().loss()));
                if (!Double.isNaN(o.before().accuracy())) d.metric.addFirst(new ReportData.Point(0, o.before().accuracy()));
                else d.metric.addFirst(new ReportData.Point(0, o.before().perplexity()));
            }
            d.finalMetrics.putAll(table);
            int planned = d.totalSteps > 0 ? d.totalSteps : Math.max(1, o.steps());
            resolved = RunReport.resolvedSettings(settings, job.boost().plan(planned, layers), planned);
            d.settings.putAll(resolved);
            report = RunReport.write(d, job.outputDir());
        }
        Map<String, Object> fin = new LinkedHashMap<>();
        fin.put("steps", o.steps());
        if (o.stoppedBy() != null) fin.put("stopped_by", o.stoppedBy());
        fin.put("seconds", o.seconds());
        fin.put("tokens_per_s", o.tokensPerSecond());
        putEval(fin, "before", o.before());
        putEval(fin, "after", o.after());
        fin.put("trainable_params_per_step", o.trainableParamsPerStep());
        fin.put("trainable_params_cumulative", o.cumulativeTrainableParams());
        fin.put("peak_rss_mib", BenchStepCommand.peakRssMib());
        fin.put("output", o.outputDir().toString());
        fin.put("report", report == null ? null : report.toString());
        fin.put("merged", o.merged() == null ? null : o.merged().toString());
        fin.put("adapter", o.adapter() == null ? null : o.adapter().toString());
        fin.put("run_log", o.runLog() == null ? null : o.runLog().toString());
        if (o.outputDir() != null && Files.isDirectory(o.outputDir())) {
            Map<String, Object> results = new LinkedHashMap<>(fin);
            results.put("settings", resolved);
            RunReport.writeResults(results, o.outputDir());
        }
        progress.onFinal(fin);
        if (progress.mode() != ProgressRenderer.Mode.JSON) {
            out.println();
            out.print(render(table, o, report));
            out.flush();
        }
        return o;
    }

    private static void putEval(Map<String, Object> m, String prefix, EvalResult e) {
        if (e == null) return;
        m.put(prefix + "_loss", e.loss());
        if (!Double.isNaN(e.accuracy())) {
            m.put(prefix + "_accuracy", e.accuracy());
            m.put(prefix + "_f1", e.f1());
            m.put(prefix + "_mcc", e.mcc());
        } else {
            m.put(prefix + "_perplexity", e.perplexity());
        }
    }

    /** The results as label → value rows (the table and the report's final metrics). */
    static Map<String, String> table(FineTuneBuilder.Outcome o) {
        Map<String, String> t = new LinkedHashMap<>();
        EvalResult b = o.before(), a = o.after();
        boolean classify = a != null ? !Double.isNaN(a.accuracy()) : b != null && !Double.isNaN(b.accuracy());
        if (classify) {
            t.put("accuracy (before → after)", pair(b, a, e -> pct(e.accuracy())));
            t.put("F1 (before → after)", pair(b, a, e -> String.format(Locale.ROOT, "%.4f", e.f1())));
            t.put("MCC (before → after)", pair(b, a, e -> String.format(Locale.ROOT, "%.4f", e.mcc())));
        } else if (a != null || b != null) {
            t.put("perplexity (before → after)", pair(b, a, e -> String.format(Locale.ROOT, "%.3f", e.perplexity())));
        }
        if (a != null || b != null) t.put("validation loss (before → after)", pair(b, a, e -> String.format(Locale.ROOT, "%.4f", e.loss())));
        if (a != null) t.put("validation examples", String.valueOf(a.count()));
        t.put("steps", o.steps() + (o.stoppedBy() != null ? " (" + o.stoppedBy() + ")" : ""));
        t.put("wall time", String.format(Locale.ROOT, "%s (%.1f s)", ProgressRenderer.formatDuration(o.seconds()), o.seconds()));
        t.put("training tokens/s", Double.isFinite(o.tokensPerSecond()) ? String.format(Locale.ROOT, "%,.0f", o.tokensPerSecond()) : "-");
        t.put("trainable params per step", String.format(Locale.ROOT, "%,d", o.trainableParamsPerStep()));
        t.put("trainable params cumulative", String.format(Locale.ROOT, "%,d", o.cumulativeTrainableParams()));
        if (o.rounds() > 0) t.put("boosters merged (rounds)", String.valueOf(o.rounds()));
        double rss = BenchStepCommand.peakRssMib();
        if (rss > 0) t.put("peak memory (RSS)", String.format(Locale.ROOT, "%,.0f MiB", rss));
        return t;
    }

    private static String pair(EvalResult before, EvalResult after, java.util.function.Function<EvalResult, String> f) {
        return (before == null ? "-" : f.apply(before)) + " → " + (after == null ? "-" : f.apply(after));
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.2f %%", 100 * v);
    }

    static String render(Map<String, String> table, FineTuneBuilder.Outcome o, Path report) {
        Map<String, String> rows = new LinkedHashMap<>(table);
        rows.put("output", o.outputDir().toString());
        if (report != null) rows.put("report", report.toString());
        if (o.merged() != null) rows.put("merged model", o.merged().toString());
        if (o.adapter() != null) rows.put("PEFT adapter", o.adapter().toString());
        if (o.runLog() != null) rows.put("run log", o.runLog().toString());
        int w = rows.keySet().stream().mapToInt(String::length).max().orElse(10);
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : rows.entrySet()) {
            sb.append(String.format(Locale.ROOT, "  %-" + w + "s  %s%n", e.getKey(), e.getValue()));
        }
        return sb.toString();
    }
}

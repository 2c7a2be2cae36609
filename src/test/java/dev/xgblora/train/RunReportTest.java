package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.Preset;
import dev.xgblora.cli.RunReport;
import dev.xgblora.cli.report.ReportData;
import dev.xgblora.kernels.ReferenceKernels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report of a real (tiny) training run: lives here for the package's tiny-model helpers. */
class RunReportTest {
    @TempDir
    Path dir;

    @Test
    void reportOfATinyRunHasOnePointPerLoggedStepAndOneCellPerChosenLayer() throws Exception {
        Path log = dir.resolve("run.jsonl");
        TrainConfig cfg = TrainerTest.cfg(9).evalEvery(3).logFile(log);
        Trainer t = new Trainer(TinyModels.classifier(11), TinyModels.data(TinyModels.sentiment(48, 1)),
                TinyModels.data(TinyModels.sentiment(16, 2)), BoostConfig.of(Preset.XGBLORA).stepsPerRound(3).layersPerRound(2), cfg,
                new ReferenceKernels());
        t.run();

        ReportData d = RunReport.fromLog(log, TinyModels.CFG.numLayers(), "tiny <run>");
        assertEquals(9, d.trainLoss.size(), "logEvery 1: every step");
        assertEquals(3, d.validationLoss.size(), "evaluations at steps 3, 6 and the end");
        assertEquals(3, d.metric.size());
        assertEquals(t.evals().get(2).accuracy(), d.metric.get(2).value(), 0);
        assertEquals(3, d.rounds.size(), "9 steps / κ 3 = 3 rounds");
        for (ReportData.Round r : d.rounds) {
            assertEquals(2, r.layers().size());
            assertTrue(r.deltaNorm() > 0, "a trained booster has a non-zero norm");
        }

        assertEquals(t.scheduler().plan().describe(), d.settings.get("plan"));
        d.settings.put("method", "xgblora");
        d.finalMetrics.put("accuracy", "0.5");
        Path page = RunReport.write(d, dir);
        assertEquals(dir.resolve("report.html"), page);
        String html = Files.readString(page);
        for (String id : new String[] {"loss-chart", "metric-chart", "norm-chart", "layer-heatmap", "settings", "final-metrics"}) {
            assertTrue(html.contains("id=\"" + id + "\""), id);
        }
        assertEquals(3 * 2, count(html, "class=\"cell\""), "3 rounds x 2 layers");
        assertEquals(3, count(html, "class=\"bar\""));
        assertTrue(html.contains("tiny &lt;run&gt;"));
    }

    @Test
    void aResumedLogKeepsTheLastRecordOfEachStepAndToleratesACutLastLine() throws Exception {
        Path log = dir.resolve("run.jsonl");
        Files.writeString(log, """
                {"type":"start","plan":"p","total_steps":3}
                {"type":"step","step":1,"loss":0.9}
                {"type":"step","step":2,"loss":0.8}
                {"type":"round","round":0,"step":2,"layers":[1,2],"loss":0.85,"delta_norm":0.5}
                {"type":"step","step":2,"loss":0.7}
                {"type":"eval","step":3,"loss":0.6,"perplexity":1.8}
                {"type":"step","st""");
        ReportData d = RunReport.fromLog(log, 3, "t");
        assertEquals(2, d.trainLoss.size());
        assertEquals(0.7, d.trainLoss.get(1).value(), 0);
        assertEquals("perplexity", d.metricName);
        assertEquals(1, d.rounds.size());
        Files.writeString(log, "{\"type\":\"step\",\"st\n{\"type\":\"step\",\"step\":1,\"loss\":0.9}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunReport.fromLog(log, 3, "t"));
        assertTrue(e.getMessage().contains("run.jsonl:1"), e.getMessage());
    }

    private static int count(String s, String needle) {
        Matcher m = Pattern.compile(Pattern.quote(needle)).matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    }
}

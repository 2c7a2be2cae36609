package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.Preset;
import dev.xgblora.device.opencl.OpenClTestSupport;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.train.FineTuneBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --device opencl} on eval, predict, embed and score (PoCL in CI) gives what {@code --device
 * cpu} gives; an unknown device is refused with the accepted values.
 */
class DeviceOptionTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static FineTuneBuilder.Outcome run;
    static Path data;

    @BeforeAll
    static void train() throws Exception {
        OpenClTestSupport.kernels(); // fails (or skips by hand) without an OpenCL platform
        Path model = TinyModelDir.create(dir.resolve("tiny"));
        data = TinyModelDir.sentiment(dir.resolve("toy.tsv"), 32, 1);
        run = FineTuneBuilder.model(model).trainFile(data).validFile(data)
                .method(Preset.XGBLORA, b -> b.stepsPerRound(4).layersPerRound(2))
                .settings(c -> c.steps(8).batchSize(8).lr(1e-2).headLr(1e-2).logEvery(4))
                .kernels(new ReferenceKernels()).output(dir.resolve("run")).run();
    }

    static String ok(String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(0, r.code(), String.join(" ", args) + ": " + r.err());
        return r.out();
    }

    @Test
    void evalOnOpenClMatchesCpu() throws Exception {
        String[] args = {"eval", "--model", run.merged().toString(), "--data", data.toString(), "--json", "--device"};
        JsonNode cpu = JSON.readTree(ok(cat(args, "cpu"))), cl = JSON.readTree(ok(cat(args, "opencl")));
        assertEquals(cpu.get("accuracy").asDouble(), cl.get("accuracy").asDouble(), 1e-12);
        assertEquals(cpu.get("loss").asDouble(), cl.get("loss").asDouble(), 1e-5);
    }

    @Test
    void predictOnOpenClMatchesCpu() throws Exception {
        String[] args = {"predict", "--model", run.merged().toString(), "--input", data.toString(), "--device"};
        List<String> cpu = ok(cat(args, "cpu")).lines().toList(), cl = ok(cat(args, "opencl:0")).lines().toList();
        assertEquals(32, cpu.size());
        assertEquals(cpu.size(), cl.size());
        for (int i = 0; i < cpu.size(); i++) {
            JsonNode a = JSON.readTree(cpu.get(i)), b = JSON.readTree(cl.get(i));
            assertEquals(a.get("label").asText(), b.get("label").asText(), "row " + i);
            assertEquals(a.get("probabilities").get("1").asDouble(), b.get("probabilities").get("1").asDouble(), 1e-5, "row " + i);
        }
    }

    @Test
    void embedOnOpenClMatchesCpu() throws Exception {
        Path in = dir.resolve("texts.txt");
        Files.writeString(in, "a wonderful film\nboring plot\ngreat acting, dull story\n");
        String[] args = {"embed", "--model", run.merged().toString(), "--input", in.toString(), "--batch", "2", "--device"};
        List<String> cpu = ok(cat(args, "cpu")).lines().toList(), cl = ok(cat(args, "opencl")).lines().toList();
        assertEquals(3, cpu.size());
        for (int i = 0; i < 3; i++) {
            JsonNode a = JSON.readTree(cpu.get(i)).get("embedding"), b = JSON.readTree(cl.get(i)).get("embedding");
            assertEquals(a.size(), b.size());
            for (int k = 0; k < a.size(); k++) assertEquals(a.get(k).asDouble(), b.get(k).asDouble(), 1e-5, "line " + i + " [" + k + "]");
        }
    }

    @Test
    void scoreOnOpenClMatchesCpu() throws Exception {
        Path model = Path.of(DeviceOptionTest.class.getResource("/fixtures/llama/llama3-gqa/config.json").toURI()).getParent();
        Path in = dir.resolve("ids.jsonl");
        Files.writeString(in, "{\"ids\": [1, 17, 42, 5, 63]}\n{\"ids\": [1, 9, 9, 30]}\n");
        String[] args = {"score", "--model", model.toString(), "--input", in.toString(), "--device"};
        List<String> cpu = ok(cat(args, "cpu")).lines().toList(), cl = ok(cat(args, "opencl")).lines().toList();
        assertEquals(2, cpu.size());
        for (int i = 0; i < 2; i++) {
            double a = JSON.readTree(cpu.get(i)).get("logprob").asDouble(), b = JSON.readTree(cl.get(i)).get("logprob").asDouble();
            assertEquals(a, b, 1e-4 * Math.max(1, Math.abs(a)), "row " + i);
        }
    }

    @Test
    void anUnknownDeviceIsRefusedWithTheAcceptedValues() {
        CliRun r = CliRun.of("eval", "--model", run.merged().toString(), "--data", data.toString(), "--device", "gpu");
        assertTrue(r.code() != 0);
        assertTrue(r.err().contains("--device 'gpu' is not cpu, opencl[:N] or cuda[:N]"), r.err());
    }

    @Test
    void eachCommandOpensTheDeviceItIsGiven() throws Exception {
        Path in = dir.resolve("one.txt");
        Files.writeString(in, "a wonderful film\n");
        Path llama = Path.of(DeviceOptionTest.class.getResource("/fixtures/llama/llama3-gqa/config.json").toURI()).getParent();
        Path ids = dir.resolve("one.jsonl");
        Files.writeString(ids, "{\"ids\": [1, 17, 42]}\n");
        String merged = run.merged().toString();
        List<String[]> commands = List.of(new String[]{"eval", "--model", merged, "--data", data.toString()},
                new String[]{"predict", "--model", merged, "--input", data.toString()},
                new String[]{"embed", "--model", merged, "--input", in.toString()},
                new String[]{"score", "--model", llama.toString(), "--input", ids.toString()});
        for (String[] c : commands) {
            CliRun r = CliRun.of(cat(cat(c, "--device"), "opencl:99"));
            assertTrue(r.code() != 0 && r.err().contains("OpenCL device 99 does not exist"), c[0] + ": " + r.err());
        }
    }

    static String[] cat(String[] a, String last) {
        String[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = last;
        return out;
    }
}

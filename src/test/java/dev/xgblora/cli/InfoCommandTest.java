package dev.xgblora.cli;

import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfoCommandTest {
    @TempDir
    Path dir;

    private String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, new CommandLine(new Main()).execute(args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void describesATinyLlamaDirectory() throws Exception {
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 16, "hidden_size": 8,
                 "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 12,
                 "rms_norm_eps": 1e-6}""");
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", Tensor.zeros(16, 8));
        t.put("model.norm.weight", Tensor.zeros(8).toDType(dev.xgblora.tensor.DType.BF16, java.lang.foreign.Arena.ofAuto()));
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), t, null);
        String out = run("info", "--model", dir.toString());
        assertTrue(out.contains("llama (decoder), LlamaForCausalLM"), out);
        assertTrue(out.contains("KV heads      1"), out);
        assertTrue(out.contains("head dim 4"), out);
        assertTrue(out.contains("136 (0.0 M)"), out);
        assertTrue(out.contains("BF16 x1, F32 x1"), out);
        assertTrue(out.contains("attention     full causal"), out);
    }

    @Test
    void showsMistralsSlidingWindow() throws Exception {
        Path mistral = Path.of(InfoCommandTest.class.getResource("/fixtures/llama/mistral-window/config.json").toURI()).getParent();
        String out = run("info", "--model", mistral.toString());
        assertTrue(out.contains("attention     sliding window 3 positions"), out);
    }

    @Test
    void namesTheActiveBackendAndWhy() {
        String out = run("info");
        assertTrue(out.contains("active backend:   vector"), out);
        assertTrue(out.contains("why:              the default; jdk.incubator.vector is in this JVM"), out);
    }

    @Test
    void importOnnxHelpHasAnExample() {
        String out = run("import-onnx", "--help");
        assertTrue(out.contains("xgblora import-onnx --onnx model.onnx --tokenizer tokenizer.json --out") && out.contains("xgblora import-onnx --list"), out);
    }
}

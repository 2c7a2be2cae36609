package dev.xgblora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.adapt.Merge;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.io.SyntheticModel;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LlamaDecoder;
import dev.xgblora.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `train --merged-dtype`: an f32 merged export is the trained model (base + the PEFT adapter, added
 * independently here), a bf16 one (the default for a bf16 base) rounds each merged weight.
 */
class MergedDtypeTest {
    @TempDir
    Path tmp;

    private Path train(Path model, Path text, String name, String... extra) {
        Path out = tmp.resolve(name);
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--model", model.toString(), "--task", "lm",
                "--train", text.toString(), "--steps", "8", "--kappa", "2", "--lr", "5e-2", "--batch-size", "2", "--max-length", "32",
                "--no-baseline", "--quiet", "--output", out.toString()));
        args.addAll(java.util.List.of(extra));
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err() + r.out());
        return out;
    }

    private static double logLikelihood(Path dir, int[] ids) {
        try (LlamaDecoder m = LlamaDecoder.open(dir, new ReferenceKernels())) {
            return m.logLikelihood(ids);
        }
    }

    @Test
    void f32MergedExportIsBasePlusAdapterAndBf16RoundsIt() throws Exception {
        Path model = tmp.resolve("m");
        SyntheticModel.write(SyntheticModel.shape("tiny"), model, 1, 1L << 30);
        Path text = Files.writeString(tmp.resolve("t.txt"), "the quick brown fox jumps over the lazy dog. ".repeat(40));
        Path f32 = train(model, text, "f32", "--merged-dtype", "f32");
        Path source = train(model, text, "source");
        try (WeightStore a = WeightStore.open(f32.resolve("merged")); WeightStore b = WeightStore.open(source.resolve("merged"))) {
            String w = "model.layers.0.self_attn.q_proj.weight";
            assertEquals(DType.F32, a.tensor(w).dtype());
            assertEquals(DType.BF16, b.tensor(w).dtype(), "the default keeps the base's dtype");
        }
        int[] ids = new int[40];
        for (int i = 0; i < ids.length; i++) ids[i] = (i * 37 + 11) % 256;
        // base + adapter, merged here in f32 from the PEFT files
        double reference;
        try (LlamaDecoder base = LlamaDecoder.open(model, new ReferenceKernels())) {
            Map<String, Linear> byName = new HashMap<>();
            for (Linear l : base.linears()) byName.put(l.name(), l);
            Map<String, PeftAdapter.Module> modules = PeftAdapter.read(f32.resolve("adapter"), new HashMap<>());
            assertTrue(modules.size() > 0);
            for (PeftAdapter.Module m : modules.values()) {
                Linear l = byName.get(m.path());
                assertTrue(l != null, "adapter module " + m.path() + " is a linear of the model: " + byName.keySet());
                Merge.into(l.weight(), m.a().toFloatArray(), m.b().toFloatArray(), m.rank(), m.scaling());
            }
            reference = base.logLikelihood(ids);
        }
        double fromF32 = logLikelihood(f32.resolve("merged"), ids), fromBf16 = logLikelihood(source.resolve("merged"), ids);
        assertEquals(reference, fromF32, 1e-6 * Math.abs(reference), "f32 export = base + adapter");
        assertTrue(Math.abs(fromBf16 - reference) > Math.abs(fromF32 - reference), "bf16 rounding moves the model: " + fromBf16 + " vs " + reference);
        CliRun bad = CliRun.of("train", "--model", model.toString(), "--task", "lm", "--train", text.toString(), "--merged-dtype", "f64",
                "--output", tmp.resolve("bad").toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--merged-dtype: expected source, f32, bf16 or f16, got 'f64'"), bad.err());
    }
}

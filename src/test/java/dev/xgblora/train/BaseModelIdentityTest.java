package dev.xgblora.train;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.xgblora.adapt.BoostConfig;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.adapt.Preset;
import dev.xgblora.io.ModelIdentity;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.WeightStore;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapters and checkpoints know their base model (id or relative path, weight hash) and refuse another one. */
class BaseModelIdentityTest {
    @TempDir
    Path dir;

    private Path base(String name, long seed) throws Exception {
        Path d = dir.resolve(name);
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), "{\"model_type\":\"bert\"}");
        SafeTensorsWriter.write(d.resolve("model.safetensors"), TinyModels.bertWeights(seed, DType.F32), Map.of("format", "pt"));
        return d;
    }

    private Trainer trained(TrainConfig c) {
        Trainer t = new Trainer(TinyModels.classifier(11), TinyModels.data(TinyModels.sentiment(32, 1)), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(2).layersPerRound(2), c, new ReferenceKernels());
        t.run();
        return t;
    }

    @Test
    void anAdapterRecordsItsBaseAndRefusesAnotherOne() throws Exception {
        Path baseA = base("base-a", 11), baseB = base("base-b", 12);
        Trainer t = trained(TrainerTest.cfg(4));
        Path adapter = dir.resolve("runs/x/adapter");
        ModelExport.writeAdapter(t.model(), t.scheduler().boosters(), adapter, baseA);
        var cfg = new ObjectMapper().readTree(adapter.resolve(PeftAdapter.CONFIG).toFile());
        assertEquals("../../../base-a", cfg.path("base_model_name_or_path").asText(), "relative to the adapter, not absolute");
        assertEquals(ModelIdentity.sha256(baseA), ModelExport.recordedBaseSha256(adapter));
        assertNotEquals(ModelIdentity.sha256(baseA), ModelIdentity.sha256(baseB));

        assertTrue(ModelExport.loadAdapter(TinyModels.classifier(11), adapter, baseA) > 0);
        var e = assertThrows(IllegalArgumentException.class, () -> ModelExport.loadAdapter(TinyModels.classifier(12), adapter, baseB));
        assertTrue(e.getMessage().contains(ModelExport.BASE_FILE) && e.getMessage().contains(ModelIdentity.sha256(baseB))
                && e.getMessage().contains("different base model"), e.getMessage());
    }

    @Test
    void aHubIdInConfigIsTheAdaptersBaseName() throws Exception {
        Path b = base("imported", 11);
        Files.writeString(b.resolve("config.json"), "{\"model_type\":\"bert\",\"_name_or_path\":\"BAAI/bge-small-en-v1.5\"}");
        assertEquals("BAAI/bge-small-en-v1.5", ModelIdentity.baseReference(b, dir.resolve("adapter")));
    }

    @Test
    void anAdapterWithUnknownTargetModulesIsNamed() throws Exception {
        Trainer t = trained(TrainerTest.cfg(4));
        Path adapter = dir.resolve("adapter");
        ModelExport.writeAdapter(t.model(), t.scheduler().boosters(), adapter, base("base", 11));
        // rename one module to a layer the 3-layer model does not have
        Map<String, Tensor> renamed = new LinkedHashMap<>();
        String victim = null;
        try (WeightStore st = WeightStore.open(adapter.resolve(PeftAdapter.WEIGHTS))) {
            for (String n : st.names()) {
                if (victim == null && n.endsWith(".lora_A.weight")) victim = n.substring(0, n.length() - ".lora_A.weight".length());
            }
            for (String n : st.names()) {
                renamed.put(n.startsWith(victim + ".") ? n.replace(victim, "base_model.model.encoder.layer.9.attention.self.query") : n,
                        st.tensor(n).copy());
            }
        }
        SafeTensorsWriter.write(adapter.resolve(PeftAdapter.WEIGHTS), renamed, Map.of("format", "pt"));
        var e = assertThrows(IllegalArgumentException.class, () -> ModelExport.loadAdapter(TinyModels.classifier(11), adapter));
        assertTrue(e.getMessage().contains(PeftAdapter.WEIGHTS) && e.getMessage().contains("encoder.layer.9.attention.self.query")
                && e.getMessage().contains("does not have"), e.getMessage());
    }

    @Test
    void aCheckpointOfAnotherBaseIsRefusedOnResume() throws Exception {
        Path ckpt = dir.resolve("ckpt");
        TrainConfig c = TrainerTest.cfg(4).checkpointDir(ckpt).checkpointEvery(2);
        c.baseModelSha256 = "aa".repeat(32);
        trained(c);
        TrainConfig other = TrainerTest.cfg(4).checkpointDir(ckpt).checkpointEvery(2);
        other.baseModelSha256 = "bb".repeat(32);
        Trainer fresh = new Trainer(TinyModels.classifier(11), TinyModels.data(TinyModels.sentiment(32, 1)), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(2).layersPerRound(2), other, new ReferenceKernels());
        var e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.restore(fresh, ckpt));
        assertTrue(e.getMessage().contains("state.json") && e.getMessage().contains("aa".repeat(32))
                && e.getMessage().contains("different base model"), e.getMessage());
        TrainConfig same = TrainerTest.cfg(4).checkpointDir(ckpt).checkpointEvery(2);
        same.baseModelSha256 = "aa".repeat(32);
        Checkpoint.restore(new Trainer(TinyModels.classifier(11), TinyModels.data(TinyModels.sentiment(32, 1)), null,
                BoostConfig.of(Preset.XGBLORA).stepsPerRound(2).layersPerRound(2), same, new ReferenceKernels()), ckpt);
    }
}

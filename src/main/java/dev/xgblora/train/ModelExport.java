package dev.xgblora.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.adapt.Booster;
import dev.xgblora.adapt.Merge;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.model.Linear;
import dev.xgblora.model.LoraAdapter;
import dev.xgblora.model.Param;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes what a run produced: the merged model as a Hugging Face directory (config.json,
 * model.safetensors under transformers' names, tokenizer files copied) and the boosters as a PEFT
 * LoRA adapter; and loads such an adapter back onto a base model.
 */
public final class ModelExport {
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "vocab.txt", "tokenizer.model");
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelExport() {
    }

    /** Dtypes of the backbone params as loaded, captured before training makes F32 copies. */
    public static Map<String, DType> sourceDtypes(TaskModel model) {
        Map<String, DType> m = new HashMap<>();
        for (Param p : model.backboneParams()) m.put(p.name(), p.value().dtype());
        return m;
    }

    /**
     * Writes the merged model to {@code out} (must not exist): every backbone weight (merged
     * boosters included) and the head under transformers' names, each in its source dtype unless
     * {@code dtype} is given, config.json from {@code baseDir} with architectures and labels set,
     * tokenizer files copied.
     */
    public static void writeMerged(TaskModel model, Path out, Path baseDir, Map<String, DType> sourceDtypes, DType dtype,
                                   LabelMap labels) {
        if (Files.exists(out)) throw new IllegalArgumentException("output " + out + " already exists; choose another directory");
        for (Linear l : model.linears()) {
            if (l.adapter() != null) throw new IllegalStateException("adapter still attached to " + l.name() + ": end the round first");
        }
        Path config = baseDir.resolve("config.json");
        if (!Files.isRegularFile(config)) throw new IllegalArgumentException("no config.json in " + baseDir);
        Arena arena = Arena.ofAuto();
        Map<Param, Linear> factored = new HashMap<>();
        for (Linear l : model.linears()) if (l.mergedFactors() != null) factored.put(l.weight(), l);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        DType headType = dtype;
        for (Param p : model.backboneParams()) {
            DType t = dtype != null ? dtype : sourceDtypes.getOrDefault(p.name(), p.value().dtype());
            if (headType == null) headType = t;
            Linear l = factored.get(p);
            // factored boosters are folded here, into a copy in the written dtype
            tensors.put(model.exportName(p.name()), l != null ? Merge.folded(l, t, t == DType.F32 ? null : arena) : convert(p.value(), t, arena));
        }
        for (Param p : model.headParams()) tensors.put(p.name(), convert(p.value(), headType == null ? DType.F32 : headType, arena));
        ObjectNode cfg;
        try {
            cfg = (ObjectNode) JSON.readTree(config.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + config + ": " + e.getMessage(), e);
        }
        cfg.putArray("architectures").add(model.architecture());
        if (labels != null && labels.numClasses() > 0) {
            ObjectNode id2label = cfg.putObject("id2label"), label2id = cfg.putObject("label2id");
            List<String> names = labels.names();
            for (int i = 0; i < names.size(); i++) {
                id2label.put(String.valueOf(i), names.get(i));
                label2id.put(names.get(i), i);
            }
        }
        DType written = headType == null ? DType.F32 : headType;
        cfg.put("torch_dtype", switch (written) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
        });
        boolean created = AtomicFiles.writeDirectory(out, tmp -> {
            SafeTensorsWriter.write(tmp.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
            Files.writeString(tmp.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
            for (String f : TOKENIZER_FILES) {
                if (Files.isRegularFile(baseDir.resolve(f))) Files.copy(baseDir.resolve(f), tmp.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
            }
        });
        if (!created) throw new IllegalArgumentException("output " + out + " appeared while writing; nothing replaced");
    }

    private static Tensor convert(Tensor v, DType t, Arena arena) {
        return v.dtype() == t ? v : v.toDType(t, t == DType.F32 ? null : arena);
    }

    /** Writes the PEFT adapter of {@code boosters} (and the head, as modules_to_save) into {@code out}. */
    public static void writeAdapter(TaskModel model, List<Booster> boosters, Path out, String baseModel) {
        if (boosters.isEmpty()) throw new IllegalStateException("no boosters to export (full fine-tuning, or no round finished)");
        Map<String, PeftAdapter.Module> modules = PeftAdapter.stack(boosters, model::exportName);
        Map<String, Tensor> head = new LinkedHashMap<>();
        for (Param p : model.headParams()) head.put(p.name(), p.value());
        PeftAdapter.write(out, modules, head, model.headModules(), model.peftTaskType(), baseModel);
    }

    /**
     * Loads a PEFT adapter onto a base model: attaches each module's (A, B, scaling) as a
     * {@link LoraAdapter} and copies head weights. Returns the number of modules attached.
     */
    public static int loadAdapter(TaskModel model, Path dir) {
        Map<String, Tensor> head = new LinkedHashMap<>();
        Map<String, PeftAdapter.Module> modules = PeftAdapter.read(dir, head);
        int n = 0;
        for (Linear l : model.linears()) {
            PeftAdapter.Module m = modules.get(model.exportName(l.name()));
            if (m == null) continue;
            l.attach(new LoraAdapter(new Param(l.name() + ".lora_A.weight", m.a(), true),
                    new Param(l.name() + ".lora_B.weight", m.b(), true), m.scaling()));
            n++;
        }
        if (n != modules.size()) throw new IllegalArgumentException(dir + ": " + (modules.size() - n) + " adapter module(s) match no linear of the model");
        for (Param p : model.headParams()) {
            Tensor t = head.get(p.name());
            if (t != null) p.ensureWritableF32().copyFrom(t);
        }
        return n;
    }
}

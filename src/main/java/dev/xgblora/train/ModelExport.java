package dev.xgblora.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.adapt.Booster;
import dev.xgblora.adapt.PeftAdapter;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.JsonFiles;
import dev.xgblora.io.ModelIdentity;
import dev.xgblora.io.WeightStore;
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
 * Writes what a run produced: the merged model as a directory other tools load with the same
 * numbers, and the boosters as a PEFT LoRA adapter; and loads such an adapter back onto a base
 * model. The merged layout follows what the model computes:
 * <ul>
 * <li>BERT with CLS pooling through its pooler: transformers' {@code BertForSequenceClassification}
 *     (config.json, model.safetensors with {@code bert.*}, {@code bert.pooler.dense.*}, {@code classifier.*});
 * <li>any other BERT classifier (mean pooling, or CLS without a pooler): the sentence-transformers
 *     layout ({@link SentenceTransformersLayout}), since transformers' sequence classifier would put
 *     a randomly initialised pooler on the CLS token;
 * <li>decoders: {@code *ForSequenceClassification} / {@code *ForCausalLM} (score on the last
 *     non-padding token, pad_token_id set in config.json).
 * </ul>
 * Every export carries {@value #BASE_FILE}: the base model's Hugging Face id (or path) and the
 * SHA-256 of its weight files.
 */
public final class ModelExport {
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "vocab.txt", "tokenizer.model");
    /** Sidecar of every export and adapter: which base model it belongs to (id, weight hash). */
    public static final String BASE_FILE = "xgblora-base.json";
    /** The head of a sentence-transformers-layout classifier inside a PEFT adapter directory. */
    public static final String ADAPTER_HEAD = "classifier.safetensors";
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
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        DType headType = dtype;
        for (Param p : model.backboneParams()) {
            DType t = dtype != null ? dtype : sourceDtypes.getOrDefault(p.name(), p.value().dtype());
            if (headType == null) headType = t;
            tensors.put(model.exportName(p.name()), convert(p.value(), t, arena));
        }
        Map<String, Tensor> head = new LinkedHashMap<>();
        for (Param p : model.headParams()) head.put(p.name(), convert(p.value(), headType == null ? DType.F32 : headType, arena));
        EncoderClassifier stModel = model instanceof EncoderClassifier ec && ec.pooler() == null ? ec : null;
        if (stModel == null) tensors.putAll(head);
        ObjectNode cfg;
        try {
            cfg = (ObjectNode) JSON.readTree(config.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + config + ": " + e.getMessage(), e);
        }
        cfg.putArray("architectures").add(model.architecture());
        if (model instanceof DecoderClassifier && !cfg.hasNonNull("pad_token_id")) {
            // transformers finds each row's last token by pad_token_id: the id our batches pad with
            cfg.put("pad_token_id", padId(baseDir));
        }
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
        ObjectNode base = baseRecord(baseDir, out);
        int maxSeq = cfg.path("max_position_embeddings").asInt(512);
        boolean created = AtomicFiles.writeDirectory(out, tmp -> {
            SafeTensorsWriter.write(tmp.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
            Files.writeString(tmp.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
            for (String f : TOKENIZER_FILES) {
                if (Files.isRegularFile(baseDir.resolve(f))) Files.copy(baseDir.resolve(f), tmp.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
            }
            if (stModel != null) SentenceTransformersLayout.write(tmp, stModel, maxSeq, head);
            Files.writeString(tmp.resolve(BASE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(base) + "\n");
        });
        if (!created) throw new IllegalArgumentException("output " + out + " appeared while writing; nothing replaced");
    }

    private static int padId(Path baseDir) {
        if (!Files.isRegularFile(baseDir.resolve(dev.xgblora.io.Tokenizer.FILE))) return 0;
        try (dev.xgblora.io.Tokenizer t = dev.xgblora.io.Tokenizer.load(baseDir)) {
            return t.padId();
        }
    }

    private static Tensor convert(Tensor v, DType t, Arena arena) {
        return v.dtype() == t ? v : v.toDType(t, t == DType.F32 ? null : arena);
    }

    /** The {@value #BASE_FILE} record of {@code baseDir} as seen from {@code exportDir}. */
    static ObjectNode baseRecord(Path baseDir, Path exportDir) {
        ObjectNode b = JSON.createObjectNode();
        b.put("base_model", ModelIdentity.baseReference(baseDir, exportDir));
        String sha = ModelIdentity.sha256(baseDir);
        if (sha != null) b.put("base_model_sha256", sha);
        var files = b.putArray("base_model_files");
        ModelIdentity.weightFiles(baseDir).forEach(f -> files.add(f.getFileName().toString()));
        return b;
    }

    /** The base SHA-256 an export or adapter directory records in {@value #BASE_FILE}, or null. */
    public static String recordedBaseSha256(Path dir) {
        Path f = dir.resolve(BASE_FILE);
        return Files.isRegularFile(f) ? JsonFiles.read(f).path("base_model_sha256").asText(null) : null;
    }

    /**
     * Writes the PEFT adapter of {@code boosters} into {@code out}: base_model_name_or_path is the
     * base's Hugging Face id when known, else its path relative to {@code out}; the head goes in as
     * modules_to_save (BertForSequenceClassification, decoders), or beside it as
     * {@value #ADAPTER_HEAD} for a sentence-transformers-layout classifier; {@value #BASE_FILE} records the base's hash.
     */
    public static void writeAdapter(TaskModel model, List<Booster> boosters, Path out, Path baseDir) {
        if (boosters.isEmpty()) throw new IllegalStateException("no boosters to export (full fine-tuning, or no round finished)");
        if (Files.exists(out)) throw new IllegalArgumentException("output " + out + " already exists; choose another directory");
        Map<String, PeftAdapter.Module> modules = PeftAdapter.stack(boosters, model::exportName);
        Map<String, Tensor> head = new LinkedHashMap<>();
        for (Param p : model.headParams()) head.put(p.name(), p.value());
        boolean headBeside = model.headModules().isEmpty() && !head.isEmpty();
        String baseReference = ModelIdentity.baseReference(baseDir, out);
        String record;
        try {
            record = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(baseRecord(baseDir, out)) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        boolean created = AtomicFiles.writeDirectory(out, tmp -> {
            PeftAdapter.write(tmp, modules, headBeside ? Map.of() : head, model.headModules(), model.peftTaskType(), baseReference);
            if (headBeside) SafeTensorsWriter.write(tmp.resolve(ADAPTER_HEAD), head, Map.of("format", "pt"));
            AtomicFiles.writeString(tmp.resolve(BASE_FILE), record);
        });
        if (!created) throw new IllegalArgumentException("output " + out + " appeared while writing; nothing replaced");
    }

    /**
     * Loads a PEFT adapter onto a base model: attaches each module's (A, B, scaling) as a
     * {@link LoraAdapter} and copies head weights. Returns the number of modules attached.
     */
    public static int loadAdapter(TaskModel model, Path dir) {
        return loadAdapter(model, dir, null);
    }

    /**
     * As {@link #loadAdapter(TaskModel, Path)}, first checking the adapter's recorded base hash
     * against {@code baseDir} (when both are known). Module paths match with or without transformers'
     * {@code bert.} prefix, so adapters of either BERT layout load; a module the model lacks is an error naming it.
     */
    public static int loadAdapter(TaskModel model, Path dir, Path baseDir) {
        if (baseDir != null) ModelIdentity.requireSameBase("adapter " + dir.resolve(BASE_FILE), recordedBaseSha256(dir), baseDir);
        Map<String, Tensor> head = new LinkedHashMap<>();
        Map<String, PeftAdapter.Module> modules = PeftAdapter.read(dir, head);
        if (Files.isRegularFile(dir.resolve(ADAPTER_HEAD))) {
            try (WeightStore st = WeightStore.open(dir.resolve(ADAPTER_HEAD))) {
                for (String n : st.names()) head.put(n, st.tensor(n).copy());
            }
        }
        Map<String, Linear> byPath = new LinkedHashMap<>();
        for (Linear l : model.linears()) byPath.put(withoutBertPrefix(model.exportName(l.name())), l);
        List<String> unknown = new java.util.ArrayList<>();
        for (PeftAdapter.Module m : modules.values()) if (!byPath.containsKey(withoutBertPrefix(m.path()))) unknown.add(m.path());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(dir.resolve(PeftAdapter.WEIGHTS) + ": " + unknown.size() + " target module(s) the model does not have, e.g. "
                    + unknown.stream().limit(3).toList() + "; the model's linear modules look like "
                    + byPath.keySet().stream().limit(3).toList() + " (an adapter for a different architecture?)");
        }
        for (PeftAdapter.Module m : modules.values()) {
            Linear l = byPath.get(withoutBertPrefix(m.path()));
            l.attach(new LoraAdapter(new Param(l.name() + ".lora_A.weight", m.a(), true),
                    new Param(l.name() + ".lora_B.weight", m.b(), true), m.scaling()));
        }
        for (Param p : model.headParams()) {
            Tensor t = head.get(p.name());
            if (t != null) p.ensureWritableF32().copyFrom(t);
        }
        return modules.size();
    }

    private static String withoutBertPrefix(String path) {
        return path.startsWith("bert.") ? path.substring(5) : path;
    }
}

package dev.xgblora.adapt;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.io.AtomicFiles;
import dev.xgblora.io.SafeTensorsWriter;
import dev.xgblora.io.WeightStore;
import dev.xgblora.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The boosters of a run as one PEFT LoRA adapter: for each module, the k boosters that touched it
 * stacked into lora_A [k, in] and lora_B [out, k] with each booster's s·η folded into its columns
 * of B; rank_pattern and alpha_pattern give every module r = alpha = k, so PEFT's scaling is 1
 * and base + adapter equals the merged model. Keys follow PEFT's saved layout:
 * {@code base_model.model.<module path>.lora_A.weight}; head weights (modules_to_save) are saved
 * as {@code base_model.model.<head>.weight}.
 */
public final class PeftAdapter {
    public static final String WEIGHTS = "adapter_model.safetensors";
    public static final String CONFIG = "adapter_config.json";
    static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One module's stacked factors, scaling included (PEFT applies W + scaling·B·A). */
    public record Module(String path, Tensor a, Tensor b, float scaling) {
        public int rank() {
            return (int) a.dim(0);
        }
    }

    private PeftAdapter() {
    }

    /** Stacks boosters per module (module path = {@code exportName} of the booster's module name). */
    public static Map<String, Module> stack(List<Booster> boosters, Function<String, String> exportName) {
        Map<String, List<Booster>> by = new LinkedHashMap<>();
        for (Booster b : boosters) by.computeIfAbsent(exportName.apply(b.module()), k -> new ArrayList<>()).add(b);
        Map<String, Module> out = new LinkedHashMap<>();
        by.forEach((path, list) -> {
            int k = 0, in = list.get(0).in(), outDim = list.get(0).out();
            for (Booster b : list) k += b.rank();
            Tensor a = Tensor.zeros(k, in), bb = Tensor.zeros(outDim, k);
            int row = 0;
            for (Booster b : list) {
                for (int r = 0; r < b.rank(); r++, row++) {
                    for (int j = 0; j < in; j++) a.set(row, j, b.a()[r * in + j]);
                    for (int i = 0; i < outDim; i++) bb.set(i, row, b.factor() * b.b()[i * b.rank() + r]);
                }
            }
            out.put(path, new Module(path, a, bb, 1f));
        });
        return out;
    }

    /**
     * Writes the adapter directory (atomically replaced files).
     *
     * @param head       head tensors under their exported names (e.g. classifier.weight), may be empty
     * @param headModules module names of the head, for modules_to_save
     */
    public static void write(Path dir, Map<String, Module> modules, Map<String, Tensor> head, List<String> headModules,
                             String taskType, String baseModel) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, Integer> ranks = new TreeMap<>();
        for (Module m : modules.values()) {
            tensors.put(PREFIX + m.path() + ".lora_A.weight", m.a());
            tensors.put(PREFIX + m.path() + ".lora_B.weight", m.b());
            ranks.put(m.path(), m.rank());
        }
        head.forEach((n, t) -> tensors.put(PREFIX + n, t));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        SafeTensorsWriter.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
        int common = ranks.values().stream().reduce((x, y) -> x).orElse(1);
        ObjectNode c = JSON.createObjectNode();
        c.put("peft_type", "LORA");
        if (taskType != null) c.put("task_type", taskType);
        c.put("base_model_name_or_path", baseModel);
        c.put("r", common);
        c.put("lora_alpha", common);
        c.put("lora_dropout", 0.0);
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("use_rslora", false);
        c.put("inference_mode", true);
        ArrayNode targets = c.putArray("target_modules");
        ranks.keySet().forEach(targets::add);
        ObjectNode rp = c.putObject("rank_pattern"), ap = c.putObject("alpha_pattern");
        ranks.forEach((k, v) -> {
            rp.put(k, v);
            ap.put(k, v);
        });
        if (!headModules.isEmpty()) {
            ArrayNode ms = c.putArray("modules_to_save");
            headModules.forEach(ms::add);
        } else {
            c.putNull("modules_to_save");
        }
        try {
            AtomicFiles.writeString(dir.resolve(CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads an adapter directory: modules with scaling = alpha/r per module, plus non-LoRA tensors (head). */
    public static Map<String, Module> read(Path dir, Map<String, Tensor> headOut) {
        ObjectNode c;
        try {
            c = (ObjectNode) JSON.readTree(dir.resolve(CONFIG).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(CONFIG) + ": " + e.getMessage(), e);
        }
        if (!"LORA".equals(c.path("peft_type").asText())) {
            throw new IllegalArgumentException(dir.resolve(CONFIG) + ": peft_type is '" + c.path("peft_type").asText() + "', expected LORA");
        }
        boolean rs = c.path("use_rslora").asBoolean(false);
        Map<String, Module> out = new LinkedHashMap<>();
        try (WeightStore st = WeightStore.open(dir.resolve(WEIGHTS))) {
            for (String name : st.names()) {
                if (!name.startsWith(PREFIX)) throw new IllegalArgumentException(dir.resolve(WEIGHTS) + ": key '" + name + "' lacks prefix " + PREFIX);
                String rest = name.substring(PREFIX.length());
                if (rest.endsWith(".lora_A.weight")) {
                    String path = rest.substring(0, rest.length() - ".lora_A.weight".length());
                    Tensor a = st.tensor(name).copy(), b = st.tensor(PREFIX + path + ".lora_B.weight").copy();
                    int r = c.path("rank_pattern").path(path).asInt(c.path("r").asInt());
                    double alpha = c.path("alpha_pattern").path(path).asDouble(c.path("lora_alpha").asDouble());
                    if (a.dim(0) != r) throw new IllegalArgumentException(name + " has rank " + a.dim(0) + " but the config says " + r);
                    out.put(path, new Module(path, a, b, (float) (rs ? alpha / Math.sqrt(r) : alpha / r)));
                } else if (!rest.endsWith(".lora_B.weight") && headOut != null) {
                    headOut.put(rest, st.tensor(name).copy());
                }
            }
        }
        return out;
    }
}

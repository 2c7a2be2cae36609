package dev.xgblora.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random-weight Hugging Face decoder directories at real shapes (no real causal LM can be
 * downloaded here): config.json, bf16 safetensors shards with model.safetensors.index.json, and a
 * byte-level tokenizer.json (ids 0..255 = bytes, then BOS and EOS) whose ids fit any vocabulary.
 * Weights are uniform with std 0.02 (Hugging Face's initializer_range), norms 1, biases 0, each
 * tensor from its own generator seeded by (seed, name), so shards are independent and repeatable.
 * The directory appears atomically; one shard at a time is in memory.
 */
public final class SyntheticModel {
    /** A decoder shape; ropeScaling is "llama3" (factor 32 or 8) or null. */
    public record Shape(String name, String modelType, int hidden, int layers, int heads, int kvHeads, int intermediate, int vocab,
                        boolean tied, double ropeTheta, double llama3Factor, int maxPositions, double normEps) {
        public int headDim() {
            return hidden / heads;
        }

        /** Every tensor name with its shape, in Hugging Face order. */
        public Map<String, long[]> tensors() {
            Map<String, long[]> t = new LinkedHashMap<>();
            int q = heads * headDim(), kv = kvHeads * headDim();
            boolean qkvBias = modelType.equals("qwen2");
            t.put("model.embed_tokens.weight", new long[] {vocab, hidden});
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                t.put(p + "input_layernorm.weight", new long[] {hidden});
                t.put(p + "self_attn.q_proj.weight", new long[] {q, hidden});
                if (qkvBias) t.put(p + "self_attn.q_proj.bias", new long[] {q});
                t.put(p + "self_attn.k_proj.weight", new long[] {kv, hidden});
                if (qkvBias) t.put(p + "self_attn.k_proj.bias", new long[] {kv});
                t.put(p + "self_attn.v_proj.weight", new long[] {kv, hidden});
                if (qkvBias) t.put(p + "self_attn.v_proj.bias", new long[] {kv});
                t.put(p + "self_attn.o_proj.weight", new long[] {hidden, q});
                t.put(p + "post_attention_layernorm.weight", new long[] {hidden});
                t.put(p + "mlp.gate_proj.weight", new long[] {intermediate, hidden});
                t.put(p + "mlp.up_proj.weight", new long[] {intermediate, hidden});
                t.put(p + "mlp.down_proj.weight", new long[] {hidden, intermediate});
            }
            t.put("model.norm.weight", new long[] {hidden});
            if (!tied) t.put("lm_head.weight", new long[] {vocab, hidden});
            return t;
        }

        /** Parameters (elements) over all tensors. */
        public long parameters() {
            long n = 0;
            for (long[] s : tensors().values()) n += Tensor.count(s);
            return n;
        }
    }

    public static final Map<String, Shape> SHAPES = Map.of(
            "llama-3.2-1b", new Shape("llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, true, 500000, 32, 131072, 1e-5),
            "qwen2.5-0.5b", new Shape("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, true, 1000000, 0, 32768, 1e-6),
            "llama-3.1-8b", new Shape("llama-3.1-8b", "llama", 4096, 32, 32, 8, 14336, 128256, false, 500000, 8, 131072, 1e-5),
            "tiny", new Shape("tiny", "llama", 64, 3, 4, 2, 160, 300, true, 500000, 32, 2048, 1e-5),
            "tiny-qwen2", new Shape("tiny-qwen2", "qwen2", 48, 2, 6, 2, 96, 320, false, 1000000, 0, 2048, 1e-6));

    /** Token ids of the byte-level tokenizer: 0..255 are bytes. */
    public static final int BOS = 256, EOS = 257;
    private static final float STD = 0.02f;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ObjectMapper JSON = new ObjectMapper();

    private SyntheticModel() {
    }

    public static Shape shape(String name) {
        Shape s = SHAPES.get(name.toLowerCase(Locale.ROOT));
        if (s == null) throw new IllegalArgumentException("unknown shape '" + name + "' (expected one of " + new java.util.TreeSet<>(SHAPES.keySet()) + ")");
        return s;
    }

    /**
     * Writes {@code shape} into {@code dir} (must not exist) with shards of at most
     * {@code shardBytes} (a tensor larger than that gets a shard of its own).
     */
    public static void write(Shape shape, Path dir, long seed, long shardBytes) {
        if (Files.exists(dir)) throw new IllegalArgumentException("output " + dir + " already exists; choose another directory");
        if (shape.vocab() <= EOS) throw new IllegalArgumentException("vocabulary " + shape.vocab() + " cannot hold the byte tokenizer's " + (EOS + 1) + " ids");
        List<List<String>> shards = new ArrayList<>();
        Map<String, long[]> all = shape.tensors();
        long inShard = 0, total = 0;
        for (Map.Entry<String, long[]> e : all.entrySet()) {
            long bytes = Tensor.count(e.getValue()) * 2;
            if (shards.isEmpty() || (inShard + bytes > shardBytes && inShard > 0)) {
                shards.add(new ArrayList<>());
                inShard = 0;
            }
            shards.getLast().add(e.getKey());
            inShard += bytes;
            total += bytes;
        }
        long totalBytes = total;
        boolean created = AtomicFiles.writeDirectory(dir, tmp -> {
            ObjectNode weightMap = JSON.createObjectNode();
            for (int s = 0; s < shards.size(); s++) {
                String file = shards.size() == 1 ? "model.safetensors"
                        : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", s + 1, shards.size());
                try (Arena arena = Arena.ofConfined()) {
                    Map<String, Tensor> tensors = new LinkedHashMap<>();
                    for (String name : shards.get(s)) {
                        tensors.put(name, fill(arena, name, all.get(name), seed));
                        weightMap.put(name, file);
                    }
                    SafeTensorsWriter.write(tmp.resolve(file), tensors, Map.of("format", "pt"));
                }
            }
            if (shards.size() > 1) {
                ObjectNode index = JSON.createObjectNode();
                index.putObject("metadata").put("total_size", totalBytes);
                index.set("weight_map", weightMap);
                Files.writeString(tmp.resolve(WeightStore.INDEX_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
            }
            Files.writeString(tmp.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config(shape)));
            Files.writeString(tmp.resolve("tokenizer.json"), tokenizerJson());
        });
        if (!created) throw new IllegalArgumentException("output " + dir + " appeared while writing; nothing replaced");
    }

    /** One bf16 tensor: norms 1, biases 0, matrices uniform with std 0.02. */
    private static Tensor fill(Arena arena, String name, long[] shape, long seed) {
        Tensor t = Tensor.allocate(arena, DType.BF16, shape);
        MemorySegment seg = t.data();
        long n = t.numel();
        if (name.endsWith("norm.weight")) {
            short one = DType.floatToBf16(1f);
            for (long i = 0; i < n; i++) seg.setAtIndex(I16, i, one);
        } else if (!name.endsWith(".bias")) {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
            float a = STD * (float) Math.sqrt(3); // uniform(-a, a) has std a/sqrt(3)
            for (long i = 0; i < n; i++) seg.setAtIndex(I16, i, DType.floatToBf16((float) (r.nextDouble() * 2 - 1) * a));
        }
        return t;
    }

    static ObjectNode config(Shape s) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(s.modelType().equals("qwen2") ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
        c.put("model_type", s.modelType());
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("head_dim", s.headDim());
        c.put("vocab_size", s.vocab());
        c.put("max_position_embeddings", s.maxPositions());
        c.put("rms_norm_eps", s.normEps());
        c.put("rope_theta", s.ropeTheta());
        if (s.llama3Factor() > 0) {
            ObjectNode r = c.putObject("rope_scaling");
            r.put("rope_type", "llama3");
            r.put("factor", s.llama3Factor());
            r.put("low_freq_factor", 1.0);
            r.put("high_freq_factor", 4.0);
            r.put("original_max_position_embeddings", 8192);
        }
        c.put("tie_word_embeddings", s.tied());
        c.put("hidden_act", "silu");
        c.put("attention_bias", false);
        c.put("mlp_bias", false);
        c.put("bos_token_id", BOS);
        c.put("eos_token_id", EOS);
        c.put("torch_dtype", "bfloat16");
        c.put("initializer_range", STD);
        c.put("_comment", "random weights written by xgblora make-model " + s.name() + " (shape only, not a trained model)");
        return c;
    }

    /**
     * A byte-level BPE tokenizer.json with no merges: every byte is one token (GPT-2's byte to
     * character map), BOS prepended by the post-processor.
     */
    public static String tokenizerJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        special(added, BOS, "<|begin_of_text|>");
        special(added, EOS, "<|end_of_text|>");
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        byteLevel(pre);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<|begin_of_text|>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<|begin_of_text|>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode st = post.putObject("special_tokens").putObject("<|begin_of_text|>");
        st.put("id", "<|begin_of_text|>");
        st.putArray("ids").add(BOS);
        st.putArray("tokens").add("<|begin_of_text|>");
        byteLevel(root.putObject("decoder"));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        int[] map = bytesToUnicode();
        for (int b = 0; b < 256; b++) vocab.put(new String(Character.toChars(map[b])), b);
        model.putArray("merges");
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void special(ArrayNode added, int id, String content) {
        ObjectNode t = added.addObject();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
    }

    private static void byteLevel(ObjectNode n) {
        n.put("type", "ByteLevel");
        n.put("add_prefix_space", false);
        n.put("trim_offsets", true);
        n.put("use_regex", true);
    }

    /** GPT-2's reversible byte → printable character map (printable Latin-1 bytes map to themselves). */
    static int[] bytesToUnicode() {
        int[] map = new int[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = printable[b] ? b : next++;
        return map;
    }
}

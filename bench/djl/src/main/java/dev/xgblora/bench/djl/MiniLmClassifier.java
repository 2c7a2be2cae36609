package dev.xgblora.bench.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * all-MiniLM-L6-v2 (post-LN BERT, exact GELU) with mean pooling and a 2-class linear head, written
 * with DJL NDArray operations, operation for operation as bench/torch_steps.py writes it in
 * PyTorch. The head and the adapters' A are drawn with java.util.Random exactly as
 * {@code xgblora bench step} draws them (head: seed, adapters: seed + 1), so with the same seed all
 * three implementations start from the same state.
 */
final class MiniLmClassifier {
    static final List<String> TARGETS = List.of("query", "key", "value", "attn_out", "inter", "out");

    /** y = x W^T + b (+ scale * (x A^T) B^T once an adapter is attached), as PEFT computes it. */
    static final class Lin {
        final NDArray weight, bias;
        NDArray a, b;
        float scale;

        Lin(NDArray weight, NDArray bias) {
            this.weight = weight;
            this.bias = bias;
        }

        void attach(int r, float scale, Random rng, NDManager manager) {
            int in = (int) weight.getShape().get(1), out = (int) weight.getShape().get(0);
            float bound = (float) (1.0 / Math.sqrt(in)); // PEFT's kaiming_uniform(a=sqrt(5)) bound
            float[] av = new float[r * in];
            for (int i = 0; i < av.length; i++) av[i] = (rng.nextFloat() * 2f - 1f) * bound;
            a = owned(manager.create(av, new Shape(r, in)));
            b = manager.zeros(new Shape(out, r));
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            this.scale = scale;
        }

        NDArray forward(NDArray x) {
            NDArray y = Linear.linear(x, weight, bias).singletonOrThrow();
            if (a == null) return y;
            NDArray xa = Linear.linear(x, a, null).singletonOrThrow();
            return y.add(Linear.linear(xa, b, null).singletonOrThrow().mul(scale));
        }
    }

    record Norm(NDArray weight, NDArray bias, float eps) {
        NDArray forward(NDArray x) {
            return LayerNorm.layerNorm(x, new Shape(x.getShape().get(x.getShape().dimension() - 1)), weight, bias, eps).singletonOrThrow();
        }
    }

    static final class Layer {
        final Map<String, Lin> lins = new java.util.LinkedHashMap<>();
        Norm ln1, ln2;
    }

    final int hidden, heads;
    final NDArray word, pos, tokType, headW, headB;
    final Norm embLn;
    final List<Layer> layers = new ArrayList<>();
    final List<NDArray> all = new ArrayList<>(); // every weight, for --method full

    MiniLmClassifier(JsonNode cfg, Map<String, NDArray> w, boolean trainAll, long seed, NDManager manager) {
        hidden = cfg.get("hidden_size").asInt();
        heads = cfg.get("num_attention_heads").asInt();
        float eps = (float) cfg.get("layer_norm_eps").asDouble();
        String act = cfg.path("hidden_act").asText("gelu");
        if (!act.equals("gelu")) throw new IllegalArgumentException("config.json: hidden_act " + act + ", this benchmark implements exact gelu only");
        word = p(w, "embeddings.word_embeddings.weight", trainAll);
        pos = p(w, "embeddings.position_embeddings.weight", trainAll);
        tokType = p(w, "embeddings.token_type_embeddings.weight", trainAll);
        embLn = norm(w, "embeddings.LayerNorm", eps, trainAll);
        for (int i = 0; i < cfg.get("num_hidden_layers").asInt(); i++) {
            String pre = "encoder.layer." + i + ".";
            Layer l = new Layer();
            for (String n : List.of("query", "key", "value")) l.lins.put(n, lin(w, pre + "attention.self." + n, trainAll));
            l.lins.put("attn_out", lin(w, pre + "attention.output.dense", trainAll));
            l.ln1 = norm(w, pre + "attention.output.LayerNorm", eps, trainAll);
            l.lins.put("inter", lin(w, pre + "intermediate.dense", trainAll));
            l.lins.put("out", lin(w, pre + "output.dense", trainAll));
            l.ln2 = norm(w, pre + "output.LayerNorm", eps, trainAll);
            layers.add(l);
        }
        Random g = new Random(seed); // as EncoderClassifier draws its head
        float[] hw = new float[2 * hidden];
        for (int i = 0; i < hw.length; i++) hw[i] = (float) (g.nextGaussian() * 0.02);
        headW = owned(manager.create(hw, new Shape(2, hidden)));
        headB = manager.zeros(new Shape(2));
        headW.setRequiresGradient(true);
        headB.setRequiresGradient(true);
    }

    private NDArray p(Map<String, NDArray> w, String name, boolean trainable) {
        NDArray a = w.get(name);
        if (a == null) throw new IllegalArgumentException("model.safetensors has no tensor " + name);
        if (trainable) a.setRequiresGradient(true);
        all.add(a);
        return a;
    }

    private Lin lin(Map<String, NDArray> w, String prefix, boolean trainable) {
        return new Lin(p(w, prefix + ".weight", trainable), p(w, prefix + ".bias", trainable));
    }

    private Norm norm(Map<String, NDArray> w, String prefix, float eps, boolean trainable) {
        return new Norm(p(w, prefix + ".weight", trainable), p(w, prefix + ".bias", trainable), eps);
    }

    /** A copy in libtorch-owned memory of an array that wraps Java memory; the wrapper is closed. */
    static NDArray owned(NDArray wrapper) {
        NDArray copy = wrapper.duplicate();
        wrapper.close();
        return copy;
    }

    /** Logits (batch, 2) of ids (batch, seq) int64 under an additive mask (batch, 1, 1, seq) and pooling mask (batch, seq, 1). */
    NDArray forward(NDArray ids, NDArray maskAdd, NDArray poolMask) {
        long b = ids.getShape().get(0), t = ids.getShape().get(1);
        int d = hidden / heads;
        NDArray x = ids.getNDArrayInternal().embedding(ids, word, SparseFormat.DENSE).singletonOrThrow()
                .add(pos.get(new NDIndex(":" + t)).expandDims(0))
                .add(tokType.get(0));
        x = embLn.forward(x);
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            NDArray q = split(l.lins.get("query").forward(x), b, t, d);
            NDArray k = split(l.lins.get("key").forward(x), b, t, d);
            NDArray v = split(l.lins.get("value").forward(x), b, t, d);
            NDArray scores = q.matMul(k.swapAxes(-1, -2)).div(Math.sqrt(d)).add(maskAdd);
            NDArray ctx = scores.softmax(-1).matMul(v).swapAxes(1, 2).reshape(b, t, hidden);
            x = l.ln1.forward(l.lins.get("attn_out").forward(ctx).add(x));
            NDArray h = Activation.gelu(l.lins.get("inter").forward(x));
            x = l.ln2.forward(l.lins.get("out").forward(h).add(x));
        }
        NDArray pooled = x.mul(poolMask).sum(new int[]{1}).div(poolMask.sum(new int[]{1}).clip(1e-9f, Float.MAX_VALUE));
        return Linear.linear(pooled, headW, headB).singletonOrThrow();
    }

    private NDArray split(NDArray y, long b, long t, int d) {
        return y.reshape(b, t, heads, d).swapAxes(1, 2);
    }
}

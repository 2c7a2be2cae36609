package dev.xgblora.train;

import java.util.ArrayList;
import java.util.List;

/** Whitespace tokenizer over a small hashed vocabulary: [CLS]=1 text [SEP]=2 (pair [SEP]), pad 0. */
final class FakeEncoder implements TextEncoder {
    final int vocab;

    FakeEncoder(int vocab) {
        this.vocab = vocab;
    }

    @Override
    public int[] encode(String text) {
        String[] w = text.trim().split("\\s+");
        int[] ids = new int[w.length];
        for (int i = 0; i < w.length; i++) ids[i] = 4 + Math.floorMod(w[i].hashCode(), vocab - 4);
        return ids;
    }

    @Override
    public int bosId() {
        return 1;
    }

    @Override
    public int eosId() {
        return 2;
    }

    @Override
    public EncodedBatch encodeBatch(List<String> texts, List<String> pairs, int maxLength) {
        List<int[]> rows = new ArrayList<>();
        List<int[]> types = new ArrayList<>();
        int seq = 0;
        for (int i = 0; i < texts.size(); i++) {
            List<Integer> r = new ArrayList<>(), t = new ArrayList<>();
            r.add(1);
            for (int id : encode(texts.get(i))) r.add(id);
            r.add(2);
            while (t.size() < r.size()) t.add(0);
            if (pairs != null) {
                for (int id : encode(pairs.get(i))) r.add(id);
                r.add(2);
                while (t.size() < r.size()) t.add(1);
            }
            int n = Math.min(maxLength, r.size());
            rows.add(r.subList(0, n).stream().mapToInt(Integer::intValue).toArray());
            types.add(t.subList(0, n).stream().mapToInt(Integer::intValue).toArray());
            seq = Math.max(seq, n);
        }
        int b = texts.size();
        int[] ids = new int[b * seq], mask = new int[b * seq], ty = new int[b * seq];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < rows.get(i).length; j++) {
                ids[i * seq + j] = rows.get(i)[j];
                mask[i * seq + j] = 1;
                ty[i * seq + j] = types.get(i)[j];
            }
        }
        return new EncodedBatch(ids, mask, ty, b, seq);
    }
}

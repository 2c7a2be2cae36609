package dev.xgblora.train;

import dev.xgblora.io.Tokenizer;
import java.util.List;

/** {@link TextEncoder} over the io {@link Tokenizer} (Hugging Face tokenizer.json). */
public final class TokenizerEncoder implements TextEncoder {
    private final Tokenizer tok;
    private final int bos;
    private final int eos;

    public TokenizerEncoder(Tokenizer tok) {
        this.tok = tok;
        this.bos = firstKnown(tok, "<|begin_of_text|>", "<s>", "<|im_start|>");
        this.eos = firstKnown(tok, "<|end_of_text|>", "<|eot_id|>", "</s>", "<|endoftext|>", "<|im_end|>");
    }

    private static int firstKnown(Tokenizer tok, String... names) {
        for (String n : names) {
            Integer id = tok.tokenId(n);
            if (id != null) return id;
        }
        return -1;
    }

    @Override
    public EncodedBatch encodeBatch(List<String> texts, List<String> pairsOrNull, int maxLength) {
        Tokenizer.Batch b = tok.encodeBatch(texts, pairsOrNull, maxLength);
        int n = b.size(), t = b.length();
        int[] ids = new int[n * t], mask = new int[n * t], types = new int[n * t];
        for (int i = 0; i < n; i++) {
            System.arraycopy(b.ids()[i], 0, ids, i * t, t);
            System.arraycopy(b.attentionMask()[i], 0, mask, i * t, t);
            System.arraycopy(b.typeIds()[i], 0, types, i * t, t);
        }
        return new EncodedBatch(ids, mask, types, n, t);
    }

    @Override
    public int[] encode(String text) {
        return tok.encode(text, false);
    }

    @Override
    public int bosId() {
        return bos;
    }

    @Override
    public int eosId() {
        return eos;
    }

    @Override
    public int padId() {
        return tok.padId();
    }
}

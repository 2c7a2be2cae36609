package dev.xgblora.io;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The all-MiniLM-L6-v2 WordPiece tokenizer (uncased BERT vocabulary) from its Maven jar. */
class TokenizerTest {
    @TempDir
    static Path dir;
    static Tokenizer tok;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = MiniLmSource.open(MiniLmSource.TOKENIZER)) {
            Files.copy(in, dir.resolve(Tokenizer.FILE));
        }
        tok = Tokenizer.load(dir);
    }

    @Test
    void encodesLikeBertUncased() {
        assertArrayEquals(new int[]{101, 7592, 2088, 102}, tok.encode("hello world", true));
        assertArrayEquals(new int[]{7592, 2088}, tok.encode("Hello World", false));
    }

    @Test
    void vocabularyPadAndTokenIds() {
        assertEquals(30522, tok.vocabSize());
        assertEquals(0, tok.padId());
        assertEquals(101, tok.tokenId("[CLS]"));
        assertEquals(102, tok.tokenId("[SEP]"));
        assertEquals(7592, tok.tokenId("hello"));
        assertNull(tok.tokenId("no-such-token-xyz"));
    }

    @Test
    void decodeSkipsSpecialTokens() {
        assertEquals("hello world", tok.decode(tok.encode("Hello world", true)));
    }

    @Test
    void batchPadsToLongestRowAndTruncates() {
        Tokenizer.Batch b = tok.encodeBatch(List.of("hello world", "a much longer sentence than the first one is"), null, 512);
        int n1 = tok.encode("hello world", true).length;
        int n2 = tok.encode("a much longer sentence than the first one is", true).length;
        assertEquals(Math.max(n1, n2), b.length());
        assertEquals(2, b.size());
        assertEquals(n1, Arrays.stream(b.attentionMask()[0]).sum());
        assertEquals(tok.padId(), b.ids()[0][b.length() - 1]);
        assertEquals(0, b.attentionMask()[0][b.length() - 1]);

        Tokenizer.Batch t = tok.encodeBatch(List.of("a much longer sentence than the first one is"), null, 5);
        assertEquals(5, t.length());
        assertEquals(101, t.ids()[0][0]);
        assertEquals(102, t.ids()[0][4]);
    }

    /** This tokenizer.json configures truncation and fixed padding to 128; our calls must override both. */
    @Test
    void fileTruncationAndPaddingSettingsAreOverridden() {
        String longText = "word ".repeat(300);
        assertEquals(302, tok.encode(longText, true).length);
        Tokenizer.Batch b = tok.encodeBatch(List.of(longText, "short"), null, 256);
        assertEquals(256, b.length());
        assertEquals(102, b.ids()[0][255]);
        assertEquals(3, Arrays.stream(b.attentionMask()[1]).sum());
        assertEquals(3, tok.encodeBatch(List.of("short"), null, 256).length());
    }

    @Test
    void pairsGetSegmentIds() {
        Tokenizer.Batch b = tok.encodeBatch(List.of("hello"), List.of("world"), 16);
        assertArrayEquals(new int[]{101, 7592, 102, 2088, 102}, b.ids()[0]);
        assertArrayEquals(new int[]{0, 0, 0, 1, 1}, b.typeIds()[0]);
        assertNotNull(b.attentionMask());
        assertTrue(Arrays.stream(b.attentionMask()[0]).allMatch(m -> m == 1));
    }

    /** A hand-written BPE tokenizer.json (decoder-style: no [PAD], an end-of-text token). */
    @Test
    void bpeVocabularyAndPadFallback(@TempDir Path other) throws IOException {
        Files.writeString(other.resolve(Tokenizer.FILE), """
                {"version": "1.0", "truncation": null, "padding": null,
                 "added_tokens": [{"id": 3, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                                   "rstrip": false, "normalized": false, "special": true}],
                 "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
                 "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                           "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                           "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}""");
        try (Tokenizer bpe = Tokenizer.load(other.resolve(Tokenizer.FILE))) {
            assertArrayEquals(new int[]{2, 2, 0}, bpe.encode("ababa", true));
            assertEquals(4, bpe.vocabSize());
            assertEquals(3, bpe.padId());
            assertEquals(3, bpe.tokenId("<|endoftext|>"));
            Tokenizer.Batch b = bpe.encodeBatch(List.of("ab", "ababab"), null, 8);
            assertArrayEquals(new int[]{2, 3, 3}, b.ids()[0]);
            assertArrayEquals(new int[]{1, 0, 0}, b.attentionMask()[0]);
        }
    }

    /** Unigram models list their vocabulary as [token, score] pairs; the id is the position. */
    @Test
    void unigramVocabulary(@TempDir Path other) throws IOException {
        Files.writeString(other.resolve(Tokenizer.FILE), """
                {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
                 "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
                 "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
                           "vocab": [["<unk>", 0.0], ["a", -2.0], ["b", -2.0], ["ab", -1.0], ["<pad>", 0.0]]}}""");
        try (Tokenizer uni = Tokenizer.load(other)) {
            assertArrayEquals(new int[]{3, 1}, uni.encode("aba", false));
            assertEquals(5, uni.vocabSize());
            assertEquals(4, uni.padId());
            assertEquals(2, uni.tokenId("b"));
        }
    }
}

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

    @Test
    void pairsGetSegmentIds() {
        Tokenizer.Batch b = tok.encodeBatch(List.of("hello"), List.of("world"), 16);
        assertArrayEquals(new int[]{101, 7592, 102, 2088, 102}, b.ids()[0]);
        assertArrayEquals(new int[]{0, 0, 0, 1, 1}, b.typeIds()[0]);
        assertNotNull(b.attentionMask());
        assertTrue(Arrays.stream(b.attentionMask()[0]).allMatch(m -> m == 1));
    }
}

package dev.xgblora.io;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A seeded mutation fuzzer for file readers: each input is a valid seed file with a few random
 * byte-level edits (flips, inserts, deletions, duplicated or swapped ranges, interesting numbers,
 * truncation). A reader passes when every input is either accepted or refused with one of the
 * project's own exceptions whose message names the file; anything else (another exception, an
 * Error such as OutOfMemoryError, or more than {@link #TIMEOUT_S} seconds) fails, and the input is
 * kept under target/fuzz-failures for replay. Deterministic: the same seed gives the same inputs.
 */
public final class Fuzz {
    static final int TIMEOUT_S = 20;
    private static final byte[][] INTERESTING = {"0".getBytes(), "-1".getBytes(), "4294967297".getBytes(),
            "99999999999999999999".getBytes(), "1e308".getBytes(), "null".getBytes(), "\"\"".getBytes(), "[]".getBytes(),
            "{}".getBytes(), "NaN".getBytes(), {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f}, {0, 0, 0, 0, 0, 0, 0, 0},
            {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 1},
            "\t".getBytes(), "\n".getBytes(), "\"".getBytes(), ",".getBytes(), {(byte) 0xc3}};

    /** What a reader does with one input file. */
    @FunctionalInterface
    public interface Reader {
        void read(Path file) throws Exception;
    }

    private Fuzz() {
    }

    /** One mutated copy of {@code seed}: 1 to 4 random edits. */
    public static byte[] mutate(byte[] seed, Random r) {
        byte[] b = seed;
        for (int edits = 1 + r.nextInt(4); edits > 0; edits--) {
            int n = b.length;
            int at = n == 0 ? 0 : r.nextInt(n);
            int len = n == 0 ? 0 : 1 + r.nextInt(Math.min(n - at, 1 + r.nextInt(16)));
            b = switch (r.nextInt(7)) {
                case 0 -> { // flip bits
                    byte[] c = b.clone();
                    if (n > 0) c[at] ^= (byte) (1 << r.nextInt(8));
                    yield c;
                }
                case 1 -> splice(b, at, 0, randomBytes(r, 1 + r.nextInt(8)));
                case 2 -> splice(b, at, len, new byte[0]);
                case 3 -> splice(b, at, 0, Arrays.copyOfRange(b, at, at + len)); // duplicate a range
                case 4 -> splice(b, at, len, INTERESTING[r.nextInt(INTERESTING.length)]);
                case 5 -> Arrays.copyOf(b, at); // truncate
                default -> { // a random byte anywhere
                    byte[] c = b.clone();
                    if (n > 0) c[at] = (byte) r.nextInt(256);
                    yield c;
                }
            };
        }
        return b;
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static byte[] splice(byte[] b, int at, int remove, byte[] insert) {
        byte[] out = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(b, at + remove, out, at + insert.length, b.length - at - remove);
        return out;
    }

    /**
     * Runs {@code reader} on {@code count} mutations of {@code seed} written to {@code dir/fileName};
     * {@code allowed}: the exception classes a refusal may throw (their message must name the file).
     */
    @SafeVarargs
    public static void run(String target, byte[] seed, int count, long rngSeed, Path dir, String fileName, Reader reader,
                           Class<? extends Exception>... allowed) throws Exception {
        Random r = new Random(rngSeed);
        Path file = dir.resolve(fileName);
        List<String> failures = new ArrayList<>();
        ExecutorService ex = Executors.newSingleThreadExecutor(t -> {
            Thread th = new Thread(t, "fuzz-" + target);
            th.setDaemon(true);
            return th;
        });
        try {
            // the seed itself must be accepted: otherwise every input is refused for the same reason
            Files.write(file, seed);
            Throwable seedFailure = attempt(ex, reader, file);
            if (seedFailure != null) throw new AssertionError(target + ": the unmutated seed is refused", seedFailure);
            for (int i = 0; i < count && failures.size() < 5; i++) {
                byte[] input = mutate(seed, r);
                Files.write(file, input);
                Throwable t = attempt(ex, reader, file);
                if (t == null || isClear(t, file, allowed)) continue;
                Path kept = Path.of("target", "fuzz-failures", target + "-" + i + "-" + fileName);
                Files.createDirectories(kept.getParent());
                Files.write(kept, input);
                if (t instanceof TimeoutException) {
                    failures.add("input " + i + " (" + kept + "): no answer within " + TIMEOUT_S + " s");
                    ex.shutdownNow();
                    break;
                }
                StringBuilder sb = new StringBuilder("input " + i + " (" + kept + "): " + t);
                for (StackTraceElement e : Arrays.copyOf(t.getStackTrace(), Math.min(6, t.getStackTrace().length))) {
                    sb.append("\n        at ").append(e);
                }
                failures.add(sb.toString());
            }
        } finally {
            ex.shutdownNow();
        }
        if (!failures.isEmpty()) fail(target + ": " + failures.size() + " input(s) not handled cleanly:\n  " + String.join("\n  ", failures));
    }

    /** null when the reader accepted the file, else what it threw (TimeoutException for a hang). */
    private static Throwable attempt(ExecutorService ex, Reader reader, Path file) throws InterruptedException {
        Future<?> f = ex.submit(() -> {
            reader.read(file);
            return null;
        });
        try {
            f.get(TIMEOUT_S, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (TimeoutException e) {
            f.cancel(true);
            return e;
        }
    }

    private static boolean isClear(Throwable t, Path file, Class<? extends Exception>[] allowed) {
        boolean ours = false;
        for (Class<? extends Exception> c : allowed) ours |= c.isInstance(t);
        return ours && t.getMessage() != null && t.getMessage().contains(file.getFileName().toString());
    }

    /** UTF-8 bytes of a string (seed files written inline). */
    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

}

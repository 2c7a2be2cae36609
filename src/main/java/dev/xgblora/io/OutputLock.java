package dev.xgblora.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * One run per output directory: an OS file lock on {@code DIR/.xgblora.lock}, which holds the
 * owner's pid. The operating system drops the lock when its process dies, however it dies, so a
 * lock file left by a killed run never blocks the next one. Re-entrant within a thread (the command
 * line takes it before writing its settings, the job again around training).
 */
public final class OutputLock implements AutoCloseable {
    public static final String FILE = ".xgblora.lock";
    private static final Map<Path, OutputLock> HELD = new HashMap<>();

    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;
    private final Thread owner = Thread.currentThread();
    private int holds;

    private OutputLock(Path dir, FileChannel channel, FileLock lock) {
        this.dir = dir;
        this.channel = channel;
        this.lock = lock;
    }

    /** Locks {@code dir} (created if needed) or refuses with the pid of the process that holds it. */
    public static OutputLock acquire(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        synchronized (HELD) {
            OutputLock held = HELD.get(abs);
            if (held != null) {
                if (held.owner != Thread.currentThread()) {
                    throw new IllegalStateException("output directory " + abs + " is in use by another run in this process (pid "
                            + ProcessHandle.current().pid() + ", thread " + held.owner.getName() + "); choose another output directory");
                }
                held.holds++;
                return held;
            }
            Path file = abs.resolve(FILE);
            FileChannel ch = null;
            try {
                Files.createDirectories(abs);
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) {
                    String owner = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).strip();
                    throw new IllegalStateException("output directory " + abs + " is in use by another xgblora run (pid "
                            + (owner.isEmpty() ? "unknown" : owner) + "); wait for it to end, stop it, or choose another output directory");
                }
                ch.truncate(0);
                ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
                ch.force(true);
                OutputLock lock = new OutputLock(abs, ch, l);
                lock.holds = 1;
                HELD.put(abs, lock);
                ch = null;
                return lock;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot lock " + file + ": " + e.getMessage(), e);
            } finally {
                if (ch != null) {
                    try {
                        ch.close();
                    } catch (IOException ignored) {
                        // the refusal or failure matters more
                    }
                }
            }
        }
    }

    /** Releases one hold; the last one unlocks (the file stays: deleting it would race with a waiting run). */
    @Override
    public void close() {
        synchronized (HELD) {
            if (--holds > 0) return;
            HELD.remove(dir);
            try {
                lock.release();
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot unlock " + dir.resolve(FILE) + ": " + e.getMessage(), e);
            }
        }
    }
}

package dev.xgblora.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Outputs are written under a temporary name in the target directory, made durable (every file
 * and directory fsynced), then renamed into place, and the parent directory fsynced so that the
 * rename itself survives a power loss. A reader sees the old version or the whole new one.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Something that fills a file, given its (temporary) path. */
    @FunctionalInterface
    public interface Body {
        void write(Path tmp) throws IOException;
    }

    /** Runs {@code body} on a fresh temporary file next to {@code target}, then renames it to target. */
    public static void write(Path target, Body body) {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            FaultInjection.beforeWrite(abs);
            body.write(tmp);
            readableByAll(tmp, false);
            force(tmp, false);
            FaultInjection.beforeRename(abs);
            move(tmp, abs);
            tmp = null;
            force(dir, true);
        } catch (IOException e) {
            throw new UncheckedIOException(failure(abs, e), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure matters more
                }
            }
        }
    }

    public static void writeString(Path target, String text) {
        write(target, tmp -> Files.writeString(tmp, text, StandardCharsets.UTF_8));
    }

    public static void writeBytes(Path target, byte[] bytes) {
        write(target, tmp -> Files.write(tmp, bytes));
    }

    /**
     * Fills a fresh temporary directory next to {@code target} and renames it to target; target
     * must not exist yet (an existing one is left untouched and the new one discarded).
     * Returns true when this call created target.
     */
    public static boolean writeDirectory(Path target, Body body) {
        Path abs = target.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            tmp = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".");
            FaultInjection.beforeWrite(abs);
            body.write(tmp);
            readableByAll(tmp, true);
            forceTree(tmp);
            FaultInjection.beforeRename(abs);
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                return false;
            }
            tmp = null;
            force(abs.getParent(), true);
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(failure(abs, e), e);
        } finally {
            if (tmp != null) deleteTree(tmp);
        }
    }

    /** The user's message: what could not be written, why, and (for a full disk) what to do. */
    private static String failure(Path target, IOException e) {
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        String hint = why.contains("No space left") || why.contains("Disk quota") ? " (the disk is full: free some space; "
                + "nothing was replaced)" : "";
        return "cannot write " + target + ": " + why + hint;
    }

    /** fsync of a file or a directory (directories: so that entries created or renamed in it are durable). */
    public static void force(Path p, boolean directory) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some platforms cannot open or sync a directory; the data files themselves were synced
            if (!directory) throw e;
        }
    }

    /** fsync of every file under {@code root}, then of every directory, deepest first. */
    private static void forceTree(Path root) throws IOException {
        List<Path> dirs = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) force(file, false);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) throw exc;
                dirs.add(dir);
                return FileVisitResult.CONTINUE;
            }
        });
        for (Path d : dirs) force(d, true);
    }

    /** Temporaries are created owner-only; the final output gets the usual rw-r--r-- / rwxr-xr-x. */
    private static void readableByAll(Path p, boolean directory) throws IOException {
        if (!p.getFileSystem().supportedFileAttributeViews().contains("posix")) return;
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(directory ? "rwxr-xr-x" : "rw-r--r--"));
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The names of the temporaries made here: {@code .NAME.DIGITS} (directories) and {@code .NAME.DIGITS.tmp} (files). */
    private static final java.util.regex.Pattern TEMPORARY = java.util.regex.Pattern.compile("\\..+\\.\\d+(\\.tmp)?");

    /** Deletes what writes into {@code dir} left behind when they were killed before their rename. */
    public static void deleteTemporaries(Path dir) {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                if (TEMPORARY.matcher(p.getFileName().toString()).matches()) deleteTree(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Deletes a directory tree, ignoring failures (cleanup of our own temporaries). */
    public static void deleteTree(Path root) {
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                    Files.deleteIfExists(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}

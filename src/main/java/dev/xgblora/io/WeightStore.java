package dev.xgblora.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Read-only model weights memory-mapped from safetensors files: a model directory
 * ({@code model.safetensors}, or shards listed in {@code model.safetensors.index.json}) or one
 * .safetensors file. Every file is mapped once into one shared arena and each tensor is a slice of
 * that mapping (zero copy). Closing the store unmaps everything: tensors must not be used after.
 */
public final class WeightStore implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path source;
    private final Arena arena;
    private final Map<String, Located> entries;
    private final Map<String, String> metadata;
    private final long mappedBytes;

    /** A header entry plus the mapping of the file it lives in. */
    private record Located(SafeTensorsHeader.Entry entry, Path file, MemorySegment mapping) {
    }

    private WeightStore(Path source, Arena arena, Map<String, Located> entries, Map<String, String> metadata, long mappedBytes) {
        this.source = source;
        this.arena = arena;
        this.entries = entries;
        this.metadata = metadata;
        this.mappedBytes = mappedBytes;
    }

    /** Opens a model directory or a single .safetensors file, validating every header. */
    public static WeightStore open(Path path) {
        Path source = path.toAbsolutePath().normalize();
        if (!Files.exists(source)) throw new IllegalArgumentException("no such model file or directory: " + source);
        Arena arena = Arena.ofShared();
        try {
            return Files.isDirectory(source) ? openDirectory(source, arena) : openFiles(source, List.of(source), arena, null);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static WeightStore openDirectory(Path dir, Arena arena) {
        Path index = dir.resolve(INDEX_FILE);
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(index)) {
            Map<String, String> weightMap = readIndex(index);
            List<Path> files = weightMap.values().stream().distinct().sorted().map(dir::resolve).toList();
            return openFiles(dir, files, arena, weightMap);
        }
        if (Files.isRegularFile(single)) return openFiles(dir, List.of(single), arena, null);
        List<Path> candidates;
        try (var s = Files.list(dir)) {
            candidates = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        if (candidates.size() == 1) return openFiles(dir, candidates, arena, null);
        throw new IllegalArgumentException(dir + ": no " + SINGLE_FILE + " or " + INDEX_FILE
                + (candidates.isEmpty() ? " (no .safetensors file at all)" : " and several .safetensors files: " + candidates));
    }

    /** The weight_map of a sharded checkpoint's index: tensor name → shard file name. */
    private static Map<String, String> readIndex(Path index) {
        JsonNode root = JsonFiles.read(index);
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) throw new IllegalArgumentException(index + ": missing object 'weight_map'");
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            String file = e.getValue().asText();
            if (!e.getValue().isTextual() || file.contains("/") || file.contains("\\") || file.startsWith(".")) {
                throw new IllegalArgumentException(index + ": tensor '" + e.getKey() + "' maps to bad file name " + e.getValue());
            }
            out.put(e.getKey(), file);
        }
        return out;
    }

    private static WeightStore openFiles(Path source, List<Path> files, Arena arena, Map<String, String> weightMap) {
        Map<String, Located> entries = new TreeMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        long mapped = 0;
        for (Path file : files) {
            MemorySegment whole = map(file, arena);
            mapped += whole.byteSize();
            SafeTensorsHeader header = SafeTensorsHeader.parse(file, whole);
            metadata.putAll(header.metadata());
            for (SafeTensorsHeader.Entry e : header.entries()) {
                Located previous = entries.put(e.name(), new Located(e, file, whole));
                if (previous != null) {
                    throw new IllegalArgumentException("tensor '" + e.name() + "' is in both " + previous.file() + " and " + file);
                }
            }
        }
        if (weightMap != null) {
            for (Map.Entry<String, String> w : weightMap.entrySet()) {
                Located at = entries.get(w.getKey());
                if (at == null || !at.file().getFileName().toString().equals(w.getValue())) {
                    throw new IllegalArgumentException(source.resolve(INDEX_FILE) + ": tensor '" + w.getKey()
                            + "' is listed in " + w.getValue() + " but " + (at == null ? "is in no shard" : "is in " + at.file()));
                }
            }
        }
        return new WeightStore(source, arena, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(metadata), mapped);
    }

    private static MemorySegment map(Path file, Arena arena) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) return MemorySegment.ofArray(new byte[0]); // rejected by the header check
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map " + file, e);
        }
    }

    /** The tensor called {@code name}, a zero-copy view of the mapped file. */
    public Tensor tensor(String name) {
        Located at = entries.get(name);
        if (at == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + source
                    + closeNames(name) + " (" + entries.size() + " tensors)");
        }
        SafeTensorsHeader.Entry e = at.entry();
        DType dtype = switch (e.dtype()) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> throw new IllegalArgumentException("tensor '" + name + "' in " + at.file() + " has dtype "
                    + e.dtype() + "; only F32, F16 and BF16 tensors can be loaded");
        };
        return Tensor.of(at.mapping().asSlice(e.begin(), e.bytes()), dtype, e.shape()).named(name);
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** All tensor names, sorted (including tensors of dtypes {@link #tensor} cannot load). */
    public Set<String> names() {
        return entries.keySet();
    }

    /** The safetensors dtype name of a tensor as stored ("F32", "BF16", "I64", ...). */
    public String dtypeName(String name) {
        return require(name).entry().dtype();
    }

    /** The stored shape of a tensor, whatever its dtype. */
    public long[] shape(String name) {
        return require(name).entry().shape().clone();
    }

    /** The file a tensor lives in. */
    public Path fileOf(String name) {
        return require(name).file();
    }

    private Located require(String name) {
        Located at = entries.get(name);
        if (at == null) throw new IllegalArgumentException("no tensor '" + name + "' in " + source + closeNames(name));
        return at;
    }

    /** Total bytes of all mapped files. */
    public long mappedBytes() {
        return mappedBytes;
    }

    /** The union of the files' __metadata__ maps. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The directory or file this store was opened from (absolute). */
    public Path source() {
        return source;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    /** " (close names: a, b, c)" for an error message: the three names nearest by edit distance. */
    private String closeNames(String name) {
        if (entries.isEmpty()) return "";
        List<String> all = new ArrayList<>(entries.keySet());
        all.sort(Comparator.comparingInt((String s) -> distance(name, s)).thenComparing(s -> s));
        return " (close names: " + String.join(", ", all.subList(0, Math.min(3, all.size()))) + ")";
    }

    /** Levenshtein distance, bounded work for long names. */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }
}

package dev.xgblora.device.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the committed PTX (native/ptx) without a GPU: parses the subset of PTX our kernels use and
 * executes a launch over a grid of blocks, thread by thread. The threads of a block run as
 * cooperative threads: each runs until it reaches {@code bar.sync} or exits, and the block goes on
 * past the barrier when every thread has arrived, so shared-memory tiling is exercised as on a GPU.
 * Registers are untyped 64-bit slots (32-bit values in the low half, f32 as its bits); global memory
 * is a {@link GlobalMemory} that rejects any access outside an allocation; shared memory starts as
 * NaN bytes so a read of a tile element nobody wrote shows up in the results.
 *
 * <p>An instruction, modifier or operand outside the subset fails with the file, line and text, so a
 * kernel edit that needs more of PTX says what to add here. ex2/lg2.approx are computed exactly (the
 * GPU's are within 2 ulp), so the tolerances of the tests cover both.
 */
public final class PtxInterpreter {
    /** Device memory as the kernels address it. */
    public interface GlobalMemory {
        /** The segment holding every allocation. */
        MemorySegment segment();

        /** The segment offset of {@code bytes} at device address {@code address}; throws when outside an allocation. */
        long offset(long address, int bytes);
    }

    /** A parse or execution error naming the PTX file and line. */
    public static final class PtxException extends RuntimeException {
        PtxException(String message) {
            super(message);
        }
    }

    /** A kernel parameter: name, byte size and offset in the parameter block. */
    public record Param(String name, int size, int offset) {
    }

    /** One {@code .entry} of a module. */
    public static final class Kernel {
        final String name, file;
        final List<Param> params = new ArrayList<>();
        final Map<String, Integer> registers = new HashMap<>();
        final Map<String, Long> shared = new HashMap<>();
        final Map<String, Integer> labels = new HashMap<>();
        final List<Insn> code = new ArrayList<>();
        int paramBytes, sharedBytes;

        Kernel(String name, String file) {
            this.name = name;
            this.file = file;
        }

        public List<Param> params() {
            return params;
        }

        public int paramBytes() {
            return paramBytes;
        }
    }

    private final String file;
    private final Map<String, Kernel> kernels = new LinkedHashMap<>();

    private PtxInterpreter(String file) {
        this.file = file;
    }

    /** Parses a module's text; {@code file} names it in errors. */
    public static PtxInterpreter parse(String text, String file) {
        PtxInterpreter m = new PtxInterpreter(file);
        m.parseModule(stripComments(text));
        return m;
    }

    public Kernel kernel(String name) {
        Kernel k = kernels.get(name);
        if (k == null) throw new PtxException(file + ": no .entry " + name + " (has " + kernels.keySet() + ")");
        return k;
    }

    public java.util.Set<String> kernelNames() {
        return kernels.keySet();
    }

    // ---- Parsing --------------------------------------------------------------------------------

    /** Comments become spaces (newlines kept) so character offsets still give line numbers. */
    private static String stripComments(String s) {
        StringBuilder b = new StringBuilder(s);
        for (int i = 0; i < b.length() - 1; i++) {
            if (b.charAt(i) == '/' && b.charAt(i + 1) == '/') {
                while (i < b.length() && b.charAt(i) != '\n') b.setCharAt(i++, ' ');
            } else if (b.charAt(i) == '/' && b.charAt(i + 1) == '*') {
                while (i < b.length() - 1 && !(b.charAt(i) == '*' && b.charAt(i + 1) == '/')) {
                    if (b.charAt(i) != '\n') b.setCharAt(i, ' ');
                    i++;
                }
                if (i < b.length() - 1) {
                    b.setCharAt(i, ' ');
                    b.setCharAt(i + 1, ' ');
                }
            }
        }
        return b.toString();
    }

    private String text;

    private int lineOf(int offset) {
        int line = 1;
        for (int i = 0; i < offset && i < text.length(); i++) if (text.charAt(i) == '\n') line++;
        return line;
    }

    private PtxException error(int offset, String what) {
        return new PtxException(file + ":" + lineOf(offset) + ": " + what);
    }

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z_$][\\w$]*)\\s*\\(");
    private static final Pattern PARAM = Pattern.compile("\\s*\\.param\\s+\\.(\\w+)\\s+([A-Za-z_$][\\w$]*)\\s*");
    private static final Pattern REG = Pattern.compile("\\.reg\\s+\\.(\\w+)\\s+(%[A-Za-z_$][\\w$]*)(?:<(\\d+)>)?");
    private static final Pattern SHARED = Pattern.compile("\\.shared\\s+(?:\\.align\\s+(\\d+)\\s+)?\\.(\\w+)\\s+([A-Za-z_$][\\w$]*)\\[(\\d+)]");
    private static final Pattern LABEL = Pattern.compile("^([A-Za-z_$][\\w$]*)\\s*:");

    private void parseModule(String t) {
        this.text = t;
        Matcher e = ENTRY.matcher(t);
        int from = 0;
        while (e.find(from)) {
            Kernel k = new Kernel(e.group(1), file);
            int close = t.indexOf(')', e.end());
            for (String p : t.substring(e.end(), close).split(",")) {
                if (p.isBlank()) continue;
                Matcher pm = PARAM.matcher(p);
                if (!pm.matches()) throw error(e.end(), "kernel " + k.name + ": parameter '" + p.trim() + "' is not '.param .TYPE name'");
                int size = typeBits(pm.group(1), e.end()) / 8;
                k.paramBytes = (k.paramBytes + size - 1) / size * size;
                k.params.add(new Param(pm.group(2), size, k.paramBytes));
                k.paramBytes += size;
            }
            int open = t.indexOf('{', close), end = matchingBrace(t, open);
            parseBody(k, open + 1, end);
            kernels.put(k.name, k);
            from = end;
        }
        if (kernels.isEmpty()) throw new PtxException(file + ": no .entry found");
    }

    private static int matchingBrace(String t, int open) {
        int depth = 0;
        for (int i = open; i < t.length(); i++) {
            if (t.charAt(i) == '{') depth++;
            else if (t.charAt(i) == '}' && --depth == 0) return i;
        }
        throw new PtxException("unbalanced braces");
    }

    private record Pending(String statement, int offset) {
    }

    private void parseBody(Kernel k, int start, int end) {
        List<Pending> statements = new ArrayList<>();
        int s = start;
        for (int i = start; i <= end; i++) {
            if (i == end || text.charAt(i) == ';') {
                int o = s;
                while (o < i && Character.isWhitespace(text.charAt(o))) o++;
                String st = text.substring(o, i).trim();
                // labels prefix the next statement
                Matcher lm = LABEL.matcher(st);
                while (lm.find()) {
                    k.labels.put(lm.group(1), statements.size() - countDirectives(statements));
                    st = st.substring(lm.end()).trim();
                    o = st.isEmpty() ? o : text.indexOf(st, o); // st is a piece of the text as it stands
                    lm = LABEL.matcher(st);
                }
                if (!st.isEmpty()) statements.add(new Pending(st, o));
                s = i + 1;
            }
        }
        for (Pending p : statements) {
            if (p.statement.startsWith(".reg")) declareRegisters(k, p);
            else if (p.statement.startsWith(".shared")) declareShared(k, p);
        }
        for (Pending p : statements) {
            if (!p.statement.startsWith(".")) k.code.add(compile(k, p));
        }
        for (Pending p : statements) {
            if (!p.statement.startsWith(".")) continue;
            if (!p.statement.startsWith(".reg") && !p.statement.startsWith(".shared")) {
                throw error(p.offset, "unsupported directive '" + p.statement + "'");
            }
        }
    }

    private static int countDirectives(List<Pending> statements) {
        int n = 0;
        for (Pending p : statements) if (p.statement.startsWith(".")) n++;
        return n;
    }

    private void declareRegisters(Kernel k, Pending p) {
        Matcher m = REG.matcher(p.statement);
        if (!m.matches()) throw error(p.offset, "unsupported register declaration '" + p.statement + "'");
        if (m.group(3) == null) {
            k.registers.putIfAbsent(m.group(2), k.registers.size());
        } else {
            for (int i = 0; i < Integer.parseInt(m.group(3)); i++) k.registers.putIfAbsent(m.group(2) + i, k.registers.size());
        }
    }

    private void declareShared(Kernel k, Pending p) {
        Matcher m = SHARED.matcher(p.statement);
        if (!m.matches()) throw error(p.offset, "unsupported shared declaration '" + p.statement + "'");
        int align = m.group(1) == null ? 4 : Integer.parseInt(m.group(1));
        int bytes = typeBits(m.group(2), p.offset) / 8 * Integer.parseInt(m.group(4));
        k.sharedBytes = (k.sharedBytes + align - 1) / align * align;
        k.shared.put(m.group(3), (long) k.sharedBytes);
        k.sharedBytes += bytes;
    }

    private int typeBits(String type, int offset) {
        return switch (type) {
            case "pred" -> 1;
            case "b8", "u8", "s8" -> 8;
            case "b16", "u16", "s16", "f16", "bf16" -> 16;
            case "b32", "u32", "s32", "f32" -> 32;
            case "b64", "u64", "s64", "f64" -> 64;
            default -> throw error(offset, "unsupported type ." + type);
        };
    }

    // ---- Operands -------------------------------------------------------------------------------

    /** A value source of one thread. */
    interface Src {
        long get(Thread t);
    }

    private record Addr(Src base, long displacement) {
    }

    private static final Pattern SPECIAL = Pattern.compile("%(tid|ntid|ctaid|nctaid)\\.([xyz])");

    private Src src(Kernel k, String op, int offset) {
        op = op.trim();
        Matcher sp = SPECIAL.matcher(op);
        if (sp.matches()) {
            int axis = sp.group(2).charAt(0) - 'x';
            return switch (sp.group(1)) {
                case "tid" -> t -> t.tid[axis];
                case "ntid" -> t -> t.launch.block[axis];
                case "ctaid" -> t -> t.launch.ctaid[axis];
                default -> t -> t.launch.grid[axis];
            };
        }
        if (op.startsWith("%")) {
            int r = reg(k, op, offset);
            return t -> t.r[r];
        }
        if (op.matches("0[fF][0-9a-fA-F]{8}")) {
            long bits = Long.parseLong(op.substring(2), 16);
            return t -> bits;
        }
        if (op.matches("-?\\d+")) {
            long v = Long.parseLong(op);
            return t -> v;
        }
        if (op.matches("0[xX][0-9a-fA-F]+")) {
            long v = Long.parseUnsignedLong(op.substring(2), 16);
            return t -> v;
        }
        Long shared = k.shared.get(op);
        if (shared != null) {
            long v = shared;
            return t -> v;
        }
        throw error(offset, "unsupported operand '" + op + "'");
    }

    private int reg(Kernel k, String name, int offset) {
        Integer r = k.registers.get(name.trim());
        if (r == null) throw error(offset, "register " + name.trim() + " is not declared");
        return r;
    }

    private Addr addr(Kernel k, String op, int offset, boolean param) {
        op = op.trim();
        if (!op.startsWith("[") || !op.endsWith("]")) throw error(offset, "expected an address [..], got '" + op + "'");
        String inner = op.substring(1, op.length() - 1).trim();
        long disp = 0;
        Matcher plus = Pattern.compile("(.+?)\\s*\\+\\s*(-?\\d+)").matcher(inner);
        if (plus.matches()) {
            inner = plus.group(1).trim();
            disp = Long.parseLong(plus.group(2));
        }
        if (param) {
            for (Param p : k.params) {
                if (p.name.equals(inner)) {
                    long o = p.offset;
                    return new Addr(t -> o, disp);
                }
            }
            throw error(offset, "no parameter " + inner + " in kernel " + k.name);
        }
        return new Addr(src(k, inner, offset), disp);
    }

    // ---- Instructions ---------------------------------------------------------------------------

    /** What an instruction does: returns the next pc, or {@link #BARRIER} / {@link #EXIT}. */
    interface Exec {
        int run(Thread t, int pc);
    }

    static final int BARRIER = -2, EXIT = -1;

    record Insn(Exec exec, int guard, boolean negated, int line, String text) {
    }

    private static final Pattern GUARD = Pattern.compile("^@(!?)(%\\w+)\\s+(.*)$", Pattern.DOTALL);

    private Insn compile(Kernel k, Pending p) {
        String st = p.statement.replaceAll("\\s+", " ");
        int guard = -1;
        boolean negated = false;
        Matcher g = GUARD.matcher(st);
        if (g.matches()) {
            negated = !g.group(1).isEmpty();
            guard = reg(k, g.group(2), p.offset);
            st = g.group(3).trim();
        }
        int sp = st.indexOf(' ');
        String opcode = sp < 0 ? st : st.substring(0, sp);
        String[] ops = sp < 0 ? new String[0] : st.substring(sp + 1).split(",");
        for (int i = 0; i < ops.length; i++) ops[i] = ops[i].trim();
        Exec exec = instruction(k, opcode, ops, p.offset, st);
        return new Insn(exec, guard, negated, lineOf(p.offset), st);
    }

    private PtxException unsupported(int offset, String st) {
        return error(offset, "unsupported instruction '" + st + "' (the test PTX interpreter, PtxInterpreter, has no such"
                + " instruction/modifier yet)");
    }

    private void arity(String[] ops, int n, int offset, String st) {
        if (ops.length != n) throw error(offset, "'" + st + "' needs " + n + " operands");
    }

    private Exec instruction(Kernel k, String opcode, String[] ops, int off, String st) {
        String[] parts = opcode.split("\\.");
        String base = parts[0];
        List<String> mods = new ArrayList<>(List.of(parts).subList(1, parts.length));
        switch (base) {
            case "ret", "exit" -> {
                return (t, pc) -> EXIT;
            }
            case "bar", "barrier" -> {
                if (!mods.equals(List.of("sync")) || ops.length != 1 || !ops[0].equals("0")) throw unsupported(off, st);
                return (t, pc) -> BARRIER;
            }
            case "bra" -> {
                mods.remove("uni");
                if (!mods.isEmpty()) throw unsupported(off, st);
                arity(ops, 1, off, st);
                Integer target = k.labels.get(ops[0]);
                if (target == null) throw error(off, "no label " + ops[0]);
                int to = target;
                return (t, pc) -> to;
            }
            default -> {
            }
        }
        String type = mods.isEmpty() ? "" : mods.getLast();
        switch (base) {
            case "ld", "st" -> {
                if (mods.size() != 2) throw unsupported(off, st);
                String space = mods.get(0);
                int bytes = typeBits(type, off) / 8;
                boolean signed = type.startsWith("s");
                arity(ops, 2, off, st);
                if (base.equals("ld")) {
                    int d = reg(k, ops[0], off);
                    Addr a = addr(k, ops[1], off, space.equals("param"));
                    Mem mem = memory(space, off, st);
                    return (t, pc) -> {
                        t.r[d] = mem.load(t, a.base.get(t) + a.displacement, bytes, signed);
                        return pc + 1;
                    };
                }
                Addr a = addr(k, ops[0], off, false);
                Src v = src(k, ops[1], off);
                Mem mem = memory(space, off, st);
                if (space.equals("param")) throw unsupported(off, st);
                return (t, pc) -> {
                    mem.store(t, a.base.get(t) + a.displacement, bytes, v.get(t));
                    return pc + 1;
                };
            }
            case "cvta" -> {
                if (!mods.equals(List.of("to", "global", "u64"))) throw unsupported(off, st);
                return unary(k, ops, off, st, v -> v);
            }
            case "mov" -> {
                if (mods.size() != 1) throw unsupported(off, st);
                long mask = maskOf(typeBits(type, off));
                return unary(k, ops, off, st, v -> v & mask);
            }
            case "setp" -> {
                if (mods.size() != 2) throw unsupported(off, st);
                arity(ops, 3, off, st);
                int d = reg(k, ops[0], off);
                Src a = src(k, ops[1], off), b = src(k, ops[2], off);
                Compare c = compare(mods.get(0), type, off, st);
                return (t, pc) -> {
                    t.r[d] = c.test(a.get(t), b.get(t)) ? 1 : 0;
                    return pc + 1;
                };
            }
            case "selp" -> {
                if (mods.size() != 1) throw unsupported(off, st);
                arity(ops, 4, off, st);
                int d = reg(k, ops[0], off);
                Src a = src(k, ops[1], off), b = src(k, ops[2], off), c = src(k, ops[3], off);
                return (t, pc) -> {
                    t.r[d] = c.get(t) != 0 ? a.get(t) : b.get(t);
                    return pc + 1;
                };
            }
            case "cvt" -> {
                return convert(k, mods, ops, off, st);
            }
            case "and", "or", "xor" -> {
                if (mods.size() != 1 || !(type.startsWith("b") || type.equals("pred"))) throw unsupported(off, st);
                return switch (base) {
                    case "and" -> binary(k, ops, off, st, (a, b) -> a & b);
                    case "or" -> binary(k, ops, off, st, (a, b) -> a | b);
                    default -> binary(k, ops, off, st, (a, b) -> a ^ b);
                };
            }
            case "not" -> {
                if (mods.size() != 1) throw unsupported(off, st);
                long mask = type.equals("pred") ? 1 : maskOf(typeBits(type, off));
                return unary(k, ops, off, st, v -> ~v & mask);
            }
            case "shl", "shr" -> {
                if (mods.size() != 1) throw unsupported(off, st);
                int bits = typeBits(type, off);
                long mask = maskOf(bits);
                boolean arith = type.startsWith("s");
                if (base.equals("shl")) return binary(k, ops, off, st, (a, b) -> b >= bits ? 0 : (a << b) & mask);
                return binary(k, ops, off, st, (a, b) -> {
                    long x = arith ? signExtend(a, bits) : a & mask;
                    return (arith ? x >> Math.min(b, bits - 1) : (b >= bits ? 0 : x >>> b)) & mask;
                });
            }
            default -> {
            }
        }
        return arithmetic(k, base, mods, type, ops, off, st);
    }

    private Exec arithmetic(Kernel k, String base, List<String> mods, String type, String[] ops, int off, String st) {
        List<String> m = new ArrayList<>(mods);
        m.removeLast();
        if (type.equals("f32")) {
            m.remove("ftz");
            boolean approx = m.remove("approx");
            boolean rn = m.remove("rn");
            m.remove("full");
            if (!m.isEmpty()) throw unsupported(off, st);
            return switch (base) {
                case "add" -> f2(k, ops, off, st, (a, b) -> a + b);
                case "sub" -> f2(k, ops, off, st, (a, b) -> a - b);
                case "mul" -> f2(k, ops, off, st, (a, b) -> a * b);
                case "div" -> f2(k, ops, off, st, (a, b) -> a / b);
                case "min" -> f2(k, ops, off, st, Math::min);
                case "max" -> f2(k, ops, off, st, Math::max);
                case "neg" -> f1(k, ops, off, st, a -> -a);
                case "abs" -> f1(k, ops, off, st, Math::abs);
                case "rcp" -> f1(k, ops, off, st, a -> 1f / a);
                case "sqrt" -> f1(k, ops, off, st, a -> (float) Math.sqrt(a));
                case "rsqrt" -> f1(k, ops, off, st, a -> (float) (1 / Math.sqrt(a)));
                case "ex2" -> {
                    if (!approx) throw unsupported(off, st);
                    yield f1(k, ops, off, st, a -> (float) Math.pow(2, a));
                }
                case "lg2" -> {
                    if (!approx) throw unsupported(off, st);
                    yield f1(k, ops, off, st, a -> (float) (Math.log(a) / Math.log(2)));
                }
                case "fma", "mad" -> {
                    if (!rn) throw unsupported(off, st);
                    arity(ops, 4, off, st);
                    int d = reg(k, ops[0], off);
                    Src a = src(k, ops[1], off), b = src(k, ops[2], off), c = src(k, ops[3], off);
                    yield (t, pc) -> {
                        t.r[d] = bits(Math.fma(f(a.get(t)), f(b.get(t)), f(c.get(t))));
                        return pc + 1;
                    };
                }
                default -> throw unsupported(off, st);
            };
        }
        if (!type.matches("[su](32|64)")) throw unsupported(off, st);
        int bits = typeBits(type, off);
        boolean signed = type.startsWith("s");
        long mask = maskOf(bits);
        boolean lo = m.remove("lo"), wide = m.remove("wide");
        if (!m.isEmpty() || (wide && bits != 32)) throw unsupported(off, st);
        // values as Java longs: sign- or zero-extended from the type's width
        java.util.function.LongUnaryOperator ext = signed ? v -> signExtend(v, bits) : v -> v & mask;
        long outMask = wide ? -1L : mask;
        switch (base) {
            case "add" -> {
                return binary(k, ops, off, st, (a, b) -> (a + b) & mask);
            }
            case "sub" -> {
                return binary(k, ops, off, st, (a, b) -> (a - b) & mask);
            }
            case "mul" -> {
                if (!lo && !wide) throw unsupported(off, st);
                return binary(k, ops, off, st, (a, b) -> (ext.applyAsLong(a) * ext.applyAsLong(b)) & outMask);
            }
            case "mad" -> {
                if (!lo && !wide) throw unsupported(off, st);
                arity(ops, 4, off, st);
                int d = reg(k, ops[0], off);
                Src a = src(k, ops[1], off), b = src(k, ops[2], off), c = src(k, ops[3], off);
                return (t, pc) -> {
                    t.r[d] = (ext.applyAsLong(a.get(t)) * ext.applyAsLong(b.get(t)) + c.get(t)) & outMask;
                    return pc + 1;
                };
            }
            case "div", "rem" -> {
                boolean div = base.equals("div");
                return binary(k, ops, off, st, (a, b) -> {
                    long x = ext.applyAsLong(a), y = ext.applyAsLong(b);
                    if (y == 0) throw new ArithmeticException("integer division by zero");
                    long r = signed ? (div ? x / y : x % y) : (div ? Long.divideUnsigned(x, y) : Long.remainderUnsigned(x, y));
                    return r & mask;
                });
            }
            case "min", "max" -> {
                boolean min = base.equals("min");
                return binary(k, ops, off, st, (a, b) -> {
                    long x = ext.applyAsLong(a), y = ext.applyAsLong(b);
                    int c = signed ? Long.compare(x, y) : Long.compareUnsigned(x, y);
                    return ((min ? c <= 0 : c >= 0) ? x : y) & mask;
                });
            }
            case "neg" -> {
                return unary(k, ops, off, st, a -> -a & mask);
            }
            case "abs" -> {
                return unary(k, ops, off, st, a -> Math.abs(ext.applyAsLong(a)) & mask);
            }
            default -> throw unsupported(off, st);
        }
    }

    private Exec convert(Kernel k, List<String> mods, String[] ops, int off, String st) {
        arity(ops, 2, off, st);
        List<String> m = new ArrayList<>(mods);
        m.remove("rn");
        m.remove("rzi");
        m.remove("ftz");
        if (m.size() != 2) throw unsupported(off, st);
        String to = m.get(0), from = m.get(1);
        int fromBits = typeBits(from, off), toBits = typeBits(to, off);
        long toMask = maskOf(toBits);
        java.util.function.LongUnaryOperator f;
        if (from.equals("f16") && to.equals("f32")) {
            f = v -> bits(Float.float16ToFloat((short) v));
        } else if (to.equals("f32") && from.matches("[su]32")) {
            boolean s = from.startsWith("s");
            f = v -> bits(s ? (float) (int) v : (float) (v & 0xFFFFFFFFL));
        } else if (to.equals("s32") && from.equals("f32") && mods.contains("rzi")) {
            f = v -> (long) (int) f(v) & toMask;
        } else if (from.matches("[sub]\\d+") && to.matches("[sub]\\d+")) {
            boolean s = from.startsWith("s");
            f = v -> (s ? signExtend(v, fromBits) : v & maskOf(fromBits)) & toMask;
        } else {
            throw unsupported(off, st);
        }
        return unary(k, ops, off, st, f);
    }

    private interface Compare {
        boolean test(long a, long b);
    }

    private Compare compare(String cmp, String type, int off, String st) {
        if (type.equals("f32")) {
            return switch (cmp) {
                case "eq" -> (a, b) -> f(a) == f(b);
                case "ne" -> (a, b) -> f(a) != f(b) && !Float.isNaN(f(a)) && !Float.isNaN(f(b));
                case "lt" -> (a, b) -> f(a) < f(b);
                case "le" -> (a, b) -> f(a) <= f(b);
                case "gt" -> (a, b) -> f(a) > f(b);
                case "ge" -> (a, b) -> f(a) >= f(b);
                default -> throw unsupported(off, st);
            };
        }
        if (!type.matches("[sub](32|64)")) throw unsupported(off, st);
        int bits = typeBits(type, off);
        boolean signed = type.startsWith("s");
        long mask = maskOf(bits);
        java.util.function.LongBinaryOperator c = signed
                ? (a, b) -> Long.compare(signExtend(a, bits), signExtend(b, bits))
                : (a, b) -> Long.compareUnsigned(a & mask, b & mask);
        return switch (cmp) {
            case "eq" -> (a, b) -> c.applyAsLong(a, b) == 0;
            case "ne" -> (a, b) -> c.applyAsLong(a, b) != 0;
            case "lt" -> (a, b) -> c.applyAsLong(a, b) < 0;
            case "le" -> (a, b) -> c.applyAsLong(a, b) <= 0;
            case "gt" -> (a, b) -> c.applyAsLong(a, b) > 0;
            case "ge" -> (a, b) -> c.applyAsLong(a, b) >= 0;
            default -> throw unsupported(off, st);
        };
    }

    private Exec unary(Kernel k, String[] ops, int off, String st, java.util.function.LongUnaryOperator f) {
        arity(ops, 2, off, st);
        int d = reg(k, ops[0], off);
        Src a = src(k, ops[1], off);
        return (t, pc) -> {
            t.r[d] = f.applyAsLong(a.get(t));
            return pc + 1;
        };
    }

    private Exec binary(Kernel k, String[] ops, int off, String st, java.util.function.LongBinaryOperator f) {
        arity(ops, 3, off, st);
        int d = reg(k, ops[0], off);
        Src a = src(k, ops[1], off), b = src(k, ops[2], off);
        return (t, pc) -> {
            t.r[d] = f.applyAsLong(a.get(t), b.get(t));
            return pc + 1;
        };
    }

    private interface F1 {
        float apply(float a);
    }

    private interface F2 {
        float apply(float a, float b);
    }

    private Exec f1(Kernel k, String[] ops, int off, String st, F1 f) {
        return unary(k, ops, off, st, v -> bits(f.apply(f(v))));
    }

    private Exec f2(Kernel k, String[] ops, int off, String st, F2 f) {
        return binary(k, ops, off, st, (a, b) -> bits(f.apply(f(a), f(b))));
    }

    private static float f(long v) {
        return Float.intBitsToFloat((int) v);
    }

    private static long bits(float v) {
        return Float.floatToRawIntBits(v) & 0xFFFFFFFFL;
    }

    private static long maskOf(int bits) {
        return bits >= 64 ? -1L : (1L << bits) - 1;
    }

    private static long signExtend(long v, int bits) {
        return bits >= 64 ? v : (v << (64 - bits)) >> (64 - bits);
    }

    // ---- Memory ---------------------------------------------------------------------------------

    private interface Mem {
        long load(Thread t, long address, int bytes, boolean signed);

        void store(Thread t, long address, int bytes, long value);
    }

    private Mem memory(String space, int off, String st) {
        return switch (space) {
            case "global" -> new Mem() {
                public long load(Thread t, long address, int bytes, boolean signed) {
                    GlobalMemory g = t.launch.global;
                    return read(g.segment(), g.offset(address, bytes), bytes, signed);
                }

                public void store(Thread t, long address, int bytes, long value) {
                    GlobalMemory g = t.launch.global;
                    write(g.segment(), g.offset(address, bytes), bytes, value);
                }
            };
            case "shared" -> new Mem() {
                public long load(Thread t, long address, int bytes, boolean signed) {
                    return read(t.launch.shared, sharedOffset(t, address, bytes), bytes, signed);
                }

                public void store(Thread t, long address, int bytes, long value) {
                    write(t.launch.shared, sharedOffset(t, address, bytes), bytes, value);
                }
            };
            case "param" -> new Mem() {
                public long load(Thread t, long address, int bytes, boolean signed) {
                    return read(t.launch.params, address, bytes, signed);
                }

                public void store(Thread t, long address, int bytes, long value) {
                    throw new IllegalStateException("st.param");
                }
            };
            default -> throw unsupported(off, st);
        };
    }

    private static long sharedOffset(Thread t, long address, int bytes) {
        if (address < 0 || address + bytes > t.launch.kernel.sharedBytes) {
            throw new IndexOutOfBoundsException("shared access of " + bytes + " bytes at " + address + " is outside the "
                    + t.launch.kernel.sharedBytes + " bytes of .shared");
        }
        return address;
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private static long read(MemorySegment s, long o, int bytes, boolean signed) {
        return switch (bytes) {
            case 1 -> signed ? s.get(ValueLayout.JAVA_BYTE, o) : s.get(ValueLayout.JAVA_BYTE, o) & 0xFFL;
            case 2 -> signed ? s.get(U16, o) : s.get(U16, o) & 0xFFFFL;
            case 4 -> signed ? s.get(U32, o) : s.get(U32, o) & 0xFFFFFFFFL;
            default -> s.get(U64, o);
        };
    }

    private static void write(MemorySegment s, long o, int bytes, long v) {
        switch (bytes) {
            case 1 -> s.set(ValueLayout.JAVA_BYTE, o, (byte) v);
            case 2 -> s.set(U16, o, (short) v);
            case 4 -> s.set(U32, o, (int) v);
            default -> s.set(U64, o, v);
        }
    }

    // ---- Execution ------------------------------------------------------------------------------

    private static final class Launch {
        final Kernel kernel;
        final int[] grid, block, ctaid = new int[3];
        final MemorySegment params;
        final GlobalMemory global;
        MemorySegment shared;

        Launch(Kernel kernel, int[] grid, int[] block, MemorySegment params, GlobalMemory global) {
            this.kernel = kernel;
            this.grid = grid;
            this.block = block;
            this.params = params;
            this.global = global;
        }
    }

    /** One thread's state: registers, position in the block, program counter. */
    static final class Thread {
        final long[] r;
        final int[] tid;
        final Launch launch;
        int pc;
        boolean exited;

        Thread(Launch launch, int registers, int x, int y, int z) {
            this.launch = launch;
            this.r = new long[registers];
            this.tid = new int[]{x, y, z};
        }
    }

    /** Instructions executed by this interpreter's launches (for the tests' sizes). */
    private long executed;

    public long executed() {
        return executed;
    }

    /**
     * Runs {@code kernel} over grid × block with the parameter block {@code params} (laid out as
     * {@link Kernel#params()} says) on {@code global}.
     */
    public void launch(Kernel kernel, int[] grid, int[] block, MemorySegment params, GlobalMemory global) {
        int threads = block[0] * block[1] * block[2];
        if (threads < 1 || threads > 1024) throw new PtxException(kernel.name + ": a block of " + threads + " threads (1..1024)");
        Launch l = new Launch(kernel, grid, block, params, global);
        Insn[] code = kernel.code.toArray(Insn[]::new);
        for (int bz = 0; bz < grid[2]; bz++) {
            for (int by = 0; by < grid[1]; by++) {
                for (int bx = 0; bx < grid[0]; bx++) {
                    l.ctaid[0] = bx;
                    l.ctaid[1] = by;
                    l.ctaid[2] = bz;
                    runBlock(l, code, threads);
                }
            }
        }
    }

    private void runBlock(Launch l, Insn[] code, int threads) {
        l.shared = MemorySegment.ofArray(new byte[Math.max(1, l.kernel.sharedBytes)]).fill((byte) 0xFF); // NaN floats
        Thread[] ts = new Thread[threads];
        int n = 0;
        for (int z = 0; z < l.block[2]; z++) {
            for (int y = 0; y < l.block[1]; y++) {
                for (int x = 0; x < l.block[0]; x++) ts[n++] = new Thread(l, l.kernel.registers.size(), x, y, z);
            }
        }
        int running = threads;
        while (running > 0) {
            int atBarrier = 0;
            for (Thread t : ts) {
                if (t.exited) continue;
                if (run(t, code)) atBarrier++;
                else running--;
            }
            if (atBarrier > 0 && atBarrier != running) {
                throw new PtxException(l.kernel.file + ": kernel " + l.kernel.name + " block " + java.util.Arrays.toString(l.ctaid)
                        + ": " + atBarrier + " threads wait at bar.sync while " + (threads - atBarrier) + " have exited (a barrier"
                        + " inside divergent code hangs or corrupts a real GPU)");
            }
        }
    }

    /** Runs t until a barrier (true) or its exit (false). */
    private boolean run(Thread t, Insn[] code) {
        int pc = t.pc;
        long count = 0;
        try {
            while (true) {
                if (pc < 0 || pc >= code.length) throw new PtxException("ran off the end of the kernel");
                Insn in = code[pc];
                count++;
                if (in.guard >= 0 && (t.r[in.guard] != 0) == in.negated) {
                    pc++;
                    continue;
                }
                int next = in.exec.run(t, pc);
                if (next == BARRIER) {
                    t.pc = pc + 1;
                    return true;
                }
                if (next == EXIT) {
                    t.exited = true;
                    return false;
                }
                pc = next;
            }
        } catch (PtxException e) {
            throw e;
        } catch (RuntimeException e) {
            Insn in = pc >= 0 && pc < code.length ? code[pc] : null;
            throw new PtxException(t.launch.kernel.file + ":" + (in == null ? "?" : in.line) + ": '" + (in == null ? "" : in.text)
                    + "' in kernel " + t.launch.kernel.name + ", block " + java.util.Arrays.toString(t.launch.ctaid) + ", thread "
                    + java.util.Arrays.toString(t.tid) + ": " + e.getMessage());
        } finally {
            executed += count;
        }
    }
}

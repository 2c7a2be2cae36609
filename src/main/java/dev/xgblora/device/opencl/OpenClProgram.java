package dev.xgblora.device.opencl;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The OpenCL C sources of native/opencl, packaged as resources beside this class, in build order. */
final class OpenClProgram {
    /** common.cl first: the others use its helpers. */
    static final List<String> SOURCES = List.of("common.cl", "gemm.cl", "rows.cl", "elementwise.cl",
            "embedding_rope.cl", "attention.cl", "heads.cl");
    private static volatile String source;

    private OpenClProgram() {
    }

    static String source() {
        String s = source;
        if (s == null) {
            StringBuilder sb = new StringBuilder();
            for (String name : SOURCES) {
                try (InputStream in = OpenClProgram.class.getResourceAsStream(name)) {
                    if (in == null) {
                        throw new IllegalStateException("OpenCL source " + name + " is missing from the jar (expected beside "
                                + OpenClProgram.class.getName() + "; the build copies native/opencl/*.cl)");
                    }
                    sb.append("// ---- ").append(name).append('\n').append(new String(in.readAllBytes(), StandardCharsets.UTF_8)).append('\n');
                } catch (IOException e) {
                    throw new UncheckedIOException("reading OpenCL source " + name, e);
                }
            }
            source = s = sb.toString();
        }
        return s;
    }
}

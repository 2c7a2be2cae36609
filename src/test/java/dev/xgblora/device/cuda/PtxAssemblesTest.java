package dev.xgblora.device.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * NVIDIA's own assembler accepts the committed PTX for sm_80 and sm_90 (H100/H200), where ptxas is
 * installed (CUDA toolkit; no GPU needed): the interpreter checks what the kernels compute, this
 * checks that the driver's JIT will take the text at all. Skips, saying so, without ptxas.
 */
class PtxAssemblesTest {
    static Path ptxas() {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/local/cuda/bin").split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "ptxas");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    @Test
    void everyPtxFileAssemblesForAmpereAndHopper() throws IOException, InterruptedException {
        Path ptxas = ptxas();
        Assumptions.assumeTrue(ptxas != null, "no ptxas on PATH or in /usr/local/cuda/bin (the CUDA toolkit is not installed)");
        List<Path> files;
        try (Stream<Path> s = Files.list(Path.of("native/ptx"))) {
            files = s.filter(p -> p.toString().endsWith(".ptx")).sorted().toList();
        }
        assertTrue(files.size() >= 3, "native/ptx holds scale, gemm and attention: " + files);
        for (Path f : files) {
            for (String arch : List.of("sm_80", "sm_90")) {
                Process p = new ProcessBuilder(ptxas.toString(), "-arch=" + arch, f.toString(), "-o", "/dev/null")
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "ptxas timed out on " + f);
                assertEquals(0, p.exitValue(), "ptxas -arch=" + arch + " " + f + ":\n" + out);
            }
        }
    }
}

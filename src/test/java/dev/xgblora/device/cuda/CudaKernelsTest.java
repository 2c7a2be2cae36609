package dev.xgblora.device.cuda;

import static dev.xgblora.kernels.KernelTestSupport.assertClose;
import static dev.xgblora.kernels.KernelTestSupport.assertLseClose;
import static dev.xgblora.kernels.KernelTestSupport.convert;
import static dev.xgblora.kernels.KernelTestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.xgblora.kernels.AttentionMask;
import dev.xgblora.kernels.Kernels;
import dev.xgblora.kernels.ReferenceKernels;
import dev.xgblora.tensor.DType;
import dev.xgblora.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/**
 * {@link CudaKernels} through the stub driver: the committed PTX (native/ptx) executed by
 * {@link PtxInterpreter} against the reference kernels (double accumulation) on ragged shapes: GEMM
 * 37x29x45 in each transpose the training step uses (NT forward, NN dX, TN dW) with f32, bf16 and
 * f16 weights, the rank-r adapter paths, attention forward and backward with grouped heads, causal
 * or not, padding, segments and a key cache. A bug planted in the PTX (a wrong tile offset) fails
 * the same checks. The same checks run on a real GPU when an NVIDIA driver is present.
 */
class CudaKernelsTest {
    static final Kernels REF = new ReferenceKernels();
    static CudaKernels stub;

    @BeforeAll
    static void open() {
        stub = CudaStubDriver.kernels(new ReferenceKernels());
    }

    @AfterAll
    static void close() {
        stub.close();
        assertEquals(0, CudaStubDriver.liveBytes(), "close frees every device buffer");
    }

    // ---- GEMM -----------------------------------------------------------------------------------

    /** Linear forward (x·Wᵀ + b), dX (dy·W) and dW (dyᵀ·x) on M=37, N=29, K=45 with W in {@code dtype}. */
    static void checkLinear(Kernels k, DType dtype) {
        Random r = new Random(37 + dtype.ordinal());
        int m = 37, n = 29, kk = 45;
        Tensor x = randn(r, 1f, m, kk), w = convert(randn(r, 0.5f, n, kk), dtype), b = randn(r, 1f, n);
        Tensor ye = Tensor.zeros(m, n), ya = randn(r, 1f, m, n); // overwritten
        REF.linearForward(x, w, b, ye);
        k.linearForward(x, w, b, ya);
        assertClose("linearForward " + dtype, ye, ya, 1e-5, 1e-5);
        REF.linearForward(x, w, null, ye);
        k.linearForward(x, w, null, ya);
        assertClose("linearForward without bias " + dtype, ye, ya, 1e-5, 1e-5);

        Tensor dy = randn(r, 1f, m, n), dx0 = randn(r, 1f, m, kk);
        Tensor dxe = dx0.copy(), dxa = dx0.copy();
        REF.linearBackwardInput(dy, w, dxe);
        k.linearBackwardInput(dy, w, dxa);
        assertClose("linearBackwardInput (accumulates) " + dtype, dxe, dxa, 1e-5, 1e-5);

        Tensor dw0 = randn(r, 1f, n, kk), dwe = dw0.copy(), dwa = dw0.copy();
        REF.linearBackwardWeight(dy, x, dwe);
        k.linearBackwardWeight(dy, x, dwa);
        assertClose("linearBackwardWeight (accumulates)", dwe, dwa, 1e-5, 1e-5);
    }

    /** The rank-3 adapter forward and backward (five GEMMs with r as M, N or K). */
    static void checkLora(Kernels k) {
        Random r = new Random(5);
        int m = 37, n = 29, kk = 45, rank = 3;
        float s = 0.75f;
        Tensor x = randn(r, 1f, m, kk), a = randn(r, 0.3f, rank, kk), b = randn(r, 0.3f, n, rank);
        Tensor y0 = randn(r, 1f, m, n), ye = y0.copy(), ya = y0.copy(), he = Tensor.zeros(m, rank), ha = Tensor.zeros(m, rank);
        REF.loraForward(x, a, b, s, he, ye);
        k.loraForward(x, a, b, s, ha, ya);
        assertClose("loraForward h", he, ha, 1e-5, 1e-5);
        assertClose("loraForward y", ye, ya, 1e-5, 1e-5);

        Tensor dy = randn(r, 1f, m, n);
        Tensor dhe = Tensor.zeros(m, rank), dha = Tensor.zeros(m, rank);
        Tensor da0 = randn(r, 1f, rank, kk), db0 = randn(r, 1f, n, rank), dx0 = randn(r, 1f, m, kk);
        Tensor dae = da0.copy(), daa = da0.copy(), dbe = db0.copy(), dba = db0.copy(), dxe = dx0.copy(), dxa = dx0.copy();
        REF.loraBackward(dy, x, a, b, s, he, dhe, dae, dbe, dxe);
        k.loraBackward(dy, x, a, b, s, ha, dha, daa, dba, dxa);
        assertClose("loraBackward dh", dhe, dha, 1e-5, 1e-5);
        assertClose("loraBackward dA", dae, daa, 1e-5, 1e-5);
        assertClose("loraBackward dB", dbe, dba, 1e-5, 1e-5);
        assertClose("loraBackward dx", dxe, dxa, 1e-5, 1e-5);
    }

    @Test
    void gemmMatchesTheReferenceInEveryTransposeAndDtype() {
        for (DType d : DType.values()) checkLinear(stub, d);
        checkLora(stub);
        assertTrue(CudaStubDriver.launches() >= 3 * 4 + 5, "the GEMMs ran as PTX launches: " + CudaStubDriver.launches());
    }

    @Test
    void weightsAreUploadedOnceAndAgainWhenTheHostCopyChanges() {
        Random r = new Random(9);
        Tensor x = randn(r, 1f, 5, 19), w = convert(randn(r, 1f, 7, 19), DType.BF16), y = Tensor.zeros(5, 7), ye = Tensor.zeros(5, 7);
        long before = stub.residentBytes();
        stub.linearForward(x, w, null, y);
        stub.linearForward(x, w, null, y);
        assertEquals(before + 7 * 19 * 2, stub.residentBytes(), "one bf16 copy of w stays on the device");
        Tensor wf = randn(r, 1f, 7, 19);
        stub.linearForward(x, wf, null, y);
        wf.set(3, 4, 100f); // a host-side change (a merge): the device copy must follow
        stub.linearForward(x, wf, null, y);
        REF.linearForward(x, wf, null, ye);
        assertClose("after a host change of w", ye, y, 1e-5, 1e-5);
    }

    // ---- Attention ------------------------------------------------------------------------------

    /** Padding hides about a third of the keys (and every key of the last batch row); segments in {0, 1, 2}. */
    static AttentionMask mask(Random r, int b, int s, boolean causal, boolean padding, int window, boolean segments) {
        Tensor valid = null;
        if (padding) {
            valid = Tensor.zeros(b, s);
            for (int bi = 0; bi < b; bi++) for (int si = 0; si < s; si++) valid.set(bi, si, r.nextInt(3) > 0 ? 1f : 0f);
            valid.set(0, 0, 0f);
            for (int si = 0; si < s; si++) valid.set(b - 1, si, 0f);
        }
        int[] seg = null;
        if (segments) {
            seg = new int[b * s];
            for (int i = 0; i < seg.length; i++) seg[i] = r.nextInt(3);
        }
        return new AttentionMask(valid, causal, window, seg);
    }

    static void checkAttention(Kernels k, int b, int t, int s, int hq, int hkv, int d, AttentionMask m, long seed) {
        Random r = new Random(seed);
        String what = "B=" + b + " T=" + t + " S=" + s + " Hq=" + hq + " Hkv=" + hkv + " D=" + d + " " + m.causal() + "/"
                + (m.keyValid() != null) + "/" + m.window() + "/" + (m.segments() != null) + ": ";
        Tensor q = randn(r, 1f, b, t, hq, d), kk = randn(r, 1f, b, s, hkv, d), v = randn(r, 1f, b, s, hkv, d);
        float scale = (float) (1 / Math.sqrt(d));
        Tensor oe = Tensor.zeros(b, t, hq, d), le = Tensor.zeros(b, hq, t);
        Tensor oa = randn(r, 1f, b, t, hq, d), la = randn(r, 1f, b, hq, t); // overwritten
        REF.attentionForward(q, kk, v, m, scale, oe, le);
        k.attentionForward(q, kk, v, m, scale, oa, la);
        assertClose(what + "out", oe, oa, 2e-5, 1e-5);
        assertLseClose(le, la);

        Tensor dout = randn(r, 1f, b, t, hq, d);
        Tensor dq0 = randn(r, 1f, b, t, hq, d), dk0 = randn(r, 1f, b, s, hkv, d), dv0 = randn(r, 1f, b, s, hkv, d);
        Tensor dqe = dq0.copy(), dqa = dq0.copy(), dke = dk0.copy(), dka = dk0.copy(), dve = dv0.copy(), dva = dv0.copy();
        REF.attentionBackward(dout, q, kk, v, m, scale, oe, le, dqe, dke, dve);
        k.attentionBackward(dout, q, kk, v, m, scale, oa, la, dqa, dka, dva);
        assertClose(what + "dq", dqe, dqa, 3e-5, 1e-4);
        assertClose(what + "dk", dke, dka, 3e-5, 1e-4);
        assertClose(what + "dv", dve, dva, 3e-5, 1e-4);
        Tensor dvOnly = dv0.copy();
        k.attentionBackward(dout, q, kk, v, m, scale, oa, la, null, null, dvOnly);
        assertClose(what + "dv alone", dva, dvOnly, 0, 0);
    }

    static void checkAllAttention(Kernels k) {
        Random r = new Random(13);
        checkAttention(k, 2, 13, 13, 4, 2, 8, AttentionMask.NONE, 1);
        checkAttention(k, 2, 13, 13, 4, 2, 8, mask(r, 2, 13, true, false, 0, false), 2);
        checkAttention(k, 2, 13, 13, 4, 2, 8, mask(r, 2, 13, false, true, 0, true), 3);
        checkAttention(k, 2, 5, 16, 4, 1, 9, mask(r, 2, 16, true, true, 6, false), 4); // 11 cached keys, window
    }

    @Test
    void attentionMatchesTheReferenceForwardAndBackward() {
        checkAllAttention(stub);
    }

    // ---- Planted bugs and unknown instructions --------------------------------------------------

    @Test
    void aWrongTileOffsetInTheGemmPtxFailsTheCheck() {
        // B's tile row must be k0 + li (tid.y); k0 + lj staggers the K slices of B against A's.
        String right = "add.s32 %r14, %r12, %r8;", wrong = "add.s32 %r14, %r12, %r9;";
        assertTrue(Cuda.ptx("gemm.ptx").contains(right), "the line the bug is planted in");
        try (CudaKernels broken = CudaStubDriver.kernels(new ReferenceKernels(), s -> s.replace(right, wrong))) {
            AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> checkLinear(broken, DType.F32));
            assertTrue(e.getMessage().startsWith("linearForward F32: element"), e.getMessage());
        } finally {
            stub = CudaStubDriver.kernels(new ReferenceKernels()); // the shared stub was reset
        }
    }

    @Test
    void anOffByOneCausalCheckInTheAttentionPtxFailsTheCheck() {
        // the causal test 's > p' turned into 's > p + 1': each query also sees the next key
        String right = "setp.gt.s32 %p3, %r15, %r14;", wrong = "add.s32 %r26, %r14, 1;\n    setp.gt.s32 %p3, %r15, %r26;";
        assertTrue(Cuda.ptx("attention.ptx").contains(right));
        try (CudaKernels broken = CudaStubDriver.kernels(new ReferenceKernels(), s -> s.replace(right, wrong))) {
            Random r = new Random(13);
            AssertionFailedError e = assertThrows(AssertionFailedError.class,
                    () -> checkAttention(broken, 2, 13, 13, 4, 2, 8, mask(r, 2, 13, true, false, 0, false), 2));
            assertTrue(e.getMessage().contains(": out: element"), e.getMessage());
        } finally {
            stub = CudaStubDriver.kernels(new ReferenceKernels());
        }
    }

    @Test
    void anInstructionTheInterpreterDoesNotKnowFailsNamingItsLine() {
        String ptx = Cuda.ptx("scale.ptx").replace("mul.f32 %f3, %f2, %f1;", "mul.sat.f32 %f3, %f2, %f1;");
        PtxInterpreter.PtxException e = assertThrows(PtxInterpreter.PtxException.class, () -> PtxInterpreter.parse(ptx, "scale.ptx"));
        assertTrue(e.getMessage().matches("scale\\.ptx:\\d+: unsupported instruction 'mul\\.sat\\.f32 %f3, %f2, %f1' .*"), e.getMessage());
        int line = Integer.parseInt(e.getMessage().split(":")[1]);
        assertTrue(ptx.lines().toList().get(line - 1).contains("mul.sat.f32"), "line " + line + " is the instruction's");
    }

    @Test
    void anOutOfBoundsAccessIsALaunchFailureNamingTheInstruction() {
        // the ragged-edge check of A removed: threads past M read beyond x's allocation
        try (CudaKernels broken = CudaStubDriver.kernels(new ReferenceKernels(),
                s -> s.replace("    setp.ge.s32 %p1, %r10, %r1;\n    setp.ge.s32 %p2, %r13, %r3;", "    setp.ge.s32 %p1, %r10, 999999;\n    setp.ge.s32 %p2, %r13, %r3;"))) {
            Random r = new Random(3);
            CudaException e = assertThrows(CudaException.class,
                    () -> broken.linearForward(randn(r, 1f, 37, 45), randn(r, 1f, 29, 45), null, Tensor.zeros(37, 29)));
            assertTrue(e.getMessage().startsWith("cuLaunchKernel(xgb_gemm) failed: CUDA_ERROR_LAUNCH_FAILED: gemm.ptx:")
                    && e.getMessage().contains("ld.global.f32 %f3, [%rd24]") && e.getMessage().contains("outside every cuMemAlloc allocation"),
                    e.getMessage());
        } finally {
            stub = CudaStubDriver.kernels(new ReferenceKernels());
        }
    }

    // ---- A real GPU -----------------------------------------------------------------------------

    @Test
    void realGpuMatchesTheReferenceWhenAnNvidiaDriverIsPresent() {
        CudaKernels gpu;
        try {
            gpu = CudaKernels.open("cuda:0");
        } catch (CudaException e) {
            Assumptions.abort("no NVIDIA GPU here: " + e.getMessage());
            return;
        }
        try (gpu) {
            for (DType d : DType.values()) checkLinear(gpu, d);
            checkLora(gpu);
            checkAllAttention(gpu);
        }
    }
}

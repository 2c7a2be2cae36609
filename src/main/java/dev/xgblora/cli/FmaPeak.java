package dev.xgblora.cli;

import jdk.incubator.vector.FloatVector;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The f32 FMA peak of this machine in GFLOP/s, for the utilisation figure of {@code bench step}:
 * threads × f32 lanes of the widest datapath × 2 FMA pipes × 2 FLOPs × clock. The clock is
 * /proc/cpuinfo's "cpu MHz" (the nominal clock under most hypervisors; boost makes the true peak
 * higher). AMD family 0x19 (Zen 3/4) runs 512-bit FMAs as two 256-bit halves, so its datapath
 * counts as 8 lanes whatever the Vector API's preferred species. Override with --peak-gflops.
 */
record FmaPeak(double gflops, String basis) {
    static FmaPeak estimate(int threads) {
        List<String> cpuinfo;
        try {
            cpuinfo = Files.readAllLines(Path.of("/proc/cpuinfo"));
        } catch (IOException e) {
            cpuinfo = List.of();
        }
        double mhz = Double.NaN;
        String vendor = "", family = "";
        for (String line : cpuinfo) {
            String v = line.contains(":") ? line.substring(line.indexOf(':') + 1).trim() : "";
            if (line.startsWith("cpu MHz") && Double.isNaN(mhz)) mhz = Double.parseDouble(v);
            else if (line.startsWith("vendor_id") && vendor.isEmpty()) vendor = v;
            else if (line.startsWith("cpu family") && family.isEmpty()) family = v;
        }
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        boolean halfPumped = vendor.equals("AuthenticAMD") && family.equals("25") && lanes > 8;
        if (halfPumped) lanes = 8;
        double g = threads * lanes * 2.0 * 2.0 * mhz / 1000;
        String basis = threads + " threads x " + lanes + " f32 lanes" + (halfPumped ? " (AMD family 0x19: 512-bit FMA on 256-bit pipes)" : "")
                + " x 2 FMA pipes x 2 FLOP x " + (Double.isNaN(mhz) ? "? (no /proc/cpuinfo clock)" : String.format("%.2f GHz (nominal clock from /proc/cpuinfo)", mhz / 1000));
        return new FmaPeak(g, basis);
    }

    static FmaPeak given(double gflops) {
        return new FmaPeak(gflops, "--peak-gflops");
    }
}

#!/usr/bin/env bash
# System packages the tests need. Maven dependencies come with the build.
set -euo pipefail
need=()
command -v mvn >/dev/null || need+=(maven)
# The OpenCL tests run on PoCL (OpenCL on the CPU): the ICD loader, the PoCL driver and clinfo.
for pkg in ocl-icd-libopencl1 pocl-opencl-icd clinfo; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing system packages: ${need[*]} (install them with apt-get)" >&2; exit 1
  fi
fi

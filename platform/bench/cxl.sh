#!/usr/bin/env bash
# Bringing 2 TiB online through a CXL type-3 expander against the physical
# DIMM hot-add of the same size, eight 256 GiB RDIMMs (the baseline, 1.00),
# measured in one run (BenchmarkOnline2TiB in platform/; CI does not run it).
# Usage: platform/bench/cxl.sh [count]   (default 5; the median is used)
set -euo pipefail
exec bash "$(dirname "$0")/ratios.sh" BenchmarkOnline2TiB dimm-hotadd-8x256GiB \
  "2 TiB online (baseline: eight 256 GiB DIMM hot-adds)" "${1:-5}"

#!/usr/bin/env bash
# Growing a server by 64 GiB through each generation of VM guest memory
# against a physical DIMM hot-add of the same size (the baseline, 1.00),
# measured in one run (BenchmarkGrow64GiB in platform/; CI does not run it).
# Usage: platform/bench/vmguest.sh [count]   (default 5; the median is used)
set -euo pipefail
exec bash "$(dirname "$0")/ratios.sh" BenchmarkGrow64GiB dimm-hotadd-64GiB \
  "64 GiB of growth (baseline: the physical DIMM hot-add, 2 GiB blocks)" "${1:-5}"

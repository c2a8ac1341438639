#!/usr/bin/env bash
# Growing a server by 64 GiB through each generation of VM guest memory
# against a physical DIMM hot-add of the same size, measured in one run:
# model wall time, process CPU time and heap allocated per growth, as
# ratios to the DIMM hot-add (the baseline, 1.00).
# Usage: platform/bench/vmguest.sh [count]   (default 5; the median is used)
#
# A benchmark, not a test: it prints figures and judges nothing, and CI
# does not run it (BenchmarkGrow64GiB in platform/). Wall time includes
# waiting for a CPU on a busy machine; cpu-ns/op is user+system time of
# the process over the timed section (GC included).
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-5}
out=$(go test -run '^$' -bench 'BenchmarkGrow64GiB' -benchtime 3x -count "$COUNT" ./platform/)
echo "$out" | grep '^BenchmarkGrow64GiB' | awk -v count="$COUNT" '
function median(arr, n,    i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
	return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{
	name = $1; sub(/^BenchmarkGrow64GiB\//, "", name); sub(/-[0-9]+$/, "", name)
	if (!(name in n)) order[++k] = name
	i = ++n[name]
	for (f = 3; f <= NF; f++) {
		if ($(f+1) == "ns/op") wall[name, i] = $f
		if ($(f+1) == "cpu-ns/op") cpu[name, i] = $f
		if ($(f+1) == "B/op") heap[name, i] = $f
	}
}
END {
	for (c = 1; c <= k; c++) {
		name = order[c]
		for (i = 1; i <= n[name]; i++) { a[i] = wall[name, i]; b[i] = cpu[name, i]; h[i] = heap[name, i] }
		W[name] = median(a, n[name]); C[name] = median(b, n[name]); H[name] = median(h, n[name])
	}
	base = "dimm-hotadd-64GiB"
	printf "64 GiB of growth, median of %d runs; ratios to %s (the physical DIMM hot-add, 2 GiB blocks)\n\n", count, base
	printf "%-34s %12s %12s %12s %8s %8s %8s\n", "MECHANISM", "WALL ms", "CPU ms", "HEAP KiB", "WALL x", "CPU x", "HEAP x"
	for (c = 1; c <= k; c++) {
		name = order[c]
		printf "%-34s %12.2f %12.2f %12.0f %8.2f %8.2f %8.2f\n", name, W[name]/1e6, C[name]/1e6, H[name]/1024, W[name]/W[base], C[name]/C[base], H[name]/H[base]
	}
}'

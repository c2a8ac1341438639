#!/usr/bin/env bash
# Runs one sub-benchmarked Go benchmark of platform/ COUNT times and prints,
# per case, the median model wall time, process CPU time and heap allocated
# per operation, with ratios to the BASE case measured in the same run.
# Usage: platform/bench/ratios.sh BENCHMARK BASE TITLE [count]
#
# A benchmark, not a test: it prints figures and judges nothing. Wall time
# includes waiting for a CPU on a busy machine; cpu-ns/op is user+system
# time of the process over the timed section (GC included).
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=$1 BASE=$2 TITLE=$3 COUNT=${4:-5}
out=$(go test -run '^$' -bench "^${BENCH}\$" -benchtime 3x -count "$COUNT" ./platform/)
echo "$out" | grep "^${BENCH}/" | awk -v count="$COUNT" -v bench="$BENCH" -v base="$BASE" -v title="$TITLE" '
function median(arr, n,    i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
	return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{
	name = $1; sub("^" bench "/", "", name); sub(/-[0-9]+$/, "", name)
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
	printf "%s, median of %d runs; ratios to %s\n\n", title, count, base
	printf "%-34s %12s %12s %12s %8s %8s %8s\n", "MECHANISM", "WALL ms", "CPU ms", "HEAP KiB", "WALL x", "CPU x", "HEAP x"
	for (c = 1; c <= k; c++) {
		name = order[c]
		printf "%-34s %12.2f %12.2f %12.0f %8.2f %8.2f %8.2f\n", name, W[name]/1e6, C[name]/1e6, H[name]/1024, W[name]/W[base], C[name]/C[base], H[name]/H[base]
	}
}'

#!/usr/bin/env bash
# RAS copy paths against their memory ceilings, measured in the same run.
#
#   platform/ras/bench.sh [ROUNDS] [RUNS]
#
# Each run is one benchmark process per engine holding 1 GiB of written
# pages; each of its ROUNDS (default 9) times the real path (mirror
# re-silver: replace + re-silver; RAID5 rebuild: replace + rebuild) and
# its ceilings (copy / crypto/subtle.XORBytes over flat buffers) back to
# back. The ratio is path GiB/s over ceiling GiB/s, taken per round on the
# thread's CPU time; a run reports its rounds' median, min and max, and
# with RUNS > 1 (default 3) the last lines give the median of the runs'
# medians. wall = the same median ratio on wall-clock time.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-9}
runs=${2:-3}
out=$(go test -run '^$' -bench '^(BenchmarkResilver|BenchmarkRebuild)$' \
	-benchtime "${rounds}x" -count "$runs" ./mirror ./raid5)
grep -q '^ok' <<<"$out" || { printf '%s\n' "$out"; exit 1; }
awk '
function med(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^Benchmark(Resilver|Rebuild)/ {
	eng = ($1 ~ /Resilver/) ? "resilver" : "rebuild"
	delete v
	for (i = 2; i < NF; i++) v[$(i + 1)] = $i
	for (k in v) if (k ~ /^ratio-/) {
		c = substr(k, 7)
		printf "%-9s path %6.2f GiB/s  %-8s %6.2f GiB/s  ratio %.2f (rounds %.2f-%.2f, wall %.2f)\n", \
			eng, v["path-GiB/s"], c, v[c "-GiB/s"], v[k], v["min-ratio-" c], v["max-ratio-" c], v["wall-ratio-" c]
		key = eng " " c
		if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
		r[key] = r[key] " " v[k]; p[key] = p[key] " " v["path-GiB/s"]; g[key] = g[key] " " v[c "-GiB/s"]
		w[key] = w[key] " " v["wall-ratio-" c]
	}
}
END {
	print "median of runs:"
	for (i = 1; i <= nk; i++) {
		k = order[i]; split(k, kk, " ")
		printf "%-9s path %6.2f GiB/s  %-8s %6.2f GiB/s  ratio %.2f (wall %.2f)\n", kk[1], med(p[k]), kk[2], med(g[k]), med(r[k]), med(w[k])
	}
}' <<<"$out"

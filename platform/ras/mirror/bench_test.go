package mirror

import (
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/internal/ceiling"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const benchBytes = 1 << 30 // 1 GiB of written pages

// BenchmarkResilver re-silvers a replacement side from 1 GiB of written
// pages (timed: the replace, which builds the work list and recycles the
// board's memory, and the whole re-silver) and, in the same round, copies
// the same number of bytes between two preallocated, already faulted-in
// flat buffers (offset so as not to share cache sets) with copy: the
// ceiling. The order alternates by round.
// Metrics: path and copy GiB/s (medians) and the per-round ratio's
// median, min and max. After the rounds the re-silvered side must hold
// exactly the good side's pages, byte for byte.
func BenchmarkResilver(b *testing.B) {
	m, _ := New(benchBytes, benchBytes)
	w := pages.Workload{Pattern: pages.Pattern{Seed: 1}, Ranges: []pages.Range{{Base: 0, Length: benchBytes}}}
	if _, err := w.Run(m); err != nil {
		b.Fatal(err)
	}
	flat := ceiling.Buffers(2, benchBytes)
	src, dst := flat[0], flat[1]
	for i := range src {
		src[i] = byte(i)
	}
	clear(dst) // fault the pages in: the re-silver writes recycled memory too
	resilver := func() {
		if err := m.Replace(1, benchBytes); err != nil {
			b.Fatal(err)
		}
		if done, err := m.Resilver(0); !done || err != nil {
			b.Fatal(done, err)
		}
	}
	r := ceiling.New(benchBytes)
	b.SetBytes(benchBytes)
	for i := 0; b.Loop(); i++ {
		m.Fail(1)
		m.Drain()
		pages.Scramble(m.Side(1)) // so that a page not copied cannot pass the final check
		var path, cp ceiling.Sample
		if i%2 == 0 {
			path = ceiling.Time(resilver)
			cp = ceiling.Time(func() { copy(dst, src) })
		} else {
			cp = ceiling.Time(func() { copy(dst, src) })
			path = ceiling.Time(resilver)
		}
		r.Add(path, map[string]ceiling.Sample{"copy": cp})
	}
	b.StopTimer()
	r.Report(b)
	if pfn, differ := m.Side(1).Diff(m.Side(0)); differ || m.Side(1).Len() != benchBytes/pages.PageSize {
		b.Fatalf("re-silvered side differs from the good side at pfn %#x (%d pages)", pfn, m.Side(1).Len())
	}
}

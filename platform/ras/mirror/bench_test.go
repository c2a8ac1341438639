package mirror

import (
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const benchBytes = 1 << 30 // 1 GiB of written pages

// BenchmarkResilver re-silvers a replacement side from 1 GiB of written
// pages; Copy is the ceiling: a plain copy of the same bytes between two
// preallocated flat buffers. Compare the two MB/s figures for the ratio.
func BenchmarkResilver(b *testing.B) {
	b.Run("Mirror1GiB", func(b *testing.B) {
		m, _ := New(benchBytes, benchBytes)
		w := pages.Workload{Pattern: pages.Pattern{Seed: 1}, Ranges: []pages.Range{{Base: 0, Length: benchBytes}}}
		if _, err := w.Run(m); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchBytes)
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			m.Fail(1)
			m.Drain()
			b.StartTimer()
			// Timed: the replace (work list, recycling the board's memory)
			// and the whole re-silver.
			if err := m.Replace(1, benchBytes); err != nil {
				b.Fatal(err)
			}
			if done, err := m.Resilver(0); !done || err != nil {
				b.Fatal(done, err)
			}
		}
		b.StopTimer()
		if m.Side(1).Len() != benchBytes/pages.PageSize {
			b.Fatal("incomplete")
		}
	})
	b.Run("Copy1GiB", func(b *testing.B) {
		src, dst := make([]byte, benchBytes), make([]byte, benchBytes)
		for i := range src {
			src[i] = byte(i)
		}
		clear(dst) // fault the pages in before timing
		b.SetBytes(benchBytes)
		b.ResetTimer()
		for b.Loop() {
			copy(dst, src)
		}
	})
	// CopyFresh copies into newly allocated memory each time (the cost a
	// first re-silver into never-touched memory pays: page faults).
	b.Run("CopyFresh1GiB", func(b *testing.B) {
		src := make([]byte, benchBytes)
		for i := range src {
			src[i] = byte(i)
		}
		b.SetBytes(benchBytes)
		b.ResetTimer()
		for b.Loop() {
			dst := make([]byte, benchBytes)
			copy(dst, src)
		}
	})
}

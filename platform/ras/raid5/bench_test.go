package raid5

import (
	"crypto/subtle"
	"encoding/binary"
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/internal/ceiling"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const benchData = 1 << 30 // 1 GiB of written array pages

// BenchmarkRebuild rebuilds one cartridge of an array holding 1 GiB of
// written pages (timed: the replace, which builds the stripe work list and
// recycles the board's memory, and the whole rebuild): it reads the four
// surviving 256 MiB unit sets (1 GiB, the GiB/s basis) and writes 256 MiB.
// In the same round two ceilings XOR the same bytes held in five flat
// preallocated buffers (offset so as not to share cache sets) with
// crypto/subtle.XORBytes: "xorbytes" in three
// whole-buffer passes (dst = s0^s1, then ^= s2, ^= s3), "paged" the same
// three passes one 4 KiB page at a time (the unit stays in cache between
// passes, as the rebuild does). The order alternates by round. Metrics:
// medians of path and ceiling GiB/s and of the per-round ratios, with
// their min and max. After the rounds the last rebuilt cartridge must
// hold exactly what it held before it was failed, byte for byte, and
// every stripe's parity must be consistent.
func BenchmarkRebuild(b *testing.B) {
	a, _ := New(benchData / DataUnits)
	w := pages.Workload{Pattern: pages.Pattern{Seed: 1}, Ranges: []pages.Range{{Base: 0, Length: benchData}}}
	if _, err := w.Run(a); err != nil {
		b.Fatal(err)
	}
	before := make([]*pages.Store, Cartridges)
	for c := range before {
		before[c] = a.Cartridge(c).Clone()
	}
	const unit = benchData / DataUnits
	flat := ceiling.Buffers(DataUnits+1, unit)
	src, dst := flat[:DataUnits], flat[DataUnits]
	for i := range src {
		for j := 0; j < unit; j += 8 {
			binary.LittleEndian.PutUint64(src[i][j:], uint64(j)*0x9E3779B97F4A7C15+uint64(i))
		}
	}
	clear(dst)
	whole := func() {
		subtle.XORBytes(dst, src[0], src[1])
		subtle.XORBytes(dst, dst, src[2])
		subtle.XORBytes(dst, dst, src[3])
	}
	paged := func() {
		for o := 0; o < unit; o += pages.PageSize {
			e := o + pages.PageSize
			d := dst[o:e]
			subtle.XORBytes(d, src[0][o:e], src[1][o:e])
			subtle.XORBytes(d, d, src[2][o:e])
			subtle.XORBytes(d, d, src[3][o:e])
		}
	}
	var c int
	rebuild := func() {
		if err := a.Replace(c, benchData/DataUnits); err != nil {
			b.Fatal(err)
		}
		if done, err := a.Rebuild(0); !done || err != nil {
			b.Fatal(done, err)
		}
	}
	r := ceiling.New(benchData)
	b.SetBytes(benchData)
	for i := 0; b.Loop(); i++ {
		c = i % Cartridges
		a.Fail(c)
		a.Drain()
		pages.Scramble(a.Cartridge(c)) // so that a unit not rebuilt cannot pass the final check
		var path, x, p ceiling.Sample
		if i%2 == 0 {
			path, x, p = ceiling.Time(rebuild), ceiling.Time(whole), ceiling.Time(paged)
		} else {
			p, x, path = ceiling.Time(paged), ceiling.Time(whole), ceiling.Time(rebuild)
		}
		r.Add(path, map[string]ceiling.Sample{"xorbytes": x, "paged": p})
	}
	b.StopTimer()
	r.Report(b)
	if a.State() != Optimal {
		b.Fatal(a.State())
	}
	if s, differ := a.Cartridge(c).Diff(before[c]); differ {
		b.Fatalf("rebuilt cartridge %d differs from its contents before the failure at stripe %d", c, s)
	}
	var x pages.Page
	for s := range uint64(unit / Unit) {
		x = pages.Page{}
		for o := range Cartridges {
			subtle.XORBytes(x[:], x[:], a.Cartridge(o).Page(s)[:])
		}
		if x != (pages.Page{}) {
			b.Fatalf("stripe %d parity inconsistent", s)
		}
	}
}

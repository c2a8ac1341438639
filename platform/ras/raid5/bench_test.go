package raid5

import (
	"crypto/subtle"
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const benchData = 1 << 30 // 1 GiB of written array pages

// BenchmarkRebuild rebuilds one cartridge of an array holding 1 GiB of
// written pages: it reads the four surviving 256 MiB units sets (1 GiB,
// the MB/s basis) and writes 256 MiB. The ceilings XOR the same bytes held
// in five flat preallocated buffers: XORBytes is the SIMD library routine
// the engine uses, Loop a plain 64-bit word loop.
func BenchmarkRebuild(b *testing.B) {
	b.Run("RAID5_1GiB", func(b *testing.B) {
		a, _ := New(benchData / DataUnits)
		w := pages.Workload{Pattern: pages.Pattern{Seed: 1}, Ranges: []pages.Range{{Base: 0, Length: benchData}}}
		if _, err := w.Run(a); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchData)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			c := i % Cartridges
			a.Fail(c)
			a.Drain()
			b.StartTimer()
			// Timed: the replace (stripe work list, recycling the board's
			// memory) and the whole rebuild.
			if err := a.Replace(c, benchData/DataUnits); err != nil {
				b.Fatal(err)
			}
			if done, err := a.Rebuild(0); !done || err != nil {
				b.Fatal(done, err)
			}
		}
		b.StopTimer()
		if a.State() != Optimal {
			b.Fatal(a.State())
		}
	})
	const unit = benchData / DataUnits
	src := make([][]byte, DataUnits)
	for i := range src {
		src[i] = make([]byte, unit)
		for j := 0; j < unit; j += 8 {
			binary.LittleEndian.PutUint64(src[i][j:], uint64(j)*0x9E3779B97F4A7C15+uint64(i))
		}
	}
	dst := make([]byte, unit)
	b.Run("XORBytes1GiB", func(b *testing.B) {
		b.SetBytes(benchData)
		for b.Loop() {
			copy(dst, src[0])
			for _, s := range src[1:] {
				subtle.XORBytes(dst, dst, s)
			}
		}
	})
	b.Run("Loop1GiB", func(b *testing.B) {
		b.SetBytes(benchData)
		words := func(p []byte) []uint64 { return unsafe.Slice((*uint64)(unsafe.Pointer(&p[0])), len(p)/8) }
		d, s0, s1, s2, s3 := words(dst), words(src[0]), words(src[1]), words(src[2]), words(src[3])
		for b.Loop() {
			for i := range d {
				d[i] = s0[i] ^ s1[i] ^ s2[i] ^ s3[i]
			}
		}
	})
}

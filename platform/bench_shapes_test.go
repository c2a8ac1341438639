package platform

import (
	"runtime"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// largestShapeYAML is the largest board the validator allows: 8 sockets
// of 8 controllers x 4 channels (32, the most a socket may have) x 3
// slots, 768 slots, every one holding a 256 GiB dual-rank DDR5 RDIMM
// (192 TiB, hence 52 address bits) but empty (for a hot-add into it).
func largestShapeYAML(withEmpty bool) string {
	slots := `["*"]`
	if withEmpty {
		// Every slot but CPU7_DIMM_AF3 (channel 32 of socket 7, slot 3).
		slots = `["CPU[0-6]_*", "CPU7_*[12]", "CPU7_DIMM_[A-Z]3", "CPU7_DIMM_A[A-E]3"]`
	}
	return `name: largest
system: {manufacturer: bmcemu, model: Largest, serial_number: LARGEST1}
memory: {type: DDR5, speed_mts: 4800, sockets: 8, controllers_per_socket: 8, channels_per_controller: 4, slots_per_channel: 3, physical_address_bits: 52}
modules:
  - {slots: ` + slots + `, capacity_gib: 256, ranks: 2, base_module: RDIMM, manufacturer: Samsung}
`
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkBootLargestShape boots the largest board, fully populated
// (768 x 256 GiB): firmware layout and decoder, SRAT/HMAT, the kernel on
// 98,304 memory blocks of 2 GiB. Reports the live heap after boot.
func BenchmarkBootLargestShape(b *testing.B) {
	prof, err := profile.Parse("largest.yaml", []byte(largestShapeYAML(false)))
	if err != nil {
		b.Fatal(err)
	}
	var p *Platform
	for b.Loop() {
		p = nil
		if p, err = New(prof, Options{Clock: clock.NewManual(epoch)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(heapInUse())/(1<<20), "heap-MiB")
	runtime.KeepAlive(p)
}

// BenchmarkHotAddLargestShape hot-adds one 256 GiB module into the one
// empty slot of the largest board (767 seated), every hardware step on a
// stepped clock: the work of one hot-add, whatever the speed factor.
func BenchmarkHotAddLargestShape(b *testing.B) {
	const slot = "CPU7_DIMM_AF3"
	prof, err := profile.Parse("largest.yaml", []byte(largestShapeYAML(true)))
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	for range b.N {
		r := &rig{t: &testing.T{}, clk: clock.NewManual(epoch)}
		if r.p, err = New(prof, Options{Clock: r.clk}); err != nil {
			b.Fatal(err)
		}
		img := r.imageOf(slot, 256, 2)
		b.StartTimer()
		if err := r.p.PressAttention(slot); err != nil {
			b.Fatal(err)
		}
		r.clk.RunUntilIdle(time.Minute)
		if _, err := r.p.Insert(slot, img); err != nil {
			b.Fatal(err)
		}
		r.clk.RunUntilIdle(time.Minute)
		b.StopTimer()
		if s, _ := r.p.Snapshot().Slot(slot); s.State != StateEnabled {
			b.Fatalf("hot-add: %s %s", s.State, s.Reason)
		}
	}
}

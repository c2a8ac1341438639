//go:build unix

package platform

import (
	"syscall"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// cpuNow is the process's user+system CPU time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGrow64GiB grows a server by 64 GiB through each mechanism, the
// model's work only (boot outside the timer; the DIMM's hardware steps on
// a stepped clock, so the speed factor does not count): virtio-mem in
// 4 MiB sub-blocks, pc-dimms through ACPI in 128 MiB memory blocks (one
// 64 GiB DIMM, or 256 DIMMs of 256 MiB: QEMU's most slots), and the
// physical DIMM hot-add of the same size (attention, SPD, power ramp,
// training, TAD, SRAT, PNP0C80, add_memory) on the default board, with
// its bare-metal 2 GiB memory blocks and with 128 MiB ones.
// platform/bench/vmguest.sh prints the ratios to the DIMM hot-add.
func BenchmarkGrow64GiB(b *testing.B) {
	const size = 64 << 30
	guest := func(b *testing.B, name string, mut func(*profile.Profile)) *Platform {
		prof, err := profile.Builtin(name)
		if err != nil {
			b.Fatal(err)
		}
		if mut != nil {
			mut(prof)
		}
		p, err := New(prof, Options{Clock: clock.NewManual(epoch)})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	runGrowth(b, []growthCase{
		{"virtio-mem-4MiB", func(b *testing.B) func() {
			p := guest(b, "virtio-mem", nil)
			return func() {
				if r, err := p.VMSetRequestedSize(size); err != nil || r.PluggedSize != size {
					b.Fatalf("%+v %v", r, err)
				}
			}
		}},
		{"pc-dimm-1x64GiB", func(b *testing.B) func() {
			p := guest(b, "pc-dimm", nil)
			return func() {
				if _, err := p.VMPlugDimm(size); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"pc-dimm-256x256MiB", func(b *testing.B) func() {
			p := guest(b, "pc-dimm", func(pr *profile.Profile) { pr.Guest.PCDimm.Slots = 256 })
			return func() {
				for range 256 {
					if _, err := p.VMPlugDimm(256 << 20); err != nil {
						b.Fatal(err)
					}
				}
			}
		}},
		{"dimm-hotadd-64GiB", dimmHotAdd(0)},
		{"dimm-hotadd-64GiB-128MiB-blocks", dimmHotAdd(128 << 20)},
	})
}

func dimmHotAdd(blockSize uint64) func(b *testing.B) func() {
	return func(b *testing.B) func() {
		const slot = "CPU0_DIMM_A2"
		r := &rig{t: &testing.T{}, clk: clock.NewManual(epoch)}
		var err error
		opts := Options{Clock: r.clk}
		opts.Kernel.BlockSize = blockSize
		if r.p, err = New(profile.Default(), opts); err != nil {
			b.Fatal(err)
		}
		img := r.imageOf(slot, 64, 2)
		return func() {
			if err := r.p.PressAttention(slot); err != nil {
				b.Fatal(err)
			}
			r.clk.RunUntilIdle(time.Minute)
			if _, err := r.p.Insert(slot, img); err != nil {
				b.Fatal(err)
			}
			r.clk.RunUntilIdle(time.Minute)
			if s, _ := r.p.Snapshot().Slot(slot); s.State != StateEnabled {
				b.Fatalf("hot-add: %s %s", s.State, s.Reason)
			}
		}
	}
}

// growthCase is one way to grow a server: setup builds it outside the
// timer and returns the growth to time.
type growthCase struct {
	name  string
	setup func(b *testing.B) func()
}

// runGrowth times each case's growth (wall, process CPU as cpu-ns/op,
// allocations), the setup of every iteration outside the timer.
func runGrowth(b *testing.B, cases []growthCase) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			b.StopTimer()
			for range b.N {
				grow := c.setup(b)
				c0 := cpuNow()
				b.StartTimer()
				grow()
				b.StopTimer()
				cpu += cpuNow() - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

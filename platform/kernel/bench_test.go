package kernel

import (
	"fmt"
	"runtime"
	"testing"
)

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkHotAdd1TiB hot-adds 1 TiB to the default server as 16 DIMMs of
// 64 GiB in 128 MiB memory blocks (8192 blocks), each auto-onlined: the
// memmap allocation (16 GiB), block devices, zone growth, buddy frees,
// watermark updates and notifier chain per block.
func BenchmarkHotAdd1TiB(b *testing.B) {
	const dimm = 64 * GiB
	var k *Kernel
	for b.Loop() {
		b.StopTimer()
		var err error
		k, err = Boot(Config{BlockSize: 128 * MiB, BareMetal: true, IOMem: defaultIOMem()}, defaultMap())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := range uint64(16) {
			if err := k.AddMemory(int(i%2), 1024*GiB+i*dimm, dimm, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if n := len(k.Blocks()); n != 4096+8192 {
		// 512 GiB at boot + 1 TiB hot-added.
		b.Fatalf("%d blocks", n)
	}
	if err := k.CheckInvariants(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/8192, "ns/block")

	// Heap per GiB modelled: the whole model (boot + 1 TiB) against a
	// clean heap.
	k = nil
	before := heapAlloc()
	k, _ = Boot(Config{BlockSize: 128 * MiB, BareMetal: true, IOMem: defaultIOMem()}, defaultMap())
	for i := range uint64(16) {
		_ = k.AddMemory(int(i%2), 1024*GiB+i*dimm, dimm, "")
	}
	after := heapAlloc()
	runtime.KeepAlive(k)
	b.ReportMetric(float64(after-before)/float64(512+1024), "heapB/GiB")
}

// twelveTiB is a fully populated 12 TiB two-socket server: 2 x 16 slots of
// 384 GiB DIMMs per node, with the 32-bit MMIO hole.
func twelveTiB() []Range {
	const node = 6 * 1024 * GiB
	return []Range{
		{Start: 0, Size: 2 * GiB, Node: 0},
		{Start: 4 * GiB, Size: node - 2*GiB, Node: 0},
		{Start: node + 2*GiB, Size: node, Node: 1},
	}
}

// BenchmarkBoot12TiB boots the 12 TiB server, with the probed block size
// (2 GiB on bare metal) and with 128 MiB blocks (98304 blocks).
func BenchmarkBoot12TiB(b *testing.B) {
	for _, bs := range []uint64{0, 128 * MiB} {
		b.Run(fmt.Sprintf("block=%s", map[uint64]string{0: "probe", 128 * MiB: "128MiB"}[bs]), func(b *testing.B) {
			cfg := Config{BlockSize: bs, BareMetal: true, IOMem: defaultIOMem()}
			var k *Kernel
			for b.Loop() {
				var err error
				if k, err = Boot(cfg, twelveTiB()); err != nil {
					b.Fatal(err)
				}
			}
			blocks := len(k.Blocks())
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(blocks), "ns/block")
			k = nil
			before := heapAlloc()
			k, _ = Boot(cfg, twelveTiB())
			after := heapAlloc()
			runtime.KeepAlive(k)
			b.ReportMetric(float64(after-before)/(12*1024), "heapB/GiB")
			b.ReportMetric(float64(after-before)/(1<<20), "heapMiB")
			b.ReportMetric(float64(blocks), "blocks")
		})
	}
}

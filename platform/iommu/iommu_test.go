package iommu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	extBDF = "0000:38:00.0" // behind an external-facing port
	intBDF = "0000:00:17.0"
)

// kernelWithBuffer writes a page of kernel data 'K' and, 1 KiB into it, a
// 512-byte driver buffer of 'D'.
func kernelWithBuffer(mem Memory) (buf uint64) {
	mem.WritePhys(kernelPage, fill('K', PageSize))
	buf = kernelPage + 1024
	mem.WritePhys(buf, fill('D', 512))
	return buf
}

func TestBootLog(t *testing.T) {
	for _, tc := range []struct {
		strict bool
		want   string
	}{
		{false, "iommu: DMA domain TLB invalidation policy: lazy mode"},
		{true, "iommu: DMA domain TLB invalidation policy: strict mode (set via kernel command line)"},
	} {
		_, _, log := newUnit(t, Config{Strict: tc.strict})
		want := []string{
			"software IO TLB: mapped [mem 0x0000000008000000-0x000000000c000000] (64MB)",
			"iommu: Default domain type: Translated",
			tc.want,
		}
		if got := log.since(0); !slices.Equal(got, want) {
			t.Errorf("strict=%v: boot log\n%q\nwant\n%q", tc.strict, got, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{SwiotlbBytes: 3000},
		{SwiotlbBase: 0x1001},
		{SwiotlbBase: ^uint64(0) &^ (PageSize - 1), SwiotlbBytes: 2 * PageSize},
		{IOVABits: 12},
		{IOVABits: 49},
	} {
		if _, err := New(cfg, NewSparseMemory(), nil); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New with nil memory succeeded")
	}
}

func TestAttachLogsAndDomains(t *testing.T) {
	for _, tc := range []struct {
		name      string
		strict    bool
		untrusted bool
		domain    string
	}{
		{"trusted lazy", false, false, "DMA-FQ"},
		{"trusted strict", true, false, "DMA"},
		{"untrusted is strict regardless", false, true, "DMA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _, log := newUnit(t, Config{Strict: tc.strict})
			if err := u.AttachDevice(intBDF, false); err != nil {
				t.Fatal(err)
			}
			n := log.len()
			if err := u.AttachDevice("38:00.0", tc.untrusted); err != nil {
				t.Fatal(err)
			}
			want := []string{"iommu: Adding device 0000:38:00.0 to group 1"}
			if tc.untrusted {
				want = append(want, "pci 0000:38:00.0: DMAR: untrusted device: Use Intel IOMMU bounce page dma_ops, strict IOTLB invalidation")
			}
			if got := log.since(n); !slices.Equal(got, want) {
				t.Errorf("attach log %q, want %q", got, want)
			}
			devs := u.Devices()
			if len(devs) != 2 || devs[1].BDF != extBDF || devs[1].Group != 1 || devs[1].Domain != tc.domain || devs[1].Untrusted != tc.untrusted {
				t.Errorf("Devices() = %+v", devs)
			}
			if err := u.AttachDevice(extBDF, false); err == nil {
				t.Error("second attach of the same device succeeded")
			}
			if err := u.AttachDevice("0000:38:20.0", false); err == nil {
				t.Error("attach of device 0x20 succeeded")
			}
		})
	}
}

// The seed's property: an untrusted device sees only its buffer (bounced,
// zero padded), a trusted one sees the kernel data around it.
func TestBounceHidesNeighbouringKernelData(t *testing.T) {
	for _, tc := range []struct {
		name      string
		untrusted bool
	}{
		{"untrusted bounces", true},
		{"trusted maps the kernel page", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, mem, _ := newUnit(t, Config{})
			buf := kernelWithBuffer(mem)
			if err := u.AttachDevice(extBDF, tc.untrusted); err != nil {
				t.Fatal(err)
			}
			m, err := u.MapSingle(extBDF, buf, 512, ToDevice)
			if err != nil {
				t.Fatal(err)
			}
			if m.Bounced != tc.untrusted {
				t.Fatalf("Bounced = %v", m.Bounced)
			}
			page := make([]byte, PageSize)
			if err := u.DeviceAccess(extBDF, m.IOVA&^(PageSize-1), page, false); err != nil {
				t.Fatalf("device read of its mapped page: %v", err)
			}
			var want []byte
			if tc.untrusted {
				if m.Slot < testSwiotlbBase || m.Slot%PageSize != 0 || m.IOVA%PageSize != 0 {
					t.Errorf("slot %#x iova %#x: want a page-aligned slot in the pool", m.Slot, m.IOVA)
				}
				want = append(fill('D', 512), make([]byte, PageSize-512)...)
			} else {
				if m.IOVA%PageSize != buf%PageSize {
					t.Errorf("iova %#x keeps not the buffer's page offset", m.IOVA)
				}
				want = read(mem, kernelPage, PageSize)
				if !bytes.Contains(page, []byte("KKKK")) {
					t.Error("trusted device did not see the neighbouring kernel bytes")
				}
			}
			if !bytes.Equal(page, want) {
				t.Errorf("device read %q...", page[:64])
			}
			c := u.Counters()
			wantB := uint64(0)
			if tc.untrusted {
				wantB = 1
			}
			if c.Maps != 1 || c.Bounced != wantB || c.BouncedBytes != 512*wantB || c.SwiotlbSlotsUsed != 2*wantB || c.SwiotlbSlotsTotal != 32768 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

func TestUntrustedWholePagesAreNotBounced(t *testing.T) {
	u, mem, _ := newUnit(t, Config{})
	mem.WritePhys(kernelPage, fill('P', 2*PageSize))
	if err := u.AttachDevice(extBDF, true); err != nil {
		t.Fatal(err)
	}
	m, err := u.MapSingle(extBDF, kernelPage, 2*PageSize, ToDevice)
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounced || m.Slot != 0 {
		t.Errorf("page-aligned buffer bounced: %+v", m)
	}
	got := make([]byte, 2*PageSize)
	if err := u.DeviceAccess(extBDF, m.IOVA, got, false); err != nil || !bytes.Equal(got, fill('P', 2*PageSize)) {
		t.Errorf("read %v", err)
	}
}

func TestFromDeviceLandsOnlyAfterUnmap(t *testing.T) {
	for _, tc := range []struct {
		name      string
		untrusted bool
		dir       Dir
	}{
		{"untrusted from-device", true, FromDevice},
		{"untrusted bidirectional", true, Bidirectional},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, mem, _ := newUnit(t, Config{})
			buf := kernelWithBuffer(mem)
			before := read(mem, kernelPage, PageSize)
			if err := u.AttachDevice(extBDF, tc.untrusted); err != nil {
				t.Fatal(err)
			}
			m, err := u.MapSingle(extBDF, buf, 512, tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			// The device writes a whole page: its 512 bytes and the padding.
			if err := u.DeviceAccess(extBDF, m.IOVA, fill('W', PageSize), true); err != nil {
				t.Fatalf("device write: %v", err)
			}
			if got := read(mem, kernelPage, PageSize); !bytes.Equal(got, before) {
				t.Error("driver page changed before unmap")
			}
			if err := u.UnmapSingle(extBDF, m.IOVA); err != nil {
				t.Fatal(err)
			}
			want := append([]byte(nil), before...)
			copy(want[1024:1536], fill('W', 512))
			if got := read(mem, kernelPage, PageSize); !bytes.Equal(got, want) {
				t.Error("after unmap the page is not the original with just the 512 device bytes")
			}
			if got := read(mem, m.Slot, PageSize); !bytes.Equal(got, make([]byte, PageSize)) {
				t.Error("bounce slot not zeroed after unmap")
			}
			if c := u.Counters(); c.SwiotlbSlotsUsed != 0 || c.Unmaps != 1 || c.IOTLBInvalidations != 1 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     Dir
		offset  uint64 // from the mapping's page
		n       int
		write   bool
		reason  uint8
		faultAt uint64 // page offset from the mapping's page
		line    string
	}{
		{"read outside any mapping", ToDevice, 8 * PageSize, 16, false, 0x06, 8 * PageSize, "DMA Read"},
		{"write outside any mapping", FromDevice, 8 * PageSize, 16, true, 0x05, 8 * PageSize, "DMA Write"},
		{"write to a to-device mapping", ToDevice, 0, 16, true, 0x05, 0, "DMA Write"},
		{"read of a from-device mapping", FromDevice, 0, 16, false, 0x06, 0, "DMA Read"},
		{"write running off the mapping's end", Bidirectional, PageSize - 8, 16, true, 0x05, PageSize, "DMA Write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, mem, log := newUnit(t, Config{})
			buf := kernelWithBuffer(mem)
			if err := u.AttachDevice(extBDF, true); err != nil {
				t.Fatal(err)
			}
			m, err := u.MapSingle(extBDF, buf, 512, tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			page := m.IOVA &^ (PageSize - 1)
			n := log.len()
			mem.arm()
			b := fill('X', tc.n)
			err = u.DeviceAccess(extBDF, page+tc.offset, b, tc.write)
			if w := mem.disarm(); len(w) != 0 {
				t.Errorf("faulting access wrote %v", w)
			}
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("err = %v, want *Fault", err)
			}
			want := Fault{BDF: extBDF, Addr: page + tc.faultAt, Write: tc.write, Reason: tc.reason, Text: faultText[tc.reason]}
			if *f != want {
				t.Errorf("fault %+v, want %+v", *f, want)
			}
			wantLog := []string{
				"DMAR: DRHD: handling fault status reg 2",
				fmt.Sprintf("DMAR: [%s NO_PASID] Request device [38:00.0] fault addr 0x%x [fault reason 0x%02x] %s", tc.line, want.Addr, tc.reason, want.Text),
			}
			if got := log.since(n); !slices.Equal(got, wantLog) {
				t.Errorf("log %q, want %q", got, wantLog)
			}
			if !tc.write && !bytes.Equal(b, fill('X', tc.n)) {
				t.Error("faulting read filled the buffer")
			}
			if fs := u.Faults(); len(fs) != 1 || fs[0] != want {
				t.Errorf("Faults() = %+v", fs)
			}
			if c := u.Counters(); c.Faults != 1 {
				t.Errorf("Faults counter %d", c.Faults)
			}
		})
	}
}

func TestFaultUnattachedAndBeyondMGAW(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	var f *Fault
	err := u.DeviceAccess("0000:3b:00.0", 0x1234, make([]byte, 4), false)
	if !errors.As(err, &f) || f.Reason != FaultContextNotPresent || f.Addr != 0x1000 {
		t.Errorf("unattached device: %v", err)
	}
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	err = u.DeviceAccess(intBDF, 1<<48, make([]byte, 4), true)
	if !errors.As(err, &f) || f.Reason != FaultBeyondMGAW {
		t.Errorf("beyond MGAW: %v", err)
	}
	err = u.DeviceAccess(intBDF, ^uint64(0)-2, make([]byte, 8), true)
	if !errors.As(err, &f) || f.Reason != FaultBeyondMGAW {
		t.Errorf("wrapping access: %v", err)
	}
	if err := u.DeviceAccess("nonsense", 0, make([]byte, 1), false); err == nil || errors.As(err, &f) {
		t.Errorf("bad address: %v", err)
	}
}

func TestFaultRingKeepsLast64(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	for i := range 70 {
		_ = u.DeviceAccess(extBDF, uint64(i)<<pageShift, make([]byte, 1), false)
	}
	fs := u.Faults()
	if len(fs) != 64 || fs[0].Addr != 6<<pageShift || fs[63].Addr != 69<<pageShift {
		t.Errorf("ring holds %d, first %#x", len(fs), fs[0].Addr)
	}
	if c := u.Counters(); c.Faults != 70 {
		t.Errorf("Faults counter %d", c.Faults)
	}
}

// Strict mode closes the window lazy mode leaves: a translation cached before
// unmap keeps working until the flush queue is flushed.
func TestUnmapInvalidation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		strict     bool
		untrusted  bool
		warm       bool // device used the mapping before unmap (IOTLB filled)
		staleWorks bool
	}{
		{"strict trusted", true, false, true, false},
		{"lazy trusted warm IOTLB", false, false, true, true},
		{"lazy trusted cold IOTLB", false, false, false, false},
		{"lazy config, untrusted device is strict", false, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, mem, _ := newUnit(t, Config{Strict: tc.strict})
			kernelWithBuffer(mem)
			if err := u.AttachDevice(extBDF, tc.untrusted); err != nil {
				t.Fatal(err)
			}
			m, err := u.MapSingle(extBDF, kernelPage, PageSize, Bidirectional)
			if err != nil {
				t.Fatal(err)
			}
			if tc.warm {
				if err := u.DeviceAccess(extBDF, m.IOVA, make([]byte, 8), false); err != nil {
					t.Fatal(err)
				}
			}
			if err := u.UnmapSingle(extBDF, m.IOVA); err != nil {
				t.Fatal(err)
			}
			mem.arm()
			err = u.DeviceAccess(extBDF, m.IOVA, fill('S', 8), true)
			w := mem.disarm()
			c := u.Counters()
			if tc.staleWorks {
				if err != nil {
					t.Fatalf("stale access: %v", err)
				}
				if len(w) != 1 || w[0].addr != kernelPage {
					t.Errorf("stale write went to %v", w)
				}
				if c.StaleTranslations != 1 || c.FlushQueued != 1 || c.IOTLBInvalidations != 0 {
					t.Errorf("counters %+v", c)
				}
				u.Flush()
				if c := u.Counters(); c.FlushQueueFlushes != 1 {
					t.Errorf("FlushQueueFlushes %d", c.FlushQueueFlushes)
				}
				err = u.DeviceAccess(extBDF, m.IOVA, fill('S', 8), true)
			} else if !tc.strict && !tc.untrusted && c.FlushQueued != 1 {
				t.Errorf("lazy unmap not queued: %+v", c)
			}
			var f *Fault
			if !errors.As(err, &f) || f.Reason != FaultWriteNotSet {
				t.Errorf("access after invalidation: %v", err)
			}
			if (tc.strict || tc.untrusted) && (c.IOTLBInvalidations != 1 || c.FlushQueued != 0) {
				t.Errorf("strict counters %+v", c)
			}
		})
	}
}

func TestFlushQueueFlushesWhenFull(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	for i := range IOVAFQSize + 1 {
		m, err := u.MapSingle(intBDF, kernelPage, 64, ToDevice)
		if err != nil {
			t.Fatalf("map %d: %v", i, err)
		}
		if err := u.UnmapSingle(intBDF, m.IOVA); err != nil {
			t.Fatal(err)
		}
	}
	c := u.Counters()
	if c.FlushQueued != IOVAFQSize+1 || c.FlushQueueFlushes != 1 {
		t.Errorf("counters %+v", c)
	}
	u.Flush()
	u.Flush() // nothing queued: the timer is not armed
	if c := u.Counters(); c.FlushQueueFlushes != 2 {
		t.Errorf("FlushQueueFlushes %d", c.FlushQueueFlushes)
	}
}

func TestIOVAAllocation(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, tc := range []struct{ phys, size uint64 }{
		{kernelPage + 0x10, 0x100},   // one page
		{kernelPage, 2 * PageSize},   // two pages, 2-page aligned
		{kernelPage + 0x800, 0x1000}, // straddles: two pages
		{kernelPage, 3 * PageSize},   // three pages, 4-page aligned
	} {
		m, err := u.MapSingle(intBDF, tc.phys, tc.size, ToDevice)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.IOVA)
	}
	// iova.c: top-down from the 32-bit limit, size-aligned.
	want := []uint64{0xfffff010, 0xffffc000, 0xffffa800, 0xffff4000}
	if !slices.Equal(got, want) {
		t.Errorf("IOVAs %#x, want %#x", got, want)
	}
}

func TestIOVAExhaustion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strict   bool
		reuseNow bool
	}{
		{"strict frees at unmap", true, true},
		{"lazy frees at flush", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _, _ := newUnit(t, Config{Strict: tc.strict, IOVABits: 14}) // pfns 1..3
			if err := u.AttachDevice(intBDF, false); err != nil {
				t.Fatal(err)
			}
			var ms []Mapping
			for range 3 {
				m, err := u.MapSingle(intBDF, kernelPage, 8, ToDevice)
				if err != nil {
					t.Fatal(err)
				}
				ms = append(ms, m)
			}
			before := u.Counters()
			if _, err := u.MapSingle(intBDF, kernelPage, 8, ToDevice); err == nil || !strings.Contains(err.Error(), "IOVA space exhausted") {
				t.Fatalf("4th map: %v", err)
			}
			if u.Counters() != before {
				t.Error("failed map changed counters")
			}
			if err := u.UnmapSingle(intBDF, ms[1].IOVA); err != nil {
				t.Fatal(err)
			}
			_, err := u.MapSingle(intBDF, kernelPage, 8, ToDevice)
			if (err == nil) != tc.reuseNow {
				t.Fatalf("map after unmap: %v", err)
			}
			if !tc.reuseNow {
				u.Flush()
				if _, err := u.MapSingle(intBDF, kernelPage, 8, ToDevice); err != nil {
					t.Fatalf("map after flush: %v", err)
				}
			}
		})
	}
}

func TestSwiotlbFull(t *testing.T) {
	u, _, log := newUnit(t, Config{SwiotlbBytes: 2 * PageSize}) // 4 slots
	if err := u.AttachDevice(extBDF, true); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := u.MapSingle(extBDF, kernelPage+8, 512, ToDevice); err != nil {
			t.Fatal(err)
		}
	}
	before := u.Counters()
	n := log.len()
	_, err := u.MapSingle(extBDF, kernelPage+8, 512, ToDevice)
	msg := "swiotlb buffer is full (sz: 512 bytes), total 4 (slots), used 4 (slots)"
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v", err)
	}
	if got := log.since(n); !slices.Equal(got, []string{"pci " + extBDF + ": " + msg}) {
		t.Errorf("log %q", got)
	}
	if after := u.Counters(); after != before {
		t.Errorf("counters changed: %+v -> %+v", before, after)
	}
	if len(u.Devices()[0].Mappings) != 2 {
		t.Error("failed map left a mapping")
	}
	// Larger than IO_TLB_SEGSIZE slots can never bounce.
	big, _, _ := newUnit(t, Config{})
	if err := big.AttachDevice(extBDF, true); err != nil {
		t.Fatal(err)
	}
	if _, err := big.MapSingle(extBDF, kernelPage, 256<<10+1, ToDevice); err == nil {
		t.Error("bounce of 256 KiB + 1 byte succeeded")
	}
	if _, err := big.MapSingle(extBDF, kernelPage+1, 256<<10, ToDevice); err != nil {
		t.Errorf("bounce of 256 KiB at an odd address: %v", err)
	}
}

func TestBounceVerificationRefusesBadCopy(t *testing.T) {
	u, mem, log := newUnit(t, Config{})
	mem.corruptLo, mem.corruptHi = testSwiotlbBase, testSwiotlbBase+DefaultSwiotlbBytes
	buf := kernelWithBuffer(mem)
	if err := u.AttachDevice(extBDF, true); err != nil {
		t.Fatal(err)
	}
	before := u.Counters()
	if _, err := u.MapSingle(extBDF, buf, 512, ToDevice); err == nil || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("err = %v", err)
	}
	if !log.contains("mapping refused") {
		t.Error("no log line for the refused mapping")
	}
	if after := u.Counters(); after != before {
		t.Errorf("counters changed: %+v -> %+v", before, after)
	}
	if len(u.Devices()[0].Mappings) != 0 {
		t.Error("refused map left a mapping")
	}
}

func TestMapErrors(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bdf  string
		phys uint64
		size uint64
		dir  Dir
	}{
		{"unknown device", extBDF, kernelPage, 8, ToDevice},
		{"bad address", "zz", kernelPage, 8, ToDevice},
		{"size 0", intBDF, kernelPage, 0, ToDevice},
		{"bad direction", intBDF, kernelPage, 8, 0},
		{"too large", intBDF, 0, MaxMapBytes + 1, ToDevice},
		{"wraps", intBDF, ^uint64(0) - 4, 8, ToDevice},
	} {
		if _, err := u.MapSingle(tc.bdf, tc.phys, tc.size, tc.dir); err == nil {
			t.Errorf("%s: map succeeded", tc.name)
		}
	}
	if c := u.Counters(); c.Maps != 0 {
		t.Errorf("Maps %d", c.Maps)
	}
	if err := u.UnmapSingle(intBDF, 0x1000); err == nil {
		t.Error("unmap of nothing succeeded")
	}
	if err := u.UnmapSingle(extBDF, 0x1000); err == nil {
		t.Error("unmap on unknown device succeeded")
	}
	if err := u.DetachDevice(extBDF); err == nil {
		t.Error("detach of unknown device succeeded")
	}
}

func TestDetachWithLiveMappings(t *testing.T) {
	u, mem, log := newUnit(t, Config{})
	buf := kernelWithBuffer(mem)
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	if err := u.AttachDevice(extBDF, true); err != nil {
		t.Fatal(err)
	}
	m1, err := u.MapSingle(extBDF, buf, 512, FromDevice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.MapSingle(extBDF, kernelPage, PageSize, ToDevice); err != nil {
		t.Fatal(err)
	}
	if err := u.DeviceAccess(extBDF, m1.IOVA, fill('W', 512), true); err != nil {
		t.Fatal(err)
	}
	n := log.len()
	if err := u.DetachDevice(extBDF); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DMA-API: pci 0000:38:00.0: device driver has pending DMA allocations while released from device [count=2]",
		fmt.Sprintf("One of leaked entries details: [device address=0x%016x] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [mapped as single]", uint64(0xffffe000)),
		"iommu: Removing device 0000:38:00.0 from group 1",
	}
	if got := log.since(n); !slices.Equal(got, want) {
		t.Errorf("detach log\n%q\nwant\n%q", got, want)
	}
	c := u.Counters()
	if c.SwiotlbSlotsUsed != 0 || c.Unmaps != 2 {
		t.Errorf("counters %+v", c)
	}
	if !bytes.Equal(read(mem, buf, 512), fill('W', 512)) {
		t.Error("leaked from-device mapping was not copied back")
	}
	if devs := u.Devices(); len(devs) != 1 || devs[0].BDF != intBDF {
		t.Errorf("Devices() = %+v", devs)
	}
	var f *Fault
	if err := u.DeviceAccess(extBDF, m1.IOVA, make([]byte, 1), false); !errors.As(err, &f) || f.Reason != FaultContextNotPresent {
		t.Errorf("access after detach: %v", err)
	}
	// The group number is free again.
	if err := u.AttachDevice("0000:39:00.0", false); err != nil {
		t.Fatal(err)
	}
	if devs := u.Devices(); devs[1].Group != 1 {
		t.Errorf("reattach group %d", devs[1].Group)
	}
}

func TestDetachFlushesStaleEntries(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	m, err := u.MapSingle(intBDF, kernelPage, PageSize, ToDevice)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.DeviceAccess(intBDF, m.IOVA, make([]byte, 4), false); err != nil {
		t.Fatal(err)
	}
	if err := u.UnmapSingle(intBDF, m.IOVA); err != nil {
		t.Fatal(err)
	}
	if err := u.DetachDevice(intBDF); err != nil {
		t.Fatal(err)
	}
	if err := u.AttachDevice(intBDF, false); err != nil { // same domain id again
		t.Fatal(err)
	}
	if err := u.DeviceAccess(intBDF, m.IOVA, make([]byte, 4), false); err == nil {
		t.Error("stale entry survived detach")
	}
}

func TestIOTLBCounters(t *testing.T) {
	u, _, _ := newUnit(t, Config{})
	if err := u.AttachDevice(intBDF, false); err != nil {
		t.Fatal(err)
	}
	m, err := u.MapSingle(intBDF, kernelPage, 2*PageSize, ToDevice)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := u.DeviceAccess(intBDF, m.IOVA+PageSize-4, make([]byte, 8), false); err != nil {
			t.Fatal(err)
		}
	}
	if c := u.Counters(); c.IOTLBMisses != 2 || c.IOTLBHits != 4 {
		t.Errorf("hits %d misses %d", c.IOTLBHits, c.IOTLBMisses)
	}
}

func TestConcurrentMapUnmap(t *testing.T) {
	u, mem, _ := newUnit(t, Config{})
	const workers, rounds = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		bdf := fmt.Sprintf("0000:%02x:00.0", 0x38+w)
		if err := u.AttachDevice(bdf, w%2 == 0); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := uint64(kernelPage + w*PageSize)
			for i := range rounds {
				pattern := fill(byte('a'+w), 100)
				m, err := u.MapSingle(bdf, buf+16, 100, FromDevice)
				if err != nil {
					errs <- err
					return
				}
				if err := u.DeviceAccess(bdf, m.IOVA, pattern, true); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					u.Flush()
				}
				if err := u.UnmapSingle(bdf, m.IOVA); err != nil {
					errs <- err
					return
				}
				if got := read(mem, buf+16, 100); !bytes.Equal(got, pattern) {
					errs <- fmt.Errorf("%s: buffer holds %q", bdf, got[:4])
					return
				}
				_ = u.Counters()
				_ = u.Devices()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := u.Counters()
	if c.Maps != workers*rounds || c.Unmaps != workers*rounds || c.SwiotlbSlotsUsed != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(Mapping{IOVA: 1, Size: 2, Phys: 3, Dir: FromDevice, Bounced: true, Slot: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iova":1,"size":2,"phys":3,"dir":"DMA_FROM_DEVICE","bounced":true,"slot":4}`
	if string(b) != want {
		t.Errorf("%s, want %s", b, want)
	}
	var m Mapping
	if err := json.Unmarshal(b, &m); err != nil || m.Dir != FromDevice {
		t.Errorf("round trip %+v %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"dir":"DMA_NONE"}`), &m); err == nil {
		t.Error("DMA_NONE accepted")
	}
	b, _ = json.Marshal(Counters{StaleTranslations: 1})
	if !strings.Contains(string(b), `"stale_translations":1`) {
		t.Errorf("counters json %s", b)
	}
}

func TestSparseMemory(t *testing.T) {
	m := NewSparseMemory()
	m.WritePhys(PageSize-2, []byte{1, 2, 3, 4})
	if got := read(m, PageSize-4, 8); !bytes.Equal(got, []byte{0, 0, 1, 2, 3, 4, 0, 0}) {
		t.Errorf("read %v", got)
	}
	if m.Pages() != 2 {
		t.Errorf("pages %d", m.Pages())
	}
	m.WritePhys(PageSize-2, make([]byte, 4))
	if m.Pages() != 0 {
		t.Errorf("zeroed pages kept: %d", m.Pages())
	}
	m.WritePhys(^uint64(0), []byte{9, 9}) // wraps to 0
	if got := read(m, 0, 1); got[0] != 9 {
		t.Errorf("wrap write lost: %v", got)
	}
}

func TestParseBDF(t *testing.T) {
	for _, tc := range []struct {
		in, out string
	}{
		{"0000:38:00.0", "0000:38:00.0"},
		{"38:00.0", "0000:38:00.0"},
		{"0001:FF:1f.7", "0001:ff:1f.7"},
		{"0000:38:20.0", ""},
		{"0000:38:00.8", ""},
		{"000:38:00.0", ""},
		{"38:0.0", ""},
		{"+3:00.0", ""},
		{"", ""},
	} {
		id, err := parseBDF(tc.in)
		if tc.out == "" {
			if err == nil {
				t.Errorf("%q parsed as %s", tc.in, id)
			}
			continue
		}
		if err != nil || id.String() != tc.out {
			t.Errorf("%q -> %s, %v; want %s", tc.in, id, err, tc.out)
		}
	}
}

package cxl

import (
	"fmt"
	"time"
)

// DeviceSpec is an expander card: what the operator seats in a slot.
type DeviceSpec struct {
	// Capacity is the volatile capacity in bytes (a multiple of 256 MiB,
	// the HDM decoders' granule).
	Capacity uint64 `json:"capacity"`
	// Trusted marks the device as not external: its DMA goes through the
	// IOMMU without bounce buffering or forced strict invalidation.
	// Devices below a hot-plug slot are untrusted by default, as Linux
	// marks devices behind external-facing ports (set_pcie_untrusted).
	Trusted bool   `json:"trusted"`
	Serial  uint64 `json:"serial"`
	// ReadLatency, WriteLatency and Bandwidth are the media's figures the
	// device reports in its CDAT (DSLBIS); zero takes 150 ns, 170 ns and
	// 32 GB/s.
	ReadLatency  time.Duration `json:"read_latency,omitempty"`
	WriteLatency time.Duration `json:"write_latency,omitempty"`
	Bandwidth    uint64        `json:"bandwidth_mbs,omitempty"`
	// Online is how daxctl onlines the memory: "online_movable" (its
	// default, so the memory can be unplugged again) unless set to
	// "online_kernel" or "online".
	Online string `json:"online,omitempty"`
	// CorruptCDAT makes the device answer a CDAT whose checksum does not
	// add up, as faulty firmware would (the driver logs it and goes on
	// without the device's performance data).
	CorruptCDAT bool `json:"corrupt_cdat,omitempty"`
}

// Identity of the modelled card: QEMU's cxl-type3 IDs, class 0x0502
// (CXL memory device), programming interface 0x10 (CXL 2.0 memory device).
const (
	vendorID  = 0x8086
	deviceID  = 0x0d93
	classCode = 0x050210
	// barSize is BAR 0: component registers and the mailbox.
	barSize      = 2 << 20
	hdmGranule   = 256 << 20
	hdmDecoders  = 4
	maxCapacity  = 1 << 46 // 64 TiB: far beyond any card, below any window
	dsmasHandle  = 0
	defaultRdLat = 150 * time.Nanosecond
	defaultWrLat = 170 * time.Nanosecond
	defaultMBs   = 32_000
)

// Decoder is one HDM decoder's registers (CXL 3.1 §8.2.4.20.5-.12).
type Decoder struct {
	Name        string `json:"name"`
	Base        uint64 `json:"base"`
	Size        uint64 `json:"size"`
	Ways        int    `json:"interleave_ways"`
	Granularity uint32 `json:"interleave_granularity"`
	Committed   bool   `json:"committed"`
	Error       string `json:"error,omitempty"`
}

// Device is an expander as the host sees it once seated.
type Device struct {
	Spec DeviceSpec `json:"spec"`
	// cdat is the table the DOE mailbox serves.
	cdat  *CDAT
	image []byte
	doe   *TableAccess
	hdm   [hdmDecoders]Decoder
	// Driver-side state.
	memdev    string
	endpoint  string
	readCDAT  *CDAT
	exchanges int
	cdatErr   string
	region    *region
	untrusted bool
}

func newDevice(spec DeviceSpec) (*Device, error) {
	if spec.Capacity == 0 || spec.Capacity%hdmGranule != 0 || spec.Capacity > maxCapacity {
		return nil, fmt.Errorf("%w: capacity %d MiB must be a non-zero multiple of 256 MiB up to 64 TiB", ErrInvalid, spec.Capacity>>20)
	}
	switch spec.Online {
	case "":
		spec.Online = "online_movable"
	case "online_movable", "online_kernel", "online":
	default:
		return nil, fmt.Errorf("%w: online %q: want online_movable, online_kernel or online", ErrInvalid, spec.Online)
	}
	if spec.ReadLatency == 0 {
		spec.ReadLatency = defaultRdLat
	}
	if spec.WriteLatency == 0 {
		spec.WriteLatency = defaultWrLat
	}
	if spec.Bandwidth == 0 {
		spec.Bandwidth = defaultMBs
	}
	d := &Device{Spec: spec, cdat: buildCDAT(spec)}
	d.image = d.cdat.Encode()
	if spec.CorruptCDAT && len(d.image) > 5 {
		d.image[5]++ // the checksum byte
	}
	var err error
	if d.doe, err = NewTableAccess(d.image); err != nil {
		return nil, fmt.Errorf("%w: CDAT: %w", ErrInvalid, err)
	}
	return d, nil
}

// buildCDAT describes the card as a type-3 device's CDAT does: one DSMAS
// for its volatile range, DSLBIS entries for read/write latency and
// bandwidth (picoseconds and MB/s, base unit 1), and a DSEMTS saying the
// range is conventional memory.
func buildCDAT(s DeviceSpec) *CDAT {
	// Latency entries count nanoseconds: base unit 1000 ps.
	ns := func(d time.Duration) uint16 { return uint16(min(uint64(d.Nanoseconds()), 0xFFFF)) }
	mbs := uint16(min(s.Bandwidth/1000, 0xFFFF))
	return &CDAT{Revision: 1, Sequence: 1,
		DSMAS: []DSMAS{{Handle: dsmasHandle, DPABase: 0, DPALength: s.Capacity}},
		DSLBIS: []DSLBIS{
			{Handle: dsmasHandle, DataType: 1, BaseUnit: 1000, Entries: [3]uint16{ns(s.ReadLatency)}},
			{Handle: dsmasHandle, DataType: 2, BaseUnit: 1000, Entries: [3]uint16{ns(s.WriteLatency)}},
			{Handle: dsmasHandle, DataType: 4, BaseUnit: 1000, Entries: [3]uint16{mbs}},
			{Handle: dsmasHandle, DataType: 5, BaseUnit: 1000, Entries: [3]uint16{mbs}},
		},
		DSEMTS: []DSEMTS{{Handle: dsmasHandle, MemoryType: 0, DPAOffset: 0, DPALength: s.Capacity}},
	}
}

// commit programs decoder i and sets its Commit bit. The device checks
// what CXL 3.1 §8.2.4.20.12 lets it check: 256 MiB aligned base and size,
// a supported interleave, and that decoder i-1 is committed (decoders
// commit in order and cover increasing addresses).
func commitDecoder(decs []Decoder, i int, base, size uint64, ways int, gran uint32) error {
	d := &decs[i]
	fail := func(why string) error {
		d.Error = why
		return fmt.Errorf("%s: commit error: %s", d.Name, why)
	}
	switch {
	case d.Committed:
		return fail("already committed (reset it first)")
	case base%hdmGranule != 0 || size%hdmGranule != 0 || size == 0:
		return fail(fmt.Sprintf("base %#x and size %#x must be multiples of 256 MiB", base, size))
	case ways != 1 && ways != 2 && ways != 4 && ways != 8 && ways != 16 && ways != 3 && ways != 6 && ways != 12:
		return fail(fmt.Sprintf("interleave ways %d not supported", ways))
	case i > 0 && !decs[i-1].Committed:
		return fail(fmt.Sprintf("%s is not committed: decoders commit in order", decs[i-1].Name))
	case i > 0 && base < decs[i-1].Base+decs[i-1].Size:
		return fail(fmt.Sprintf("base %#x below the end of %s", base, decs[i-1].Name))
	}
	d.Base, d.Size, d.Ways, d.Granularity, d.Committed, d.Error = base, size, ways, gran, true, ""
	return nil
}

// resetDecoder clears decoder i; later decoders must be reset first.
func resetDecoder(decs []Decoder, i int) error {
	for j := i + 1; j < len(decs); j++ {
		if decs[j].Committed {
			return fmt.Errorf("%s: reset refused: %s above it is still committed", decs[i].Name, decs[j].Name)
		}
	}
	name := decs[i].Name
	decs[i] = Decoder{Name: name}
	return nil
}

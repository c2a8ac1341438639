package firmware

import (
	"fmt"
	"time"
)

// CXL host bridges and the memory windows firmware reserves for them.
//
// CXL memory is not part of the address map the memory controllers decode:
// an expander behind a host bridge is reached through a CXL Fixed Memory
// Window, a range of host physical address space the platform routes to
// that host bridge. Firmware fixes the windows at boot and describes them in
// the CEDT (CXL 3.1 §9.18): one CHBS per host bridge, one CFMWS per window.
// Nothing can grow a window after boot, so a hot-plugged expander is usable
// only if firmware pre-allocated a window for its host bridge that is large
// enough; that is the "pre-allocation of resources in platform firmware"
// the seed's CXL comparison calls critical. The windows are placed above
// everything else in the address map, 1 GiB aligned (CFMWS requires
// 256 MiB; Linux's memory blocks want the larger alignment).

// CXLHostBridge is one CXL host bridge (ACPI0016) and its window.
type CXLHostBridge struct {
	// UID is the host bridge's _UID, which CHBS and CFMWS targets name.
	UID uint32 `json:"uid"`
	// Socket is the CPU socket whose root complex holds the host bridge.
	Socket int `json:"socket"`
	// WindowSize is the CFMWS firmware reserves for the bridge; 0 means
	// none (the expander will enumerate but its memory cannot be mapped).
	WindowSize uint64 `json:"window_size"`
}

// CXLWindow is a CFMWS as firmware placed it.
type CXLWindow struct {
	Index      int    `json:"index"`
	Base       uint64 `json:"base"`
	Size       uint64 `json:"size"`
	HostBridge uint32 `json:"host_bridge"`
	Socket     int    `json:"socket"`
	// PXM is the proximity domain Linux invents for the window
	// (acpi_parse_cfmws: one past the highest the SRAT names), which
	// becomes the window's NUMA node.
	PXM          uint32 `json:"pxm"`
	Restrictions uint16 `json:"restrictions"`
}

// CXL component register blocks (CHBCR) sit in the 32-bit MMIO hole, one
// 64 KiB block per CXL 2.0 host bridge.
const (
	chbcrBase = 0xFE00_0000
	chbcrSize = 0x1_0000
	// cxlWindowAlign is the windows' alignment.
	cxlWindowAlign = 1 << 30
	// Host bridge latency and bandwidth from a CPU of its own socket: the
	// HMAT figures for the Generic Port domain (ACPI 6.5 §5.2.28.4), which
	// the CXL driver adds the link's and the device's to.
	hostBridgeLatency = 40 * time.Nanosecond
	hostBridgeMBs     = 64_000 // a PCIe 5.0 x16 root port
)

// placeCXL lays the windows out above top and fixes the generic port and
// window proximity domains.
func placeCXL(bridges []CXLHostBridge, sockets int, top uint64, bits int) ([]CXLWindow, error) {
	next := alignUp(top, cxlWindowAlign)
	var out []CXLWindow
	for _, b := range bridges {
		if b.Socket < 0 || b.Socket >= sockets {
			return nil, fmt.Errorf("CXL host bridge %d: socket %d does not exist", b.UID, b.Socket)
		}
		if b.WindowSize == 0 {
			continue
		}
		if b.WindowSize%(256<<20) != 0 {
			return nil, fmt.Errorf("CXL host bridge %d: window of %d MiB is not a multiple of 256 MiB (CXL 3.1 §9.18.1.3)", b.UID, b.WindowSize>>20)
		}
		end := next + b.WindowSize
		if end < next || (bits > 0 && bits < 64 && end > 1<<bits) {
			return nil, fmt.Errorf("CXL host bridge %d: window of %d GiB at %#x does not fit below the %d-bit physical address space", b.UID, b.WindowSize>>30, next, bits)
		}
		out = append(out, CXLWindow{Index: len(out), Base: next, Size: b.WindowSize, HostBridge: b.UID, Socket: b.Socket,
			PXM: uint32(sockets + len(bridges) + len(out)), Restrictions: CFMWSHostOnlyCoherent | CFMWSVolatile})
		next = alignUp(end, cxlWindowAlign)
	}
	return out, nil
}

// CXLWindows lists the fixed memory windows firmware reserved.
func (f *Firmware) CXLWindows() []CXLWindow {
	return append([]CXLWindow(nil), f.cxlWindows...)
}

// CXLHostBridges lists the host bridges with the generic port proximity
// domain of each.
func (f *Firmware) CXLHostBridges() []CXLHostBridge {
	return append([]CXLHostBridge(nil), f.cfg.CXL...)
}

// GenericPortPXM is the proximity domain of a host bridge's generic port.
func (f *Firmware) GenericPortPXM(uid uint32) (uint32, bool) {
	for i, b := range f.cfg.CXL {
		if b.UID == uid {
			return uint32(f.amap.sockets + i), true
		}
	}
	return 0, false
}

// GenericPortAccess is what the HMAT says about reaching a host bridge's
// generic port from a CPU of its own socket (access class 1).
func (f *Firmware) GenericPortAccess() (latency time.Duration, mbs uint64) {
	return hostBridgeLatency, hostBridgeMBs
}

// CEDT builds the CXL Early Discovery Table; nil when the platform has no
// CXL host bridge.
func (f *Firmware) CEDT() *CEDT {
	if len(f.cfg.CXL) == 0 {
		return nil
	}
	t := &CEDT{Header: newHeader("CEDT", 1)}
	for i, b := range f.cfg.CXL {
		t.HostBridges = append(t.HostBridges, CHBS{UID: b.UID, CXLVersion: CHBSVersionCXL2,
			Base: chbcrBase + uint64(i)*chbcrSize, Length: chbcrSize})
	}
	for _, w := range f.cxlWindows {
		t.Windows = append(t.Windows, CFMWS{BaseHPA: w.Base, WindowSize: w.Size, InterleaveWays: 1,
			GranularityBytes: 256, Restrictions: w.Restrictions, Targets: []uint32{w.HostBridge}})
	}
	return t
}

// CEDTText is the CEDT as `ctl acpi cedt` prints it (iasl -d style).
func (f *Firmware) CEDTText() string {
	t := f.CEDT()
	if t == nil {
		return "no CEDT: the platform has no CXL host bridge"
	}
	b, err := t.Encode()
	if err != nil {
		return "error: " + err.Error()
	}
	s, err := DisassembleCEDT(b)
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// genericPorts are the SRAT's Generic Port Affinity entries, one per host
// bridge, in proximity domains after the sockets'.
func (f *Firmware) genericPorts() []GenericPortAffinity {
	var out []GenericPortAffinity
	for i, b := range f.cfg.CXL {
		out = append(out, GenericPortAffinity{ProximityDomain: uint32(f.amap.sockets + i), HID: "ACPI0016", UID: b.UID, Flags: 1})
	}
	return out
}

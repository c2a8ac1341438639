package cxl

import (
	"fmt"
	"slices"

	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Status is the CXL side as `cxl list`, lspci and sysfs would show it.
type Status struct {
	HostBridges []HostBridgeStatus `json:"host_bridges"`
	Windows     []WindowStatus     `json:"windows"`
	Slots       []SlotStatus       `json:"slots"`
	IOMMU       iommu.Counters     `json:"iommu"`
	Faults      []iommu.Fault      `json:"iommu_faults,omitempty"`
}

// HostBridgeStatus is a host bridge with its HDM decoders.
type HostBridgeStatus struct {
	HostBridge
	Decoders []Decoder `json:"decoders"`
}

// WindowStatus is a CFMWS and what is mapped in it.
type WindowStatus struct {
	Window
	Used  []RangeOwner `json:"used,omitempty"`
	Free  uint64       `json:"free"`
	Label string       `json:"label"`
}

// RangeOwner is a taken range of a window.
type RangeOwner struct {
	Start uint64 `json:"start"`
	Size  uint64 `json:"size"`
	Owner string `json:"owner"`
}

// SlotStatus is a hot-plug slot and its card.
type SlotStatus struct {
	Slot       string        `json:"slot"`
	Number     int           `json:"number"`
	HostBridge uint32        `json:"host_bridge"`
	RootPort   string        `json:"root_port"`
	MMIO       uint64        `json:"mmio_window"`
	Lanes      int           `json:"lanes"`
	State      string        `json:"state"`
	Power      bool          `json:"power"`
	Reason     string        `json:"reason,omitempty"`
	Leaked     []RangeOwner  `json:"leaked,omitempty"`
	Device     *DeviceStatus `json:"device,omitempty"`
}

// DeviceStatus is the card and what the drivers made of it.
type DeviceStatus struct {
	BDF       string     `json:"bdf"`
	VendorID  string     `json:"vendor_id"`
	DeviceID  string     `json:"device_id"`
	Class     string     `json:"class"`
	Spec      DeviceSpec `json:"spec"`
	Untrusted bool       `json:"untrusted"`
	Memdev    string     `json:"memdev,omitempty"`
	Endpoint  string     `json:"endpoint,omitempty"`
	// CDAT is the table the driver read over DOE, and in how many
	// exchanges; CDATError why it has none.
	CDAT         *CDAT         `json:"cdat,omitempty"`
	DOEExchanges int           `json:"doe_exchanges,omitempty"`
	CDATError    string        `json:"cdat_error,omitempty"`
	Decoders     []Decoder     `json:"decoders"`
	Region       *RegionStatus `json:"region,omitempty"`
}

// RegionStatus is a mapped region with its dax device and kmem memory.
type RegionStatus struct {
	Name        string                  `json:"name"`
	Dax         string                  `json:"dax"`
	Window      int                     `json:"window"`
	Base        uint64                  `json:"base"`
	Size        uint64                  `json:"size"`
	Node        int                     `json:"node"`
	KmemStart   uint64                  `json:"kmem_start"`
	KmemSize    uint64                  `json:"kmem_size"`
	OnlineBytes uint64                  `json:"online_bytes"`
	Perf        kernel.AccessCoordinate `json:"perf"`
}

// Status reports the bus.
func (b *Bus) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	var st Status
	for _, uid := range b.bridgeUIDs() {
		st.HostBridges = append(st.HostBridges, HostBridgeStatus{HostBridge: b.bridges[uid], Decoders: append([]Decoder(nil), b.hb[uid]...)})
	}
	for _, w := range b.windows {
		ws := WindowStatus{Window: w.Window, Free: w.Size - w.usedBytes(), Label: fmt.Sprintf("CXL Window %d", w.Index)}
		for _, u := range w.used {
			ws.Used = append(ws.Used, RangeOwner{Start: u.start, Size: u.size, Owner: u.owner})
		}
		st.Windows = append(st.Windows, ws)
	}
	for _, p := range b.ports {
		s := SlotStatus{Slot: p.cfg.Slot, Number: p.cfg.Number, HostBridge: p.cfg.HostBridge, RootPort: p.rootBDF(),
			MMIO: p.cfg.MMIO, Lanes: p.cfg.Lanes, State: p.state, Power: p.power, Reason: p.reason}
		for _, l := range p.leaked {
			s.Leaked = append(s.Leaked, RangeOwner{Start: l.start, Size: l.size, Owner: l.owner})
		}
		if d := p.dev; d != nil {
			ds := &DeviceStatus{BDF: p.devBDF(), VendorID: fmt.Sprintf("%04x", vendorID), DeviceID: fmt.Sprintf("%04x", deviceID),
				Class: fmt.Sprintf("%06x", classCode), Spec: d.Spec, Untrusted: !d.Spec.Trusted, Memdev: d.memdev, Endpoint: d.endpoint,
				CDAT: d.readCDAT, DOEExchanges: d.exchanges, CDATError: d.cdatErr, Decoders: append([]Decoder(nil), d.hdm[:]...)}
			if r := d.region; r != nil {
				ds.Region = &RegionStatus{Name: r.name, Dax: r.dax, Window: r.window.Index, Base: r.base, Size: r.size, Node: r.node,
					KmemStart: r.kmemStart, KmemSize: r.kmemSize, OnlineBytes: b.onlineBytes(r), Perf: r.perf}
			}
			s.Device = ds
		}
		st.Slots = append(st.Slots, s)
	}
	st.IOMMU = b.mmu.Counters()
	st.Faults = b.mmu.Faults()
	return st
}

func (b *Bus) bridgeUIDs() []uint32 {
	var out []uint32
	for uid := range b.bridges {
		out = append(out, uid)
	}
	slices.Sort(out)
	return out
}

// CDATText is the CDAT the device in slot serves, disassembled.
func (b *Bus) CDATText(slot string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return "", err
	}
	if p.dev == nil {
		return "", fmt.Errorf("cxl: slot %s: %w: no card in the slot", slot, ErrState)
	}
	return DisassembleCDAT(p.dev.image)
}

// SlotState is one slot's state ("" for an unknown slot), without
// building the whole status.
func (b *Bus) SlotState(slot string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.byName[slot]; p != nil {
		return p.state
	}
	return ""
}

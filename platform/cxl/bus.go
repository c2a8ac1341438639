package cxl

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Errors, each wrapped with the reason a user can act on.
var (
	// ErrNoSlot: no such CXL slot.
	ErrNoSlot = errors.New("no such CXL slot")
	// ErrState: the slot is not in a state that takes the request.
	ErrState = errors.New("slot state")
	// ErrNotRecognized: the device enumerated but no driver could bind
	// (its BAR found no MMIO space on the root port).
	ErrNotRecognized = errors.New("device not recognized")
	// ErrNoWindow: no CFMWS targets the host bridge, or none has room:
	// the memory cannot be mapped.
	ErrNoWindow = errors.New("no CXL memory window")
	// ErrBusy: the memory could not be offlined; nothing was removed.
	ErrBusy = errors.New("memory busy")
	// ErrInvalid: a malformed request.
	ErrInvalid = errors.New("invalid request")
)

// HostBridge is a CXL host bridge as firmware described it: its UID, the
// socket it hangs off, and the HMAT's figures for reaching its generic
// port from a CPU of that socket.
type HostBridge struct {
	UID     uint32        `json:"uid"`
	Socket  int           `json:"socket"`
	Latency time.Duration `json:"latency_ns"` // nanoseconds on the wire
	MBs     uint64        `json:"bandwidth_mbs"`
}

// Window is a CFMWS: host physical address space routed to one host
// bridge, and the NUMA node Linux created for it at boot.
type Window struct {
	Index      int    `json:"index"`
	Base       uint64 `json:"base"`
	Size       uint64 `json:"size"`
	HostBridge uint32 `json:"host_bridge"`
	Node       int    `json:"node"`
}

// PortConfig is a root port with a hot-plug slot below a host bridge.
type PortConfig struct {
	// Slot is the slot's name (the chassis label, e.g. "CXL1"); Number
	// its Physical Slot Number, which pciehp logs as Slot(N).
	Slot   string `json:"slot"`
	Number int    `json:"number"`
	// HostBridge is the UID of the host bridge above the root port.
	HostBridge uint32 `json:"host_bridge"`
	// Bus is the root port's bus; the card enumerates at Bus+1.
	Bus int `json:"bus"`
	// MMIO is the bridge memory window firmware pre-allocated for the
	// slot's hot-plugged devices (pci=hpmmiosize, or the firmware's own
	// padding); 0 leaves none, and a card's BAR cannot be assigned.
	MMIO uint64 `json:"mmio"`
	// Lanes is the link width (x16 unless set).
	Lanes int `json:"lanes"`
}

// Config describes the CXL topology.
type Config struct {
	HostBridges []HostBridge `json:"host_bridges"`
	Windows     []Window     `json:"windows"`
	Ports       []PortConfig `json:"ports"`
	// IOMMU configures the DMA remapping unit the expanders sit behind.
	IOMMU iommu.Config `json:"iommu"`
}

// Slot states, as the slot and the OS see them.
const (
	StateEmpty   = "empty"   // no card
	StatePresent = "present" // card seated, slot powered off
	StateFailed  = "failed"  // powered, enumerated, no driver or no memory
	StateEnabled = "enabled" // memory device bound (with or without a region)
)

// Bus is the CXL side of one boot of the server: its host bridges, root
// ports, the expanders in their slots, and the drivers bound to them.
type Bus struct {
	k   *kernel.Kernel
	mmu *iommu.Unit
	mem *iommu.SparseMemory

	mu      sync.Mutex
	bridges map[uint32]HostBridge
	windows []*window
	ports   []*port
	byName  map[string]*port
	nextMem int // memN
	nextReg int // regionN
	nextEP  int // endpointN
	// hb are the host bridges' own HDM decoders (one per bridge used).
	hb map[uint32][]Decoder
}

type window struct {
	Window
	// used are the HPA ranges regions (or leaked memory) hold, by start.
	used []hpa
}

type hpa struct {
	start, size uint64
	owner       string
}

type port struct {
	cfg    PortConfig
	state  string
	power  bool
	dev    *Device
	reason string
	// leaked are ranges a surprise removal could not take back.
	leaked []hpa
}

// New builds the bus for kernel k. No card is present: Insert seats one.
func New(k *kernel.Kernel, cfg Config) (*Bus, error) {
	b := &Bus{k: k, bridges: map[uint32]HostBridge{}, byName: map[string]*port{}, mem: iommu.NewSparseMemory(),
		hb: map[uint32][]Decoder{}}
	for _, hb := range cfg.HostBridges {
		if _, dup := b.bridges[hb.UID]; dup {
			return nil, fmt.Errorf("cxl: %w: host bridge UID %d twice", ErrInvalid, hb.UID)
		}
		b.bridges[hb.UID] = hb
		decs := make([]Decoder, hdmDecoders)
		for i := range decs {
			decs[i].Name = fmt.Sprintf("decoder%d.%d", hb.UID+1, i)
		}
		b.hb[hb.UID] = decs
	}
	for _, w := range cfg.Windows {
		if _, ok := b.bridges[w.HostBridge]; !ok {
			return nil, fmt.Errorf("cxl: %w: window %d targets unknown host bridge %d", ErrInvalid, w.Index, w.HostBridge)
		}
		b.windows = append(b.windows, &window{Window: w})
	}
	for _, pc := range cfg.Ports {
		if _, ok := b.bridges[pc.HostBridge]; !ok {
			return nil, fmt.Errorf("cxl: %w: slot %s below unknown host bridge %d", ErrInvalid, pc.Slot, pc.HostBridge)
		}
		if _, dup := b.byName[pc.Slot]; dup || pc.Slot == "" {
			return nil, fmt.Errorf("cxl: %w: slot name %q empty or used twice", ErrInvalid, pc.Slot)
		}
		if pc.Lanes == 0 {
			pc.Lanes = 16
		}
		p := &port{cfg: pc, state: StateEmpty}
		b.ports = append(b.ports, p)
		b.byName[pc.Slot] = p
	}
	mmu, err := iommu.New(cfg.IOMMU, b.mem, k)
	if err != nil {
		return nil, fmt.Errorf("cxl: iommu: %w", err)
	}
	b.mmu = mmu
	for _, w := range b.windows {
		// cxl_acpi: each CFMWS becomes a root decoder and, in
		// /proc/iomem, a "CXL Window N" the regions nest in.
		k.Printk(kernel.KernInfo, "cxl_acpi ACPI0017:00: decoder0.%d: CXL Window %d [mem %#x-%#x] -> host bridge ACPI0016:%02x, node %d",
			w.Index, w.Index, w.Base, w.Base+w.Size-1, w.HostBridge, w.Node)
	}
	return b, nil
}

// IOMMU is the remapping unit the expanders' DMA goes through.
func (b *Bus) IOMMU() *iommu.Unit { return b.mmu }

func (b *Bus) slot(name string) (*port, error) {
	p := b.byName[name]
	if p == nil {
		var names []string
		for _, q := range b.ports {
			names = append(names, q.cfg.Slot)
		}
		return nil, fmt.Errorf("cxl: %w %q (slots: %v)", ErrNoSlot, name, names)
	}
	return p, nil
}

func (p *port) rootBDF() string { return fmt.Sprintf("0000:%02x:00.0", p.cfg.Bus) }
func (p *port) devBDF() string  { return fmt.Sprintf("0000:%02x:00.0", p.cfg.Bus+1) }

func (b *Bus) pciehp(p *port, format string, args ...any) {
	b.k.Printk(kernel.KernInfo, "pcieport %s: pciehp: Slot(%d): "+format, append([]any{p.rootBDF(), p.cfg.Number}, args...)...)
}

// Insert seats a card in an empty slot (presence detect changes). With an
// attention button the slot stays off until the button is pressed, as
// pciehp does for a slot with a button.
func (b *Bus) Insert(slot string, spec DeviceSpec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return err
	}
	if p.state != StateEmpty {
		return fmt.Errorf("cxl: slot %s: %w: %s (pull the card first)", slot, ErrState, p.state)
	}
	d, err := newDevice(spec)
	if err != nil {
		return fmt.Errorf("cxl: slot %s: %w", slot, err)
	}
	p.dev, p.state, p.reason = d, StatePresent, ""
	b.pciehp(p, "Card present")
	return nil
}

// Attention is a press of the slot's attention button: it powers a seated
// card on and brings it up, or, when the slot is on, removes the device
// in order (memory offlined and removed, region torn down, decoders
// reset, power off). Linux waits five seconds for a second press that
// cancels; the model acts at once.
func (b *Bus) Attention(slot string) (Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return Result{}, err
	}
	switch p.state {
	case StateEmpty:
		b.pciehp(p, "Attention button pressed")
		b.pciehp(p, "Button press: no card present, ignored")
		return Result{}, fmt.Errorf("cxl: slot %s: %w: no card in the slot", slot, ErrState)
	case StatePresent:
		b.pciehp(p, "Attention button pressed")
		b.pciehp(p, "Powering on due to button press")
		return b.enable(p)
	default:
		b.pciehp(p, "Attention button pressed")
		b.pciehp(p, "Powering off due to button press")
		return b.disable(p)
	}
}

// Pull removes the card from its slot. A powered slot loses it by
// surprise: the link drops with the memory still in use (see surprise).
func (b *Bus) Pull(slot string) (Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return Result{}, err
	}
	var res Result
	switch p.state {
	case StateEmpty:
		return Result{}, fmt.Errorf("cxl: slot %s: %w: no card in the slot", slot, ErrState)
	case StatePresent:
		b.pciehp(p, "Card not present")
	default:
		res = b.surprise(p)
	}
	p.dev, p.state, p.power, p.reason = nil, StateEmpty, false, ""
	return res, nil
}

// Result is what a request changed, for events and for the caller.
type Result struct {
	Slot   string `json:"slot"`
	Memdev string `json:"memdev,omitempty"`
	Region string `json:"region,omitempty"`
	Node   int    `json:"node"`
	Base   uint64 `json:"base,omitempty"`
	Size   uint64 `json:"size,omitempty"`
	Online uint64 `json:"online_bytes,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Poison counts the pages memory_failure() poisoned in a surprise
	// removal: the first page of each allocation in use there (the one
	// its owner touches first; the rest of the allocation goes with the
	// memory), as the DIMM path reports the patrol scrubber's first hit.
	Poison  int    `json:"poisoned_pages,omitempty"`
	Leaked  uint64 `json:"leaked_bytes,omitempty"`
	Removed bool   `json:"removed,omitempty"`
}

// PowerOn is firmware powering a slot that holds a card at boot: the same
// enumeration as after a button press, without the button.
func (b *Bus) PowerOn(slot string) (Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.slot(slot)
	if err != nil {
		return Result{}, err
	}
	if p.state != StatePresent {
		return Result{}, fmt.Errorf("cxl: slot %s: %w: %s", slot, ErrState, p.state)
	}
	return b.enable(p)
}

package iommu

// TEMPORARY scaffolding until the iommu branch lands; never merged.

import "github.com/bmcemu/bmcemu/platform/kernel"

type Logger interface {
	Printk(level kernel.Level, format string, args ...any)
}
type Memory interface {
	ReadPhys(addr uint64, b []byte)
	WritePhys(addr uint64, b []byte)
}
type SparseMemory struct{}

func NewSparseMemory() *SparseMemory                 { return &SparseMemory{} }
func (m *SparseMemory) ReadPhys(a uint64, b []byte)  {}
func (m *SparseMemory) WritePhys(a uint64, b []byte) {}

type Config struct {
	Strict       bool
	SwiotlbBytes uint64
	SwiotlbBase  uint64
}
type Unit struct{}

func New(cfg Config, mem Memory, log Logger) (*Unit, error) { return &Unit{}, nil }

type Dir int

const (
	ToDevice Dir = iota + 1
	FromDevice
	Bidirectional
)

func (u *Unit) AttachDevice(bdf string, untrusted bool) error { return nil }
func (u *Unit) DetachDevice(bdf string) error                 { return nil }

type Mapping struct {
	IOVA    uint64 `json:"iova"`
	Size    uint64 `json:"size"`
	Phys    uint64 `json:"phys"`
	Dir     Dir    `json:"dir"`
	Bounced bool   `json:"bounced"`
	Slot    uint64 `json:"slot,omitempty"`
}

func (u *Unit) MapSingle(bdf string, phys, size uint64, dir Dir) (Mapping, error) {
	return Mapping{}, nil
}
func (u *Unit) UnmapSingle(bdf string, iova uint64) error                        { return nil }
func (u *Unit) Flush()                                                           {}
func (u *Unit) DeviceAccess(bdf string, iova uint64, b []byte, write bool) error { return nil }

type Fault struct {
	BDF    string
	Addr   uint64
	Write  bool
	Reason uint8
	Text   string
}

func (f *Fault) Error() string { return f.Text }

type Counters struct {
	Maps, Unmaps, Bounced, BouncedBytes uint64
	SwiotlbSlotsUsed, SwiotlbSlotsTotal uint64
	IOTLBInvalidations                  uint64
	FlushQueued, FlushQueueFlushes      uint64
	IOTLBHits, IOTLBMisses              uint64
	Faults                              uint64
	StaleTranslations                   uint64
}

func (u *Unit) Counters() Counters { return Counters{} }
func (u *Unit) Faults() []Fault    { return nil }

type Device struct {
	BDF       string
	Group     int
	Untrusted bool
	Domain    string
	Mappings  []Mapping
}

func (u *Unit) Devices() []Device { return nil }

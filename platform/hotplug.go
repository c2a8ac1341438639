package platform

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/smc"
)

// The physical world beyond seating and pulling modules: the slot's
// attention button and latch, and the fault-injection panel.

// PressAttention presses the slot's attention button. On an idle empty slot
// the SMC isolates it for an insertion (Insert afterwards makes no bus
// noise); on an isolated empty slot it cancels; on a module the SMC refused
// it retries; on a module in service it asks the OS to eject it (offline,
// remove, _EJ0, power off), after which Remove pulls it safely.
func (p *Platform) PressAttention(slot string) error {
	if _, err := p.slotIndex("press attention of", slot); err != nil {
		return err
	}
	if err := p.needOS("press attention of " + slot); err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	defer p.hold()()
	if err := p.l().smc.PressAttention(slot); err != nil {
		return fmt.Errorf("press attention of %s: %w", slot, hwErr(err))
	}
	return nil
}

// OpenLatch opens the slot's retention latch.
func (p *Platform) OpenLatch(slot string) error {
	if _, err := p.slotIndex("open latch of", slot); err != nil {
		return err
	}
	if err := p.needOS("open latch of " + slot); err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	defer p.hold()()
	if err := p.l().smc.OpenLatch(slot); err != nil {
		return fmt.Errorf("open latch of %s: %w", slot, hwErr(err))
	}
	return nil
}

// CloseLatch closes the latch; on a newly seated module that starts the
// hot-add.
func (p *Platform) CloseLatch(slot string) error {
	if _, err := p.slotIndex("close latch of", slot); err != nil {
		return err
	}
	if err := p.needOS("close latch of " + slot); err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	defer p.hold()()
	if err := p.l().smc.CloseLatch(slot); err != nil {
		return fmt.Errorf("close latch of %s: %w", slot, hwErr(err))
	}
	return nil
}

// FaultKind describes one injectable fault.
type FaultKind struct {
	Name        string `json:"name"`
	Stage       string `json:"stage"` // smc | firmware
	Description string `json:"description"`
	Outcome     string `json:"outcome"`
}

// FaultKinds lists the faults ArmFault accepts, in a stable order.
func FaultKinds() []FaultKind {
	var out []FaultKind
	for _, k := range smc.FaultKinds() {
		out = append(out, FaultKind{Name: k.String(), Stage: string(k.Stage()), Description: k.Description(), Outcome: k.Outcome()})
	}
	return out
}

// ArmFault arms fault kind (a FaultKinds name) on slot. Faults stay armed
// until cleared, like a defective part stays defective, and strike at their
// stage of the next hot-add (or insertion, for bus noise). They are
// volatile: a restart clears them.
func (p *Platform) ArmFault(slot, kind string) error {
	if _, err := p.slotIndex("arm fault on", slot); err != nil {
		return err
	}
	k, err := smc.ParseFaultKind(kind)
	if err != nil {
		return fmt.Errorf("arm fault on %s: %w: %w", slot, ErrUnknownFault, err)
	}
	if err := p.faults.Arm(slot, k); err != nil {
		return fmt.Errorf("arm fault on %s: %w: %w", slot, ErrUnknownFault, err)
	}
	p.publish(p.clock.Now(), events.FaultArmed{Slot: slot, Fault: k.String()})
	return nil
}

// ClearFault disarms kind on slot; kind "" or "all" clears every fault of
// the slot.
func (p *Platform) ClearFault(slot, kind string) error {
	if _, err := p.slotIndex("clear fault on", slot); err != nil {
		return err
	}
	var k smc.FaultKind
	name := "all"
	if kind != "" && kind != "all" {
		var err error
		if k, err = smc.ParseFaultKind(kind); err != nil {
			return fmt.Errorf("clear fault on %s: %w: %w", slot, ErrUnknownFault, err)
		}
		name = k.String()
	}
	p.faults.Clear(slot, k)
	p.publish(p.clock.Now(), events.FaultCleared{Slot: slot, Fault: name})
	return nil
}

// OnlineBlock onlines memory block id as the OS's operator would (echo
// online|online_kernel|online_movable > memoryN/state).
func (p *Platform) OnlineBlock(id int, t kernel.OnlineType) error {
	if err := p.needOS("online memory block"); err != nil {
		return err
	}
	defer p.hold()()
	if err := p.l().kern.OnlineBlock(id, t); err != nil {
		return fmt.Errorf("%w: %w", ErrKernel, err)
	}
	p.blockChanged(id)
	return nil
}

// OfflineBlock offlines memory block id (echo offline > memoryN/state);
// it is refused with EBUSY while unmovable pages sit in the block.
func (p *Platform) OfflineBlock(id int) error {
	if err := p.needOS("offline memory block"); err != nil {
		return err
	}
	defer p.hold()()
	if err := p.l().kern.OfflineBlock(id); err != nil {
		return fmt.Errorf("%w: %w", ErrKernel, err)
	}
	p.blockChanged(id)
	return nil
}

func (p *Platform) blockChanged(id int) {
	b, ok := p.l().kern.Block(id)
	if !ok {
		p.refresh()
		return
	}
	ev := events.MemoryBlockChanged{Block: id, Node: b.Node, State: b.State}
	if b.State == "online" {
		ev.Zone = b.ValidZones
	}
	for _, d := range p.l().fw.Devices() {
		if r, ok := d.Range(); ok && b.Start >= r.Base && b.Start < r.End() {
			ev.Slot = d.Slot
		}
	}
	p.publish(p.clock.Now(), ev)
}

// The in-band OS view and the firmware's tables, read-only.

// Blocks lists the kernel's memory blocks (/sys/devices/system/memory).
func (p *Platform) Blocks() []kernel.Block { return p.l().kern.Blocks() }

// Block returns one memory block.
func (p *Platform) Block(id int) (kernel.Block, bool) { return p.l().kern.Block(id) }

// BlockSizeBytes is /sys/devices/system/memory/block_size_bytes.
func (p *Platform) BlockSizeBytes() uint64 { return p.l().kern.BlockSizeBytes() }

// Nodes lists the kernel's NUMA nodes with their zones.
func (p *Platform) Nodes() []kernel.Node { return p.l().kern.Nodes() }

// Meminfo is /proc/meminfo.
func (p *Platform) Meminfo() kernel.Meminfo { return p.l().kern.Meminfo() }

// DirectMap is the kernel's direct map: page sizes, page-table writes,
// TLB shootdowns and the mappings.
func (p *Platform) DirectMap() kernel.DirectMap { return p.l().kern.DirectMap() }

// Vmstat is /proc/vmstat.
func (p *Platform) Vmstat() kernel.Vmstat { return p.l().kern.Vmstat() }

// Iomem is the /proc/iomem tree; IomemText its text.
func (p *Platform) Iomem() []kernel.Resource { return p.l().kern.Iomem() }

// IomemText formats /proc/iomem.
func (p *Platform) IomemText() string { return p.l().kern.IomemText() }

// Dmesg returns the kernel log lines with Seq > since.
func (p *Platform) Dmesg(since uint64) []kernel.LogLine { return p.l().kern.Dmesg(since) }

// SRATText is the current SRAT disassembled (iasl -d style).
func (p *Platform) SRATText() string { return p.l().fw.SRATText() }

// HMATText is the current HMAT disassembled.
func (p *Platform) HMATText() string { return p.l().fw.HMATText() }

// SRAT is the current SRAT.
func (p *Platform) SRAT() *firmware.SRAT { return p.l().fw.SRAT() }

// EFIMemoryMap is the boot-time UEFI memory map.
func (p *Platform) EFIMemoryMap() []firmware.EFIDescriptor { return p.l().fw.EFIMemoryMap() }

// EFIMemoryMapText formats it like the kernel's efi=debug log.
func (p *Platform) EFIMemoryMapText() string { return firmware.FormatEFIMap(p.l().fw.EFIMemoryMap()) }

// MemmapParams are the memmap= kernel parameters that hold the hot-plug
// reservations back.
func (p *Platform) MemmapParams() []string { return p.l().fw.MemmapParams() }

// Layout is the boot address layout.
func (p *Platform) Layout() *firmware.Layout { return p.l().fw.Layout() }

// TAD is the current Target Address Decoder table.
func (p *Platform) TAD() *firmware.TAD { return p.l().fw.TAD() }

// MemoryDevices lists the ACPI PNP0C80 devices, one per slot.
func (p *Platform) MemoryDevices() []firmware.Device { return p.l().fw.Devices() }

// SlotStatus is the SMC's view of one slot.
func (p *Platform) SlotStatus(slot string) (smc.SlotStatus, error) {
	st, err := p.l().smc.Status(slot)
	if err != nil {
		return st, fmt.Errorf("slot %q: %w", slot, ErrUnknownSlot)
	}
	return st, nil
}

// CheckInvariants verifies the layers agree: the kernel's books balance,
// the TAD validates (rules disjoint and clear of MMIO holes, every module
// byte decoded once, sample addresses decoding and encoding back), and
// every hot-added module's range lies in System RAM the kernel knows.
func (p *Platform) CheckInvariants() error {
	if err := p.l().kern.CheckInvariants(); err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	if err := p.l().fw.CheckTAD(); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	tad := p.l().fw.TAD()
	holes := p.l().fw.Layout().Holes
	for i, r := range tad.Rules {
		if i > 0 && tad.Rules[i-1].End() > r.Base {
			return fmt.Errorf("TAD rules %v and %v overlap", tad.Rules[i-1].Range, r.Range)
		}
		for _, h := range holes {
			if h.Overlaps(r.Range) {
				return fmt.Errorf("TAD rule %v overlaps %s %v", r.Range, h.Name, h.Range)
			}
		}
	}
	blocks := p.l().kern.Blocks()
	for i := 1; i < len(blocks); i++ {
		if blocks[i-1].Start+blocks[i-1].Size > blocks[i].Start {
			return fmt.Errorf("memory blocks %d and %d overlap", blocks[i-1].ID, blocks[i].ID)
		}
	}
	for _, b := range blocks {
		if b.Boot {
			continue
		}
		r := firmware.Range{Base: b.Start, Length: b.Size}
		for _, h := range holes {
			if h.Overlaps(r) {
				return fmt.Errorf("memory block %d %v overlaps %s", b.ID, r, h.Name)
			}
		}
	}
	return nil
}

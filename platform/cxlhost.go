package platform

import (
	"errors"
	"fmt"

	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// A CXL profile (profile.CXL) gives the server CXL host bridges, each with
// a hot-plug root port: firmware describes them in the CEDT with the
// windows it reserved, the kernel gets "CXL Window N" resources, and
// platform/cxl runs the slots and the drivers for each boot. The cards
// seated in the slots are physical inventory: kept here, saved with the
// inventory, and enumerated again at every boot.

// ErrNotCXL: the server has no CXL host bridge.
var ErrNotCXL = errors.New("no CXL host bridge")

// cxlRootBus is the first CXL root port's bus; each host bridge takes 16.
const cxlRootBus = 0x30

// swiotlbBytes is the bounce buffer pool the kernel carves from boot
// memory for untrusted devices: 4 MiB (one maximum-order block) here,
// where Linux defaults to 64 MiB; the model never needs more.
const swiotlbBytes = 4 << 20

func cxlHostBridges(prof *profile.Profile) []firmware.CXLHostBridge {
	if !prof.HasCXL() {
		return nil
	}
	var out []firmware.CXLHostBridge
	for i, port := range prof.CXL.Ports {
		out = append(out, firmware.CXLHostBridge{UID: uint32(i), Socket: port.Socket, WindowSize: uint64(port.WindowGiB) << 30})
	}
	return out
}

// cxlWindowResources are the windows as cxl_acpi inserts them into
// iomem_resource: non-busy, so regions, dax devices and kmem memory nest
// inside.
func cxlWindowResources(fw *firmware.Firmware) []kernel.Resource {
	var out []kernel.Resource
	for _, w := range fw.CXLWindows() {
		out = append(out, kernel.Resource{Start: w.Base, End: w.Base + w.Size - 1, Name: fmt.Sprintf("CXL Window %d", w.Index)})
	}
	return out
}

// buildCXL creates the boot's CXL bus on the booted kernel and enumerates
// the cards seated at power-on.
func (p *Platform) buildCXL(l *layers) (*cxl.Bus, error) {
	fw, k := l.fw, l.kern
	lat, mbs := fw.GenericPortAccess()
	cfg := cxl.Config{IOMMU: iommu.Config{Strict: p.prof.CXL.IOMMUStrict, SwiotlbBytes: swiotlbBytes}}
	for i, hb := range fw.CXLHostBridges() {
		port := p.prof.CXL.Ports[i]
		cfg.HostBridges = append(cfg.HostBridges, cxl.HostBridge{UID: hb.UID, Socket: hb.Socket, Latency: lat, MBs: mbs})
		cfg.Ports = append(cfg.Ports, cxl.PortConfig{Slot: port.Slot, Number: i + 1, HostBridge: hb.UID,
			Bus: cxlRootBus + 0x10*i, MMIO: uint64(port.MMIOMiB) << 20, Lanes: port.Lanes})
	}
	for _, w := range fw.CXLWindows() {
		// Linux's node for the window follows the sockets' nodes.
		cfg.Windows = append(cfg.Windows, cxl.Window{Index: w.Index, Base: w.Base, Size: w.Size, HostBridge: w.HostBridge,
			Node: p.prof.Memory.Sockets + w.Index})
	}
	// swiotlb_init(): the bounce pool is real kernel memory.
	h, err := k.Alloc(0, kernel.MaxOrder-1, false)
	if err != nil {
		return nil, fmt.Errorf("platform: swiotlb: %w", err)
	}
	pfn, _, _, _ := k.PFN(h)
	cfg.IOMMU.SwiotlbBase = pfn * kernel.PageSize
	bus, err := cxl.New(k, cfg)
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	p.mu.Lock()
	cards := cloneCards(p.cxlCards)
	on := p.powerOn
	p.mu.Unlock()
	for _, port := range p.prof.CXL.Ports {
		spec, ok := cards[port.Slot]
		if !ok {
			continue
		}
		if err := bus.Insert(port.Slot, spec); err != nil {
			k.Printk(kernel.KernWarning, "cxl: %s: %v", port.Slot, err)
			continue
		}
		// Firmware powers slots with a card at boot; the drivers then
		// bring the card up as after a button press. A set built while
		// the host is off (what the next POST will find) leaves the
		// slots unpowered: they come up with that POST.
		if !on {
			continue
		}
		if _, err := bus.PowerOn(port.Slot); err != nil {
			k.Printk(kernel.KernWarning, "cxl: %s: %v", port.Slot, err)
		}
	}
	return bus, nil
}

func (p *Platform) cxlCardsCopy() map[string]cxl.DeviceSpec {
	if len(p.cxlCards) == 0 {
		return nil
	}
	return cloneCards(p.cxlCards)
}

// restoredCXLCards keeps the saved cards whose slots the profile still has.
func (p *Platform) restoredCXLCards(saved map[string]cxl.DeviceSpec) map[string]cxl.DeviceSpec {
	out := map[string]cxl.DeviceSpec{}
	if !p.prof.HasCXL() {
		return out
	}
	for _, port := range p.prof.CXL.Ports {
		if s, ok := saved[port.Slot]; ok {
			out[port.Slot] = s
		}
	}
	return out
}

// cxlBus returns the running boot's bus; with needOS the OS must be up.
func (p *Platform) cxlBus(op string, needOS bool) (*cxl.Bus, error) {
	if !p.prof.HasCXL() {
		return nil, fmt.Errorf("%s: %w: profile %s has no cxl section (try serve --profile cxl)", op, ErrNotCXL, p.prof.Name)
	}
	if needOS {
		if err := p.needOS(op); err != nil {
			return nil, err
		}
	}
	l := p.l()
	if l == nil || l.cxl == nil {
		return nil, fmt.Errorf("%s: %w: no CXL bus in this boot", op, ErrNotCXL)
	}
	return l.cxl, nil
}

// CXL reports the CXL side (false when the server has none).
func (p *Platform) CXL() (cxl.Status, bool) {
	l := p.l()
	if l == nil || l.cxl == nil {
		return cxl.Status{}, false
	}
	return l.cxl.Status(), true
}

// CEDTText is the CEDT disassembled.
func (p *Platform) CEDTText() string { return p.l().fw.CEDTText() }

func (p *Platform) publishCXL(op string, r cxl.Result) {
	p.publish(p.clock.Now(), events.CXLDeviceChanged{Slot: r.Slot, Op: op, Memdev: r.Memdev, Region: r.Region, Node: r.Node,
		Bytes: r.Online, Reason: r.Reason, Poisoned: r.Poison, Leaked: r.Leaked})
}

// saveCXLCards writes the seated cards with the inventory. Caller holds
// opMu.
func (p *Platform) saveCXLCards(cards map[string]cxl.DeviceSpec) error {
	p.mu.Lock()
	prev := p.cxlCards
	p.cxlCards = cards
	mods, power := p.saved, p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.cxlCards = prev
		p.mu.Unlock()
		return err
	}
	return nil
}

// CXLInsert seats an expander in an empty CXL slot. The slot stays off
// until its attention button is pressed.
func (p *Platform) CXLInsert(slot string, spec cxl.DeviceSpec) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	bus, err := p.cxlBus("cxl insert", false)
	if err != nil {
		return err
	}
	p.mu.Lock()
	_, taken := p.cxlCards[slot]
	cards := cloneCards(p.cxlCards)
	p.mu.Unlock()
	if taken {
		return fmt.Errorf("cxl insert: slot %s: %w: a card is seated (pull it first)", slot, cxl.ErrState)
	}
	defer p.hold()()
	if err := bus.Insert(slot, spec); err != nil {
		return err
	}
	if cards == nil {
		cards = map[string]cxl.DeviceSpec{}
	}
	cards[slot] = spec
	if err := p.saveCXLCards(cards); err != nil {
		_, _ = bus.Pull(slot)
		return err
	}
	p.publishCXL("inserted", cxl.Result{Slot: slot, Node: -1})
	return nil
}

// CXLAttention presses a CXL slot's attention button: power on and bring
// the card up, or remove it in order.
func (p *Platform) CXLAttention(slot string) (cxl.Result, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	bus, err := p.cxlBus("cxl attention", true)
	if err != nil {
		return cxl.Result{}, err
	}
	defer p.hold()()
	before := bus.SlotState(slot)
	res, err := bus.Attention(slot)
	if res.Slot == "" {
		return res, err
	}
	switch {
	case before == cxl.StatePresent && err == nil:
		p.publishCXL("enabled", res)
	case before == cxl.StatePresent:
		p.publishCXL("refused", res)
	case err == nil:
		p.publishCXL("disabled", res)
	default:
		p.publishCXL("removal-refused", res)
	}
	return res, err
}

// CXLPull takes the card out of a CXL slot; from a powered slot that is a
// surprise removal.
func (p *Platform) CXLPull(slot string) (cxl.Result, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	bus, err := p.cxlBus("cxl pull", false)
	if err != nil {
		return cxl.Result{}, err
	}
	p.mu.Lock()
	_, seated := p.cxlCards[slot]
	cards := cloneCards(p.cxlCards)
	p.mu.Unlock()
	if !seated {
		return cxl.Result{}, fmt.Errorf("cxl pull: slot %s: %w: no card in the slot", slot, cxl.ErrState)
	}
	defer p.hold()()
	delete(cards, slot)
	if err := p.saveCXLCards(cards); err != nil {
		return cxl.Result{}, err
	}
	powered := bus.SlotState(slot) != cxl.StatePresent
	res, err := bus.Pull(slot)
	if err != nil && !errors.Is(err, cxl.ErrState) {
		return res, err
	}
	res.Slot = slot
	if powered {
		p.publishCXL("surprise", res)
	} else {
		p.publishCXL("pulled", res)
	}
	return res, nil
}

// CXLDMATransfer runs one driver DMA with the device in slot.
func (p *Platform) CXLDMATransfer(slot string, t cxl.Transfer) (cxl.TransferReport, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	bus, err := p.cxlBus("cxl dma", true)
	if err != nil {
		return cxl.TransferReport{}, err
	}
	return bus.DMATransfer(slot, t)
}

// CXLDMAAccess is the device's own access to iova; a blocked one is an
// IOMMU fault event.
func (p *Platform) CXLDMAAccess(slot string, iova, size uint64, write bool) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	bus, err := p.cxlBus("cxl dma", true)
	if err != nil {
		return err
	}
	err = bus.DMAAccess(slot, iova, size, write)
	var f *iommu.Fault
	if errors.As(err, &f) {
		p.publish(p.clock.Now(), events.IOMMUFault{Slot: slot, BDF: f.BDF, Addr: f.Addr, Write: f.Write, Reason: f.Text})
	}
	return err
}

// CXLCDAT is the CDAT of the card in slot, disassembled.
func (p *Platform) CXLCDAT(slot string) (string, error) {
	bus, err := p.cxlBus("cxl cdat", false)
	if err != nil {
		return "", err
	}
	return bus.CDATText(slot)
}

func cloneCards(m map[string]cxl.DeviceSpec) map[string]cxl.DeviceSpec {
	out := make(map[string]cxl.DeviceSpec, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

package vm

import (
	"fmt"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// memHotplug is QEMU's ACPI memory hot-plug controller
// (hw/acpi/memory_hotplug.c, the MHPD device with one MPxx PNP0C80 device
// per slot): `device_add pc-dimm` fills a slot, marks it inserting and
// raises the GPE whose MSCN method sends Device Check to the slot's
// device; `device_del` marks it removing and sends Eject Request. The
// guest answers with _OST and, for an eject, _EJ0, after which QEMU
// unplugs the DIMM. A DIMM the guest could not add stays plugged on the
// host, as in QEMU.
type memHotplug struct {
	k     *kernel.Kernel
	cfg   PCDimmConfig
	ospm  firmware.OSPM
	slots []*dimm
	seq   int
}

type dimm struct {
	id         string
	slot       int
	addr, size uint64
	sta        uint8
	ost        []firmware.OSTRecord
	added      bool
}

func newMemHotplug(k *kernel.Kernel, c PCDimmConfig, ospm firmware.OSPM) (*memHotplug, error) {
	if c.Slots < 1 || c.Slots > 256 {
		return nil, fmt.Errorf("pc-dimm: %w: %d slots (QEMU takes 1..256)", ErrInvalid, c.Slots)
	}
	if c.Addr%DimmGranularity != 0 || c.Size%DimmGranularity != 0 {
		return nil, fmt.Errorf("pc-dimm: %w: device memory region %#x+%s is not aligned to %s", ErrInvalid, c.Addr, mib(c.Size), mib(DimmGranularity))
	}
	return &memHotplug{k: k, cfg: c, ospm: ospm, slots: make([]*dimm, c.Slots)}, nil
}

func (m *memHotplug) device(d *dimm) firmware.Device {
	dev := firmware.Device{Path: fmt.Sprintf(`\_SB.PCI0.MHPD.MP%02X`, d.slot), HID: firmware.HIDMemoryDevice, UID: d.slot,
		Slot: d.id, STA: d.sta, PXM: uint32(m.cfg.Node), Ejectable: true, OST: d.ost}
	if d.sta&firmware.STAEnabled != 0 {
		dev.CRS = []firmware.Range{{Base: d.addr, Length: d.size}}
	}
	return dev
}

func (m *memHotplug) plugged() uint64 {
	var n uint64
	for _, d := range m.slots {
		if d != nil {
			n += d.size
		}
	}
	return n
}

// freeAddr is memory_device_get_free_addr(): the lowest gap in the device
// memory region that fits size.
func (m *memHotplug) freeAddr(size uint64) (uint64, bool) {
	a := m.cfg.Addr
	for {
		moved := false
		for _, d := range m.slots {
			if d != nil && a < d.addr+d.size && d.addr < a+size {
				a, moved = d.addr+d.size, true
			}
		}
		if !moved {
			break
		}
	}
	return a, a+size <= m.cfg.Addr+m.cfg.Size
}

func (m *memHotplug) plug(size uint64) (Dimm, error) {
	if size == 0 || size%DimmGranularity != 0 {
		return Dimm{}, fmt.Errorf("pc-dimm: %w: size %s is not a positive multiple of %s, the guest's memory block", ErrInvalid, mib(size), mib(DimmGranularity))
	}
	slot := -1
	for i, d := range m.slots {
		if d == nil {
			slot = i
			break
		}
	}
	if slot < 0 {
		return Dimm{}, fmt.Errorf("pc-dimm: %w: no free slots left (all %d in use)", ErrInvalid, len(m.slots))
	}
	addr, ok := m.freeAddr(size)
	if !ok {
		return Dimm{}, fmt.Errorf("pc-dimm: %w: could not find position in guest address space for memory device: %s do not fit in the %s device memory region (%s plugged; raise maxmem)",
			ErrInvalid, mib(size), mib(m.cfg.Size), mib(m.plugged()))
	}
	d := &dimm{id: fmt.Sprintf("dimm%d", m.seq), slot: slot, addr: addr, size: size, sta: firmware.STAOK}
	m.seq++
	return m.insert(d)
}

// DimmSpec is a plugged DIMM as the hypervisor's configuration keeps it:
// its id, slot and address stay the same across guest reboots and BMC
// restarts, as a libvirt domain's <memory model='dimm'> keeps its
// <address type='dimm' slot=... base=...>.
type DimmSpec struct {
	ID   string `json:"id"`
	Slot int    `json:"slot"`
	Addr uint64 `json:"addr"`
	Size uint64 `json:"size"`
}

// replug plugs a DIMM the hypervisor had before (a reboot, a BMC restart)
// with its id, slot and address, refusing what the controller can no
// longer hold.
func (m *memHotplug) replug(s DimmSpec) (Dimm, error) {
	switch {
	case s.Size == 0 || s.Size%DimmGranularity != 0 || s.Addr%DimmGranularity != 0:
		return Dimm{}, fmt.Errorf("pc-dimm %s: %w: %s at %#x is not aligned to %s", s.ID, ErrInvalid, mib(s.Size), s.Addr, mib(DimmGranularity))
	case s.Slot < 0 || s.Slot >= len(m.slots) || m.slots[s.Slot] != nil:
		return Dimm{}, fmt.Errorf("pc-dimm %s: %w: slot %d is not a free slot of %d", s.ID, ErrInvalid, s.Slot, len(m.slots))
	case s.Addr < m.cfg.Addr || s.Addr+s.Size > m.cfg.Addr+m.cfg.Size || s.Addr+s.Size < s.Addr:
		return Dimm{}, fmt.Errorf("pc-dimm %s: %w: %s at %#x is outside the %s device memory region", s.ID, ErrInvalid, mib(s.Size), s.Addr, mib(m.cfg.Size))
	}
	var seq int
	if _, err := fmt.Sscanf(s.ID, "dimm%d", &seq); err != nil || fmt.Sprintf("dimm%d", seq) != s.ID {
		return Dimm{}, fmt.Errorf("pc-dimm %q: %w: not an id this controller gives", s.ID, ErrInvalid)
	}
	for _, d := range m.slots {
		if d == nil {
			continue
		}
		if d.id == s.ID || (s.Addr < d.addr+d.size && d.addr < s.Addr+s.Size) {
			return Dimm{}, fmt.Errorf("pc-dimm %s: %w: overlaps %s", s.ID, ErrInvalid, d.id)
		}
	}
	m.seq = max(m.seq, seq+1)
	return m.insert(&dimm{id: s.ID, slot: s.Slot, addr: s.Addr, size: s.Size, sta: firmware.STAOK})
}

// insert fills d's slot and tells the guest.
func (m *memHotplug) insert(d *dimm) (Dimm, error) {
	m.slots[d.slot] = d
	// acpi_memory_plug_cb() marks the slot inserting; the GPE's MSCN
	// notifies the device with Device Check.
	m.ospm.Notify(m.device(d), firmware.NotifyDeviceCheck)
	if last, ok := lastOST(d, firmware.OSTSourceInsert); ok && last.Status == firmware.OSTSuccess {
		d.added = true
		return m.view(d), nil
	}
	return m.view(d), fmt.Errorf("pc-dimm %s: %w: the guest did not add it (%s); it stays plugged on the host: see dmesg", d.id, ErrBusy, ostText(d))
}

func (m *memHotplug) unplug(id string) (Dimm, error) {
	var d *dimm
	for _, x := range m.slots {
		if x != nil && x.id == id {
			d = x
		}
	}
	if d == nil {
		var ids []string
		for _, x := range m.slots {
			if x != nil {
				ids = append(ids, x.id)
			}
		}
		return Dimm{}, fmt.Errorf("pc-dimm: %w: no device %q (plugged: %s)", ErrNoDevice, id, orNone(ids))
	}
	since := m.lastSeq()
	m.ospm.Notify(m.device(d), firmware.NotifyEjectRequest)
	if m.slots[d.slot] == d {
		// Still there: the guest refused the eject.
		return m.view(d), fmt.Errorf("pc-dimm %s: %w: the guest refused the eject (%s): %s", d.id, ErrBusy, ostText(d), m.refusal(d, since))
	}
	return m.view(d), nil
}

// OST records the guest's _OST evaluation (QEMU's ACPI_MEMORY_OST
// registers and its ACPI_DEVICE_OST event).
func (m *memHotplug) OST(uid int, source, status uint32) error {
	if uid < 0 || uid >= len(m.slots) || m.slots[uid] == nil {
		return fmt.Errorf("_OST: no memory device with _UID %d", uid)
	}
	d := m.slots[uid]
	d.ost = append(d.ost, firmware.OSTRecord{At: time.Time{}, Source: source, Status: status,
		Meaning: firmware.OSTMeaning(source, status), From: "ospm"})
	if len(d.ost) > 16 {
		d.ost = d.ost[len(d.ost)-16:]
	}
	return nil
}

// EJ0 is the guest's _EJ0: QEMU unplugs the DIMM (acpi_memory_eject).
func (m *memHotplug) EJ0(uid int) error {
	if uid < 0 || uid >= len(m.slots) || m.slots[uid] == nil {
		return fmt.Errorf("_EJ0: no memory device with _UID %d", uid)
	}
	m.slots[uid] = nil
	return nil
}

func (m *memHotplug) lastSeq() uint64 {
	lines := m.k.Dmesg(0)
	if len(lines) == 0 {
		return 0
	}
	return lines[len(lines)-1].Seq
}

// refusal is the guest's own account of a refused eject: its
// acpi_memhotplug line for this device.
func (m *memHotplug) refusal(d *dimm, since uint64) string {
	prefix := fmt.Sprintf("acpi PNP0C80:%02x: ", d.slot)
	for _, l := range m.k.Dmesg(since) {
		if strings.HasPrefix(l.Text, prefix+"eject refused") {
			return strings.TrimPrefix(l.Text, prefix)
		}
	}
	return "no reason logged"
}

func lastOST(d *dimm, source uint32) (firmware.OSTRecord, bool) {
	for i := len(d.ost) - 1; i >= 0; i-- {
		if d.ost[i].Source == source {
			return d.ost[i], true
		}
	}
	return firmware.OSTRecord{}, false
}

func ostText(d *dimm) string {
	if len(d.ost) == 0 {
		return "no _OST"
	}
	o := d.ost[len(d.ost)-1]
	return fmt.Sprintf("_OST(0x%03X, 0x%02X) %s", o.Source, o.Status, o.Meaning)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Dimm is one plugged pc-dimm as QEMU's query-memory-devices and the
// guest's ACPI device show it.
type Dimm struct {
	ID      string `json:"id"`
	Slot    int    `json:"slot"`
	Addr    uint64 `json:"addr"`
	Size    uint64 `json:"size"`
	Node    int    `json:"node"`
	Path    string `json:"path"`
	STA     uint8  `json:"sta"`
	Added   bool   `json:"added"`
	LastOST string `json:"last_ost,omitempty"`
	Blocks  int    `json:"blocks"`
}

func (m *memHotplug) view(d *dimm) Dimm {
	dev := m.device(d)
	return Dimm{ID: d.id, Slot: d.slot, Addr: d.addr, Size: d.size, Node: m.cfg.Node, Path: dev.Path, STA: d.sta,
		Added: d.added, LastOST: ostText(d), Blocks: int(d.size / m.k.BlockSizeBytes())}
}

// PCDimmStatus is the controller's slots.
type PCDimmStatus struct {
	Slots       int    `json:"slots"`
	RegionAddr  uint64 `json:"region_addr"`
	RegionSize  uint64 `json:"region_size"`
	Plugged     uint64 `json:"plugged_bytes"`
	Granularity uint64 `json:"granularity"`
	Dimms       []Dimm `json:"dimms"`
}

func (m *memHotplug) status() PCDimmStatus {
	st := PCDimmStatus{Slots: len(m.slots), RegionAddr: m.cfg.Addr, RegionSize: m.cfg.Size, Plugged: m.plugged(),
		Granularity: DimmGranularity, Dimms: []Dimm{}}
	for _, d := range m.slots {
		if d != nil {
			st.Dimms = append(st.Dimms, m.view(d))
		}
	}
	return st
}

package kernel

import (
	"fmt"
	"slices"
	"strings"
)

// FirmwareMapEntry is one /sys/firmware/memmap/N entry
// (drivers/firmware/memmap.c): the boot e820 map, plus what add_memory()
// registered with firmware_map_add_hotplug(). Driver-managed memory
// (add_memory_driver_managed) is never added: kexec-tools builds the next
// kernel's memory map from this directory, so virtio-mem's and kmem's
// memory stays out of a kexec'd or kdump kernel's idea of RAM, and
// kexec_file's locate_mem_hole skips IORESOURCE_SYSRAM_DRIVER_MANAGED
// resources (see KexecRAM).
type FirmwareMapEntry struct {
	Start uint64 `json:"start"`
	End   uint64 `json:"end"` // inclusive, as the end file shows it
	Type  string `json:"type"`
}

func (k *Kernel) fwmapAdd(start, end uint64) {
	k.fwmap = append(k.fwmap, FirmwareMapEntry{Start: start, End: end, Type: "System RAM"})
	slices.SortFunc(k.fwmap, func(a, b FirmwareMapEntry) int { return cmpU(a.Start, b.Start) })
}

// fwmapRemove is firmware_map_remove(), generalised to trim entries
// partly inside [start, end] (the model may remove part of a DIMM's
// range; Linux removes whole entries).
func (k *Kernel) fwmapRemove(start, end uint64) {
	var out []FirmwareMapEntry
	for _, e := range k.fwmap {
		if e.Type != "System RAM" || e.End < start || e.Start > end {
			out = append(out, e)
			continue
		}
		if e.Start < start {
			out = append(out, FirmwareMapEntry{Start: e.Start, End: start - 1, Type: e.Type})
		}
		if e.End > end {
			out = append(out, FirmwareMapEntry{Start: end + 1, End: e.End, Type: e.Type})
		}
	}
	k.fwmap = out
}

// FirmwareMemmap lists /sys/firmware/memmap.
func (k *Kernel) FirmwareMemmap() []FirmwareMapEntry {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.fwmap)
}

// FirmwareMemmapText formats it as `grep . /sys/firmware/memmap/*/*` would
// read: start, end and type per entry.
func (k *Kernel) FirmwareMemmapText() string {
	var b strings.Builder
	for i, e := range k.FirmwareMemmap() {
		fmt.Fprintf(&b, "%d: 0x%016x-0x%016x %s\n", i, e.Start, e.End, e.Type)
	}
	return b.String()
}

// KexecRAM lists the System RAM a kexec_file load or a kdump kernel's
// ELF core headers consider (walk_system_ram_res): every "System RAM"
// resource except driver-managed ones, which kexec must not place images
// in and which the crash kernel does not get as usable memory.
func (k *Kernel) KexecRAM() []PhysRange {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []PhysRange
	var walk func(r *resource)
	walk = func(r *resource) {
		for _, c := range r.children {
			if c.flags&resSysRAM != 0 {
				if c.flags&resDriverManaged == 0 {
					out = append(out, PhysRange{Start: c.start, Size: c.end - c.start + 1})
				}
				continue
			}
			walk(c)
		}
	}
	walk(k.iomem)
	return out
}

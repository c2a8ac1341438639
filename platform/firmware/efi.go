package firmware

import (
	"fmt"
	"strings"
)

// EFIMemoryType is an EFI_MEMORY_TYPE.
type EFIMemoryType uint32

// EFI memory types used in the map.
const (
	EfiReservedMemoryType EFIMemoryType = 0
	EfiConventionalMemory EFIMemoryType = 7
	EfiACPIReclaimMemory  EFIMemoryType = 9
	EfiACPIMemoryNVS      EFIMemoryType = 10
	EfiMemoryMappedIO     EFIMemoryType = 11
)

func (t EFIMemoryType) String() string {
	switch t {
	case EfiReservedMemoryType:
		return "Reserved"
	case EfiConventionalMemory:
		return "Conventional"
	case EfiACPIReclaimMemory:
		return "ACPI Reclaim"
	case EfiACPIMemoryNVS:
		return "ACPI NVS"
	case EfiMemoryMappedIO:
		return "MMIO"
	}
	return fmt.Sprintf("Type%d", uint32(t))
}

// EFI memory attributes.
const (
	EFIMemoryUC           uint64 = 0x1
	EFIMemoryWB           uint64 = 0x8
	EFIMemoryMoreReliable uint64 = 0x10000
	EFIMemorySP           uint64 = 0x40000
	EFIMemoryHotPluggable uint64 = 0x100000
	EFIMemoryRuntime      uint64 = 0x8000000000000000
)

// EFIDescriptor is one EFI_MEMORY_DESCRIPTOR.
type EFIDescriptor struct {
	Type          EFIMemoryType `json:"type"`
	PhysicalStart uint64        `json:"physical_start"`
	NumberOfPages uint64        `json:"number_of_pages"` // 4 KiB pages
	Attribute     uint64        `json:"attribute"`
}

// Range is the descriptor's address range.
func (d EFIDescriptor) Range() Range { return Range{d.PhysicalStart, d.NumberOfPages * 4096} }

// efiMap builds the boot-time UEFI memory map from the layout: legacy and
// ACPI areas carved from low memory, RAM as conventional, MMIO, and each
// socket's hot-plug reservation as reserved + EFI_MEMORY_HOT_PLUGGABLE.
func efiMap(l *Layout) []EFIDescriptor {
	var out []EFIDescriptor
	add := func(t EFIMemoryType, r Range, attr uint64) {
		if r.Length >= 4096 {
			out = append(out, EFIDescriptor{Type: t, PhysicalStart: r.Base, NumberOfPages: r.Length / 4096, Attribute: attr})
		}
	}
	for _, reg := range l.Regions() {
		switch reg.Kind {
		case RegionMMIO:
			add(EfiMemoryMappedIO, reg.Range, EFIMemoryUC|EFIMemoryRuntime)
		case RegionHotplug:
			add(EfiReservedMemoryType, reg.Range, EFIMemoryWB|EFIMemoryHotPluggable)
		case RegionRAM:
			r := reg.Range
			if r.Base == 0 && r.Length > 0x100000+32<<20 {
				// Legacy: base memory, VGA/option ROM/BIOS area; ACPI
				// tables at the top of low memory.
				add(EfiConventionalMemory, Range{0, 0x9F000}, EFIMemoryWB)
				add(EfiReservedMemoryType, Range{0x9F000, 0x100000 - 0x9F000}, EFIMemoryUC)
				top := r.End()
				add(EfiConventionalMemory, Range{0x100000, top - 16<<20 - 0x100000}, EFIMemoryWB)
				add(EfiACPIReclaimMemory, Range{top - 16<<20, 8 << 20}, EFIMemoryWB)
				add(EfiACPIMemoryNVS, Range{top - 8<<20, 8 << 20}, EFIMemoryWB|EFIMemoryRuntime)
				continue
			}
			add(EfiConventionalMemory, r, EFIMemoryWB)
		}
	}
	return out
}

// markReliable splits the conventional descriptors at the edges of the
// reliable (mirrored) ranges and marks their insides
// EFI_MEMORY_MORE_RELIABLE, as firmware with address-range mirroring does.
func markReliable(descs []EFIDescriptor, reliable []Range) []EFIDescriptor {
	if len(reliable) == 0 {
		return descs
	}
	var out []EFIDescriptor
	for _, d := range descs {
		if d.Type != EfiConventionalMemory {
			out = append(out, d)
			continue
		}
		r := d.Range()
		cur := r.Base
		for _, rel := range reliable {
			lo, hi := max(rel.Base, r.Base), min(rel.End(), r.End())
			if lo >= hi {
				continue
			}
			if lo > cur {
				out = append(out, EFIDescriptor{Type: d.Type, PhysicalStart: cur, NumberOfPages: (lo - cur) / 4096, Attribute: d.Attribute})
			}
			out = append(out, EFIDescriptor{Type: d.Type, PhysicalStart: lo, NumberOfPages: (hi - lo) / 4096, Attribute: d.Attribute | EFIMemoryMoreReliable})
			cur = hi
		}
		if cur < r.End() {
			out = append(out, EFIDescriptor{Type: d.Type, PhysicalStart: cur, NumberOfPages: (r.End() - cur) / 4096, Attribute: d.Attribute})
		}
	}
	return out
}

func attrString(a uint64) string {
	var f []string
	for _, x := range []struct {
		bit  uint64
		name string
	}{{EFIMemoryRuntime, "RUN"}, {EFIMemoryHotPluggable, "HP"}, {EFIMemorySP, "SP"}, {EFIMemoryMoreReliable, "MR"}, {EFIMemoryWB, "WB"}, {EFIMemoryUC, "UC"}} {
		if a&x.bit != 0 {
			f = append(f, x.name)
		} else {
			f = append(f, strings.Repeat(" ", len(x.name)))
		}
	}
	return strings.Join(f, "|")
}

// FormatEFIMap prints the map like the kernel's efi=debug boot log.
func FormatEFIMap(m []EFIDescriptor) string {
	var b strings.Builder
	for i, d := range m {
		r := d.Range()
		fmt.Fprintf(&b, "efi: mem%02d: [%-12s|%s] range=[0x%016x-0x%016x] (%dMB)\n", i, d.Type, attrString(d.Attribute), r.Base, r.End()-1, r.Length>>20)
	}
	return b.String()
}

// memmapParams are the kernel parameters that keep the reservations out of
// the boot-time memory map: memmap=nn$ss marks a range reserved.
func memmapParams(l *Layout) []string {
	var out []string
	for s := range l.Reserve {
		for _, r := range l.Reserve[s] {
			out = append(out, fmt.Sprintf("memmap=%s$%#x", sizeArg(r.Length), r.Base))
		}
	}
	return out
}

func sizeArg(n uint64) string {
	switch {
	case n%GiB == 0:
		return fmt.Sprintf("%dG", n/GiB)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}

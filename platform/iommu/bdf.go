package iommu

import (
	"fmt"
	"strconv"
	"strings"
)

// bdf is a PCI requester ID with its segment: the source-id a VT-d remapping
// unit receives with every DMA request (VT-d spec 3.4.1, bus/devfn index the
// root and context tables).
type bdf struct {
	seg   uint16
	bus   uint8
	dev   uint8 // 0..31
	fn    uint8 // 0..7
	valid bool
}

// parseBDF accepts the pci_name() form "SSSS:BB:DD.F" and the short
// "BB:DD.F" (segment 0), hexadecimal as lspci prints them.
func parseBDF(s string) (bdf, error) {
	parts := strings.Split(s, ":")
	var seg uint64
	switch len(parts) {
	case 3:
		if len(parts[0]) != 4 {
			return bdf{}, fmt.Errorf("iommu: PCI address %q: segment must be 4 hex digits", s)
		}
		v, err := strconv.ParseUint(parts[0], 16, 16)
		if err != nil {
			return bdf{}, fmt.Errorf("iommu: PCI address %q: segment: %w", s, err)
		}
		seg = v
		parts = parts[1:]
	case 2:
	default:
		return bdf{}, fmt.Errorf("iommu: PCI address %q is not [SSSS:]BB:DD.F", s)
	}
	devfn := strings.Split(parts[1], ".")
	if len(parts[0]) != 2 || len(devfn) != 2 || len(devfn[0]) != 2 || len(devfn[1]) != 1 {
		return bdf{}, fmt.Errorf("iommu: PCI address %q is not [SSSS:]BB:DD.F", s)
	}
	bus, err := strconv.ParseUint(parts[0], 16, 8)
	if err != nil {
		return bdf{}, fmt.Errorf("iommu: PCI address %q: bus: %w", s, err)
	}
	dev, err := strconv.ParseUint(devfn[0], 16, 8)
	if err != nil || dev > 31 {
		return bdf{}, fmt.Errorf("iommu: PCI address %q: device must be 00..1f", s)
	}
	fn, err := strconv.ParseUint(devfn[1], 16, 8)
	if err != nil || fn > 7 {
		return bdf{}, fmt.Errorf("iommu: PCI address %q: function must be 0..7", s)
	}
	return bdf{seg: uint16(seg), bus: uint8(bus), dev: uint8(dev), fn: uint8(fn), valid: true}, nil
}

// String is pci_name(): "0000:38:00.0".
func (b bdf) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%d", b.seg, b.bus, b.dev, b.fn)
}

// source is the requester ID as dmar_fault_do_one() prints it: "38:00.0".
func (b bdf) source() string {
	return fmt.Sprintf("%02x:%02x.%d", b.bus, b.dev, b.fn)
}

package profile

import "fmt"

// CXL gives the server CXL host bridges, one per port here, each with a
// hot-plug root port whose slot takes a type-3 memory expander (`bmcemu
// ctl cxl`). What firmware reserves for each decides whether a card seated
// later works: window_gib is the CXL Fixed Memory Window (CEDT CFMWS) the
// card's memory is mapped into, mmio_mib the bridge window its BAR is
// assigned from. Either left at 0 reproduces the failure the seed warns of
// when firmware pre-allocated nothing.
type CXL struct {
	Ports []CXLPort `yaml:"ports" validate:"required,min=1,max=16,dive"`
	// IOMMUStrict is iommu.strict=1: every device's unmaps invalidate the
	// IOTLB at once (untrusted devices always do).
	IOMMUStrict bool `yaml:"iommu_strict"`
}

// CXLPort is a host bridge with one hot-plug root port.
type CXLPort struct {
	// Slot is the slot's label; it must not clash with a DIMM slot's.
	Slot   string `yaml:"slot" validate:"required,max=32"`
	Socket int    `yaml:"socket" validate:"min=0,max=7"`
	// WindowGiB is the CFMWS size; 0: firmware reserves none.
	WindowGiB int `yaml:"window_gib" validate:"min=0,max=65536"`
	// MMIOMiB is the hot-plug bridge window; 0: none.
	MMIOMiB int `yaml:"mmio_mib" validate:"min=0,max=4096"`
	// Lanes is the link width (16 unless set).
	Lanes int `yaml:"lanes" validate:"omitempty,oneof=1 2 4 8 16"`
}

// HasCXL reports whether the profile has CXL host bridges.
func (p *Profile) HasCXL() bool { return p.CXL != nil && len(p.CXL.Ports) > 0 }

func (p *Profile) validateCXL() error {
	c := p.CXL
	if c == nil {
		return nil
	}
	if p.IsGuest() {
		return p.FieldError("cxl", "a VM guest profile cannot have CXL host bridges")
	}
	seen := map[string]bool{}
	for i, port := range c.Ports {
		field := fmt.Sprintf("cxl.ports[%d]", i)
		if seen[port.Slot] {
			return p.FieldError(field+".slot", fmt.Sprintf("slot %q is named twice", port.Slot))
		}
		seen[port.Slot] = true
		if port.Socket >= p.Memory.Sockets {
			return p.FieldError(field+".socket", fmt.Sprintf("socket %d does not exist: the board has %d", port.Socket, p.Memory.Sockets))
		}
	}
	return nil
}

package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bmcemu/bmcemu/platform/events"
)

// The boot order: the UEFI boot manager's BootOrder variable over the
// host's boot options (Boot####), kept in the firmware's NVRAM, which the
// BMC saves with the inventory. The boot override (boot.go) is tried
// before it; when no override is set, or its device does not boot, the
// firmware walks the order.

// ErrBadBootOrder: a boot order naming an unknown or repeated option, or
// none.
var ErrBadBootOrder = errors.New("invalid boot order")

// BootOption is one UEFI boot option.
type BootOption struct {
	// Ref is the option's variable name, Boot####, which BootOrder lists.
	Ref string `json:"ref"`
	// Target is the boot override target that names the same device.
	Target string `json:"target"`
	Name   string `json:"name"`
	// Path is the option's UEFI device path (UEFI 2.10 §10.6 text form).
	Path string `json:"path"`
	// Enabled is LOAD_OPTION_ACTIVE: an inactive option is skipped.
	Enabled bool `json:"enabled"`
}

// HostNVRAM is what the host firmware keeps in its non-volatile store and
// a BMC saves so it survives its own restarts: the boot order and which
// options are active.
type HostNVRAM struct {
	BootOrder []string `json:"boot_order,omitempty"`
	// InactiveBootOptions are the options whose LOAD_OPTION_ACTIVE is
	// clear.
	InactiveBootOptions []string `json:"inactive_boot_options,omitempty"`
	// Bios are the setup settings (bios.go), SecureBoot the secure boot
	// setting and keys (secureboot.go), Firmware the versions an update
	// installed (flash.go). The platform keeps them apart and saves them
	// here together.
	Bios       *BiosNVRAM       `json:"bios,omitempty"`
	SecureBoot *SecureBootNVRAM `json:"secure_boot,omitempty"`
	Firmware   *FirmwareNVRAM   `json:"firmware,omitempty"`
}

// bootTargetsByRef are the host's devices, one option each: its disk with
// an installed OS, the PXE-capable first NIC, and the BMC's virtual CD
// and USB devices. The default order boots the disk, as a deployed server
// does.
var bootTargetsByRef = []struct{ ref, target string }{
	{"Boot0000", BootTargetHdd}, {"Boot0001", BootTargetPxe}, {"Boot0002", BootTargetCd}, {"Boot0003", BootTargetUsb},
}

// bootOptionName is the option's description, as the firmware names it.
func bootOptionName(target, serial string) string {
	switch target {
	case BootTargetHdd:
		return "UEFI OS (Disk 0)"
	case BootTargetPxe:
		return "UEFI PXEv4 (MAC:" + strings.ToUpper(strings.ReplaceAll(HostNICMAC(serial).String(), ":", "")) + ")"
	case BootTargetCd:
		return "UEFI Virtual CD/DVD"
	case BootTargetUsb:
		return "UEFI Virtual USB"
	}
	return target
}

func bootOptionPath(target, serial string) string {
	switch target {
	case BootTargetHdd:
		return `PciRoot(0x0)/Pci(0x17,0x0)/Sata(0x0,0xFFFF,0x0)/HD(1,GPT,3B1B7A9C-5E2D-4C4E-9F8A-1D2C3B4A5F60,0x800,0x100000)/\EFI\debian\shimx64.efi`
	case BootTargetPxe:
		mac := strings.ToUpper(strings.ReplaceAll(HostNICMAC(serial).String(), ":", ""))
		return "PciRoot(0x0)/Pci(0x1C,0x0)/Pci(0x0,0x0)/MAC(" + mac + ",0x1)/IPv4(0.0.0.0,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)"
	case BootTargetCd:
		return "PciRoot(0x0)/Pci(0x14,0x0)/USB(0x5,0x0)/USB(0x0,0x0)/CDROM(0x1,0x0,0x0)"
	case BootTargetUsb:
		return "PciRoot(0x0)/Pci(0x14,0x0)/USB(0x5,0x0)/USB(0x1,0x0)/HD(1,MBR,0x00000000,0x800,0x0)"
	}
	return ""
}

func defaultBootOrder() []string {
	out := make([]string, len(bootTargetsByRef))
	for i, b := range bootTargetsByRef {
		out[i] = b.ref
	}
	return out
}

// restoredNVRAM reads the saved NVRAM, falling back to the defaults for
// what is missing or no longer valid.
func restoredNVRAM(saved *HostNVRAM) HostNVRAM {
	if saved == nil {
		return HostNVRAM{BootOrder: defaultBootOrder()}
	}
	n := HostNVRAM{BootOrder: slices.Clone(saved.BootOrder), InactiveBootOptions: slices.Clone(saved.InactiveBootOptions)}
	// The other parts are the platform's own; they are restored apart.
	if validateBootOrder(n.BootOrder) != nil {
		n.BootOrder = defaultBootOrder()
	}
	return n
}

func validateBootOrder(order []string) error {
	if len(order) == 0 {
		return fmt.Errorf("%w: it names no boot option", ErrBadBootOrder)
	}
	seen := map[string]bool{}
	for _, r := range order {
		if !slices.ContainsFunc(bootTargetsByRef, func(b struct{ ref, target string }) bool { return b.ref == r }) {
			return fmt.Errorf("%w: no boot option %q", ErrBadBootOrder, r)
		}
		if seen[r] {
			return fmt.Errorf("%w: %s appears twice", ErrBadBootOrder, r)
		}
		seen[r] = true
	}
	return nil
}

// bootOptions lists every option in Boot#### order. Caller holds p.mu.
func (p *Platform) bootOptionsLocked() []BootOption {
	serial := p.prof.System.SerialNumber
	out := make([]BootOption, len(bootTargetsByRef))
	for i, b := range bootTargetsByRef {
		out[i] = BootOption{Ref: b.ref, Target: b.target, Name: bootOptionName(b.target, serial), Path: bootOptionPath(b.target, serial),
			Enabled: !slices.Contains(p.nvram.InactiveBootOptions, b.ref)}
	}
	return out
}

// BootOptions is the boot order: the options BootOrder lists, in its order.
func (p *Platform) BootOptions() []BootOption {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := p.bootOptionsLocked()
	out := make([]BootOption, 0, len(p.nvram.BootOrder))
	for _, r := range p.nvram.BootOrder {
		for _, o := range all {
			if o.Ref == r {
				out = append(out, o)
			}
		}
	}
	return out
}

// SetBootOrder replaces the boot order with refs (Boot#### names, each
// once). It is saved before the next boot reads it.
func (p *Platform) SetBootOrder(refs []string) error {
	if err := validateBootOrder(refs); err != nil {
		return fmt.Errorf("set boot order: %w", err)
	}
	return p.changeNVRAM("set boot order", func(n *HostNVRAM) { n.BootOrder = slices.Clone(refs) })
}

// SetBootOptionEnabled sets an option's LOAD_OPTION_ACTIVE.
func (p *Platform) SetBootOptionEnabled(ref string, enabled bool) error {
	if validateBootOrder([]string{ref}) != nil {
		return fmt.Errorf("boot option %q: %w", ref, ErrBadBootOrder)
	}
	return p.changeNVRAM("enable boot option", func(n *HostNVRAM) {
		n.InactiveBootOptions = slices.DeleteFunc(n.InactiveBootOptions, func(r string) bool { return r == ref })
		if !enabled {
			n.InactiveBootOptions = append(n.InactiveBootOptions, ref)
			slices.Sort(n.InactiveBootOptions)
		}
	})
}

// changeNVRAM applies change to the NVRAM and saves it, putting it back if
// the store refuses.
func (p *Platform) changeNVRAM(op string, change func(*HostNVRAM)) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	prev := p.nvram
	next := HostNVRAM{BootOrder: slices.Clone(prev.BootOrder), InactiveBootOptions: slices.Clone(prev.InactiveBootOptions)}
	change(&next)
	if slices.Equal(next.BootOrder, prev.BootOrder) && slices.Equal(next.InactiveBootOptions, prev.InactiveBootOptions) {
		p.mu.Unlock()
		return nil
	}
	p.nvram = next
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.nvram = prev
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", op, err)
	}
	p.publish(p.clock.Now(), events.BootOrderChanged{Order: slices.Clone(next.BootOrder), Inactive: slices.Clone(next.InactiveBootOptions)})
	return nil
}

package platform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bmcemu/bmcemu/platform/events"
)

// ErrBadBootOverride: a boot override names a target, enable state or mode
// the host firmware does not know.
var ErrBadBootOverride = errors.New("invalid boot override")

// Boot override targets: the devices the host firmware can be told to boot
// from next. The set is what both management protocols can name (the IPMI
// boot device selector and the Redfish BootSource enum); a device only one of
// them can express would show up on one surface as something else.
const (
	BootTargetNone       = "None"
	BootTargetPxe        = "Pxe"
	BootTargetHdd        = "Hdd"
	BootTargetCd         = "Cd"
	BootTargetUsb        = "Usb" // primary removable media
	BootTargetBiosSetup  = "BiosSetup"
	BootTargetDiags      = "Diags"       // the diagnostic partition
	BootTargetRemoteDisk = "RemoteDrive" // e.g. an iSCSI target
)

// Whether the override applies, and for how long.
const (
	BootOverrideDisabled   = "Disabled"
	BootOverrideOnce       = "Once"
	BootOverrideContinuous = "Continuous"
)

// Firmware boot modes.
const (
	BootModeUEFI   = "UEFI"
	BootModeLegacy = "Legacy"
)

// BootTargets lists the targets SetBootOverride accepts, in a stable order.
func BootTargets() []string {
	return []string{BootTargetNone, BootTargetPxe, BootTargetHdd, BootTargetCd, BootTargetUsb, BootTargetBiosSetup,
		BootTargetDiags, BootTargetRemoteDisk}
}

// BootOverrideStates lists the accepted Enabled values.
func BootOverrideStates() []string {
	return []string{BootOverrideDisabled, BootOverrideOnce, BootOverrideContinuous}
}

// BootModes lists the accepted Mode values.
func BootModes() []string { return []string{BootModeUEFI, BootModeLegacy} }

// BootOverride is the boot device the host firmware is told to use instead of
// its own boot order, as a BIOS reads it from the BMC at POST.
//
// It is kept in the BMC's non-volatile storage (the saved inventory). IPMI
// marks the boot flags "semi-volatile" (they must survive host power cycles
// and resets, a BMC reset may lose them); OpenBMC keeps them in its
// persistent settings, and so does this model, because a BMC restart
// between "set PXE" and the reset that should PXE boot must not lose it. A Once override is consumed
// when the host next boots (power on or reset): Enabled returns to Disabled
// and the target is kept, as the Redfish schema and a BIOS clearing the IPMI
// "boot flags valid" bit both describe. The IPMI 60-second valid-bit timeout
// (IPMI 2.0 §28.12) is not modelled: provisioning tools set the override and
// reset through different requests, sometimes more than a minute apart, and
// every surface would need to explain an override that vanished on its own.
type BootOverride struct {
	Target  string `json:"target"`
	Enabled string `json:"enabled"`
	Mode    string `json:"mode"`
}

// defaultBootOverride is a server that was never told anything: its own
// boot order, in UEFI mode.
func defaultBootOverride() BootOverride {
	return BootOverride{Target: BootTargetNone, Enabled: BootOverrideDisabled, Mode: BootModeUEFI}
}

func (o BootOverride) validate() error {
	if !slices.Contains(BootTargets(), o.Target) {
		return fmt.Errorf("%w: target %q: want one of %v", ErrBadBootOverride, o.Target, BootTargets())
	}
	if !slices.Contains(BootOverrideStates(), o.Enabled) {
		return fmt.Errorf("%w: enabled %q: want one of %v", ErrBadBootOverride, o.Enabled, BootOverrideStates())
	}
	if !slices.Contains(BootModes(), o.Mode) {
		return fmt.Errorf("%w: mode %q: want one of %v", ErrBadBootOverride, o.Mode, BootModes())
	}
	return nil
}

// merge fills the fields o leaves empty from cur.
func (o BootOverride) merge(cur BootOverride) BootOverride {
	if o.Target == "" {
		o.Target = cur.Target
	}
	if o.Enabled == "" {
		o.Enabled = cur.Enabled
	}
	if o.Mode == "" {
		o.Mode = cur.Mode
	}
	return o
}

// restoredBootOverride reads the saved override, falling back field by
// field to the default so an inventory written before the override existed
// (or edited by hand) still loads.
func restoredBootOverride(saved *BootOverride) BootOverride {
	if saved == nil {
		return defaultBootOverride()
	}
	o := saved.merge(defaultBootOverride())
	if o.validate() != nil {
		return defaultBootOverride()
	}
	return o
}

// SetBootOverride changes the boot override; a field left empty keeps its
// current value, so a client can change the target alone without racing
// another writer for the rest. The new override is saved before it is
// reported. Setting the override it already has publishes nothing.
func (p *Platform) SetBootOverride(o BootOverride) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	prev := p.boot
	next := o.merge(prev)
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := next.validate(); err != nil {
		return fmt.Errorf("set boot override: %w", err)
	}
	if next == prev {
		return nil
	}
	if err := p.saveBoot(mods, power, next, prev); err != nil {
		return fmt.Errorf("set boot override: %w", err)
	}
	p.publish(p.clock.Now(), bootChanged(next, false))
	return nil
}

// saveBoot saves the inventory with override next, putting prev back when
// the store refuses. Caller holds opMu.
func (p *Platform) saveBoot(mods map[string]SavedModule, power bool, next, prev BootOverride) error {
	p.mu.Lock()
	p.boot = next
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.boot = prev
		p.mu.Unlock()
		return err
	}
	return nil
}

// consumeOnce is the firmware reading the override at POST: a Once override
// returns to Disabled and is saved so. It returns the event to publish, if
// anything changed. Caller holds opMu.
func (p *Platform) consumeOnce(mods map[string]SavedModule, power bool) (*events.BootOverrideChanged, error) {
	p.mu.Lock()
	prev := p.boot
	p.mu.Unlock()
	if prev.Enabled != BootOverrideOnce {
		return nil, nil
	}
	next := prev
	next.Enabled = BootOverrideDisabled
	if err := p.saveBoot(mods, power, next, prev); err != nil {
		return nil, err
	}
	e := bootChanged(next, true)
	return &e, nil
}

func bootChanged(o BootOverride, consumed bool) events.BootOverrideChanged {
	return events.BootOverrideChanged{Target: o.Target, Enabled: o.Enabled, Mode: o.Mode, Consumed: consumed}
}

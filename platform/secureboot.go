package platform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bmcemu/bmcemu/platform/events"
)

// UEFI Secure Boot (UEFI 2.10 §32.3; DSP0268 SecureBoot): the firmware
// setting that asks for it, the key databases that decide whether it can
// be enforced, and whether the running boot enforced it. Like the BIOS
// settings, enabling or disabling it takes effect at the next boot; the
// keys change at once (the firmware's authenticated variables).
//
// Enforcement needs a platform key: with the keys deleted (or only the PK)
// the firmware is in Setup Mode and boots unenforced. It needs UEFI boot
// too: a legacy boot is refused while it is enforced, and legacy boot
// mode cannot be selected while it is enabled.

// Secure boot modes (SecureBootMode values).
const (
	SecureBootUserMode  = "UserMode"
	SecureBootSetupMode = "SetupMode"
)

// Key reset kinds (ResetKeysType values).
const (
	ResetAllKeysToDefault = "ResetAllKeysToDefault"
	DeleteAllKeys         = "DeleteAllKeys"
	DeletePK              = "DeletePK"
)

// ErrUnknownKeyReset: not a ResetKeysType.
var ErrUnknownKeyReset = errors.New("unknown secure boot key reset")

// SecureBootNVRAM is the saved secure boot state.
type SecureBootNVRAM struct {
	// Enable is the setting for the next boot.
	Enable bool `json:"enable"`
	// Keys: "Default" (PK, KEK, db, dbx as shipped), "NoPK" (DeletePK),
	// "None" (DeleteAllKeys).
	Keys string `json:"keys"`
}

// SecureBootStatus is secure boot as a snapshot shows it.
type SecureBootStatus struct {
	Enable bool `json:"enable"`
	// Current: the running boot enforced secure boot.
	Current bool   `json:"current"`
	Mode    string `json:"mode"`
	Keys    string `json:"keys"`
	// Databases are the key databases with their signature counts.
	Databases map[string]int `json:"databases"`
}

func defaultSecureBoot() SecureBootNVRAM { return SecureBootNVRAM{Keys: "Default"} }

func restoredSecureBoot(saved *SecureBootNVRAM) SecureBootNVRAM {
	if saved == nil || !slices.Contains([]string{"Default", "NoPK", "None"}, saved.Keys) {
		return defaultSecureBoot()
	}
	return *saved
}

// secureBootStatusLocked builds the snapshot's view. Caller holds p.mu.
func (p *Platform) secureBootStatusLocked() SecureBootStatus {
	s := SecureBootStatus{Enable: p.secure.Enable, Current: p.secureCurrent, Keys: p.secure.Keys, Mode: SecureBootUserMode}
	// The shipped databases: one platform key, the vendor's and
	// Microsoft's KEKs, three db certificates, the revocation list.
	s.Databases = map[string]int{"PK": 1, "KEK": 2, "db": 3, "dbx": 77}
	switch p.secure.Keys {
	case "NoPK":
		s.Databases["PK"] = 0
		s.Mode = SecureBootSetupMode
	case "None":
		s.Databases = map[string]int{"PK": 0, "KEK": 0, "db": 0, "dbx": 0}
		s.Mode = SecureBootSetupMode
	}
	return s
}

// secureBootWanted: the setting asks for secure boot.
func (p *Platform) secureBootWanted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.secure.Enable
}

// SetSecureBootEnable sets whether the next boot enforces secure boot. It
// is refused while the BIOS boots in legacy mode (or is set to).
func (p *Platform) SetSecureBootEnable(on bool) error {
	if on {
		p.mu.Lock()
		mode, pending := p.biosValueLocked(BiosAttribute{Name: biosBootMode, Default: BiosBootModeUefi}), p.bios.Pending[biosBootMode]
		p.mu.Unlock()
		if mode == BiosBootModeBios && pending != BiosBootModeUefi || pending == BiosBootModeBios {
			return &BiosError{Attribute: biosBootMode, Value: BiosBootModeBios, Err: ErrBiosConflict,
				Detail: "secure boot needs UEFI boot mode; set BootMode to Uefi first"}
		}
	}
	return p.changeSecureBoot("secure boot enable", func(s *SecureBootNVRAM) { s.Enable = on })
}

// ResetSecureBootKeys resets the key databases: to the shipped keys, or
// deleting them all or the platform key (Setup Mode).
func (p *Platform) ResetSecureBootKeys(kind string) error {
	keys := map[string]string{ResetAllKeysToDefault: "Default", DeleteAllKeys: "None", DeletePK: "NoPK"}[kind]
	if keys == "" {
		return fmt.Errorf("reset keys %q: %w", kind, ErrUnknownKeyReset)
	}
	return p.changeSecureBoot("reset secure boot keys", func(s *SecureBootNVRAM) { s.Keys = keys })
}

func (p *Platform) changeSecureBoot(op string, change func(*SecureBootNVRAM)) error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	prev := p.secure
	next := prev
	change(&next)
	if next == prev {
		p.mu.Unlock()
		return nil
	}
	p.secure = next
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.secure = prev
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", op, err)
	}
	p.publish(p.clock.Now(), events.SecureBootChanged{Enable: next.Enable, Keys: next.Keys})
	return nil
}

// secureBootAtPOST decides whether this boot enforces secure boot, and
// reports it on the console. Caller holds opMu.
func (p *Platform) secureBootAtPOST(uefi bool) {
	p.mu.Lock()
	s := p.secure
	enforce := s.Enable && s.Keys == "Default" && uefi
	p.secureCurrent = enforce
	p.mu.Unlock()
	switch {
	case enforce:
		p.fwPrintf("Secure Boot: enabled (User Mode)\n")
	case s.Enable && s.Keys != "Default":
		p.fwPrintf("Secure Boot: not enforced: no platform key (Setup Mode)\n")
	default:
		p.fwPrintf("Secure Boot: disabled\n")
	}
}

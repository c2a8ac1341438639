package platform

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	xmaps "maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/ras"
)

// The host firmware's setup settings (the BIOS attributes). Like a real
// BIOS, the firmware applies changes at its next POST: a management
// client stages them (pending) and they become current when the host
// next boots, which is what DSP0268's Bios @Redfish.Settings describes
// and what Ironic's and sushy's BIOS interfaces rely on. Current and
// pending values are in the firmware's NVRAM, saved with the inventory.
//
// Each attribute changes something the host does, so a setting can be
// seen to take effect:
//
//	BootMode            Uefi or Bios (legacy): how the boot manager boots
//	                    when no override says otherwise
//	MemoryRASMode       the memory controller's RAS mode: the platform's one
//	                    setting (SetRASMode, `ctl ras mode`), not a copy
//	ProcHyperthreading  logical processors per core, as POST counts them
//	ProcVirtualization  VT-x, as POST reports it
//	SriovGlobalEnable   SR-IOV support in PCI resource allocation
//	PxeDev1EnDis        the first NIC's PXE boot ROM (off: PXE never boots)
//	SerialComm          console redirection: POST on the serial console
//	                    (what SOL shows) or not
//	PostPromptTimeout   seconds POST waits at its setup prompt
//	MemoryTest          an extended memory test at POST
//	AssetTag            printed by POST
//	AdminPassword       the setup password (#Bios.ChangePassword)
//
// and read-only ones the firmware reports: its version, the system's
// service tag, the memory POST found and the PXE NIC.

// BIOS attribute types (AttributeRegistry AttributeType).
const (
	BiosEnumeration = "Enumeration"
	BiosString      = "String"
	BiosInteger     = "Integer"
	BiosBoolean     = "Boolean"
	BiosPassword    = "Password"
)

// BiosAttribute is the definition of one setting, as the attribute
// registry publishes it.
type BiosAttribute struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	HelpText    string   `json:"help_text"`
	Type        string   `json:"type"`
	ReadOnly    bool     `json:"read_only,omitempty"`
	Values      []string `json:"values,omitempty"` // Enumeration
	// Default is the value ResetBios restores; nil for read-only and
	// password attributes.
	Default    any    `json:"default,omitempty"`
	LowerBound int64  `json:"lower_bound,omitempty"` // Integer
	UpperBound int64  `json:"upper_bound,omitempty"`
	MinLength  int    `json:"min_length,omitempty"` // String, Password
	MaxLength  int    `json:"max_length,omitempty"`
	Menu       string `json:"menu"`
}

// BIOS setting errors: each names the attribute; Redfish and the control
// API word them as their own errors.
var (
	ErrBiosUnknown    = errors.New("no such BIOS attribute")
	ErrBiosReadOnly   = errors.New("read-only BIOS attribute")
	ErrBiosType       = errors.New("wrong type for the BIOS attribute")
	ErrBiosNotInList  = errors.New("value not among the BIOS attribute's values")
	ErrBiosOutOfRange = errors.New("value out of the BIOS attribute's range")
	ErrBiosLength     = errors.New("value too long or too short for the BIOS attribute")
	ErrBiosPassword   = errors.New("a password attribute is changed with ChangePassword")
	// ErrBiosConflict: the value is valid alone but conflicts with
	// another setting (secure boot needs UEFI boot mode).
	ErrBiosConflict = errors.New("BIOS setting conflicts with another setting")
	// ErrBiosBadPassword: ChangePassword's old password does not match.
	ErrBiosBadPassword = errors.New("the old BIOS password does not match")
)

// BiosError is a rejected setting; SetBiosAttributes returns every one of
// a request's (errors.As to *BiosErrors).
type BiosError struct {
	Attribute string
	Value     any
	Err       error
	Detail    string
}

func (e *BiosError) Error() string {
	s := fmt.Sprintf("BIOS attribute %s = %v: %v", e.Attribute, e.Value, e.Err)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *BiosError) Unwrap() error { return e.Err }

// BiosErrors are the settings a request had wrong; none of its settings
// was staged.
type BiosErrors []*BiosError

func (es BiosErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Is lets errors.Is find any of the kinds inside.
func (es BiosErrors) Is(target error) bool {
	for _, e := range es {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

// Read-only attributes' names, whose values the platform computes.
const (
	biosVersionAttr   = "SystemBiosVersion"
	biosServiceTag    = "SystemServiceTag"
	biosMemorySize    = "SystemMemorySize"
	biosPxeInterface  = "PxeDev1Interface"
	biosRASAttr       = "MemoryRASMode"
	biosBootMode      = "BootMode"
	biosAdminPassword = "AdminPassword"
)

// BIOS boot modes (the BootMode attribute).
const (
	BiosBootModeUefi = "Uefi"
	BiosBootModeBios = "Bios"
)

// biosAttributes defines the settings, in setup-menu order.
func (p *Platform) biosAttributes() []BiosAttribute {
	rasDefault := p.prof.RAS.Mode
	if rasDefault == "" {
		rasDefault = string(ras.AdvancedECC)
	}
	onOff := []string{"Enabled", "Disabled"}
	return []BiosAttribute{
		{Name: biosVersionAttr, DisplayName: "System BIOS Version", HelpText: "The version of the system firmware running.",
			Type: BiosString, ReadOnly: true, Menu: "./SysInformation"},
		{Name: biosServiceTag, DisplayName: "System Service Tag", HelpText: "The system's serial number.",
			Type: BiosString, ReadOnly: true, Menu: "./SysInformation"},
		{Name: "AssetTag", DisplayName: "Asset Tag", HelpText: "An asset tag POST prints in its banner.",
			Type: BiosString, Default: "", MaxLength: 32, Menu: "./SysInformation"},
		{Name: biosMemorySize, DisplayName: "System Memory Size", HelpText: "The memory the last POST found seated.",
			Type: BiosString, ReadOnly: true, Menu: "./MemSettings"},
		{Name: biosRASAttr, DisplayName: "Memory RAS Mode", HelpText: "Memory protection: advanced ECC, rank sparing, mirroring, address-range mirroring or RAID memory. A population that cannot support the mode boots in AdvancedECC.",
			Type: BiosEnumeration, Values: []string{string(ras.AdvancedECC), string(ras.RankSparing), string(ras.Mirroring),
				string(ras.AddressRangeMirror), string(ras.RAID5)}, Default: rasDefault, Menu: "./MemSettings"},
		{Name: "MemoryTest", DisplayName: "Extended Memory Test", HelpText: "Test every module's memory during POST (slower boots).",
			Type: BiosBoolean, Default: false, Menu: "./MemSettings"},
		{Name: "ProcHyperthreading", DisplayName: "Logical Processor", HelpText: "Two logical processors per core (Hyper-Threading).",
			Type: BiosEnumeration, Values: onOff, Default: "Enabled", Menu: "./ProcSettings"},
		{Name: "ProcVirtualization", DisplayName: "Virtualization Technology", HelpText: "Processor virtualization extensions (VT-x).",
			Type: BiosEnumeration, Values: onOff, Default: "Enabled", Menu: "./ProcSettings"},
		{Name: "SriovGlobalEnable", DisplayName: "SR-IOV Global Enable", HelpText: "Allocate PCI resources for SR-IOV virtual functions.",
			Type: BiosEnumeration, Values: onOff, Default: "Disabled", Menu: "./IntegratedDevices"},
		{Name: biosBootMode, DisplayName: "Boot Mode", HelpText: "UEFI or legacy BIOS boot when no boot override sets the mode. Secure boot needs UEFI.",
			Type: BiosEnumeration, Values: []string{BiosBootModeUefi, BiosBootModeBios}, Default: BiosBootModeUefi, Menu: "./BootSettings"},
		{Name: "PostPromptTimeout", DisplayName: "Setup Prompt Timeout", HelpText: "Seconds POST waits at its setup prompt before booting.",
			Type: BiosInteger, Default: int64(3), LowerBound: 0, UpperBound: 30, Menu: "./BootSettings"},
		{Name: "PxeDev1EnDis", DisplayName: "PXE Device 1", HelpText: "The PXE boot ROM of the first integrated NIC port.",
			Type: BiosEnumeration, Values: onOff, Default: "Enabled", Menu: "./NetworkSettings"},
		{Name: biosPxeInterface, DisplayName: "PXE Device 1 Interface", HelpText: "The NIC port PXE device 1 boots from.",
			Type: BiosString, ReadOnly: true, Menu: "./NetworkSettings"},
		{Name: "SerialComm", DisplayName: "Serial Communication", HelpText: "Redirect the firmware's console to the serial port (what Serial over LAN shows).",
			Type: BiosEnumeration, Values: []string{"OnConRedir", "OnNoConRedir"}, Default: "OnConRedir", Menu: "./SerialCommSettings"},
		{Name: biosAdminPassword, DisplayName: "Setup Password", HelpText: "Protects the setup utility. Set with ChangePassword; empty clears it.",
			Type: BiosPassword, MinLength: 0, MaxLength: 32, Menu: "./SysSecurity"},
	}
}

// BiosAttributes lists the settings' definitions.
func (p *Platform) BiosAttributes() []BiosAttribute { return p.biosAttributes() }

func (p *Platform) biosAttribute(name string) (BiosAttribute, bool) {
	for _, a := range p.biosAttributes() {
		if a.Name == name {
			return a, true
		}
	}
	return BiosAttribute{}, false
}

// BiosNVRAM is the saved form of the settings.
type BiosNVRAM struct {
	Current map[string]any `json:"current,omitempty"`
	Pending map[string]any `json:"pending,omitempty"`
	// AppliedAt is when POST last applied pending settings; Applied
	// names them.
	AppliedAt time.Time `json:"applied_at,omitzero"`
	Applied   []string  `json:"applied,omitempty"`
	// Passwords are the password attributes set, as salted SHA-256.
	Passwords map[string]string `json:"passwords,omitempty"`
}

// BiosSettings is the BIOS as a snapshot shows it: every attribute's
// current value (password attributes nil), the staged ones, and what the
// last POST applied.
type BiosSettings struct {
	Current   map[string]any `json:"current"`
	Pending   map[string]any `json:"pending"`
	AppliedAt time.Time      `json:"applied_at,omitzero"`
	Applied   []string       `json:"applied,omitempty"`
}

// normalize checks v against the attribute's definition and returns it in
// its stored form (int64 for Integer).
func (a BiosAttribute) normalize(v any) (any, error) {
	switch a.Type {
	case BiosEnumeration:
		s, ok := v.(string)
		if !ok {
			return nil, ErrBiosType
		}
		if !slices.Contains(a.Values, s) {
			return nil, ErrBiosNotInList
		}
		return s, nil
	case BiosString:
		s, ok := v.(string)
		if !ok {
			return nil, ErrBiosType
		}
		if len(s) > a.MaxLength || len(s) < a.MinLength {
			return nil, ErrBiosLength
		}
		for _, c := range s {
			if c < 0x20 || c > 0x7e {
				return nil, fmt.Errorf("%w: printable ASCII only", ErrBiosType)
			}
		}
		return s, nil
	case BiosBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, ErrBiosType
		}
		return b, nil
	case BiosInteger:
		var n float64
		switch x := v.(type) {
		case float64:
			n = x
		case int64:
			n = float64(x)
		case int:
			n = float64(x)
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return nil, ErrBiosType
			}
			n = f
		default:
			return nil, ErrBiosType
		}
		if n != math.Trunc(n) {
			return nil, ErrBiosType
		}
		if n < float64(a.LowerBound) || n > float64(a.UpperBound) {
			return nil, ErrBiosOutOfRange
		}
		return int64(n), nil
	case BiosPassword:
		return nil, ErrBiosPassword
	}
	return nil, ErrBiosType
}

// restoredBios reads the saved settings, keeping only values the
// definitions still accept.
func (p *Platform) restoredBios(saved *BiosNVRAM) BiosNVRAM {
	b := BiosNVRAM{Current: map[string]any{}, Pending: map[string]any{}, Passwords: map[string]string{}}
	if saved == nil {
		return b
	}
	for _, src := range []struct {
		from map[string]any
		to   map[string]any
	}{{saved.Current, b.Current}, {saved.Pending, b.Pending}} {
		for k, v := range src.from {
			a, ok := p.biosAttribute(k)
			if !ok || a.ReadOnly || k == biosRASAttr {
				continue
			}
			if n, err := a.normalize(v); err == nil {
				src.to[k] = n
			}
		}
	}
	xmaps.Copy(b.Passwords, saved.Passwords)
	b.AppliedAt, b.Applied = saved.AppliedAt, slices.Clone(saved.Applied)
	return b
}

func (b BiosNVRAM) clone() BiosNVRAM {
	return BiosNVRAM{Current: xmaps.Clone(b.Current), Pending: xmaps.Clone(b.Pending), AppliedAt: b.AppliedAt,
		Applied: slices.Clone(b.Applied), Passwords: xmaps.Clone(b.Passwords)}
}

// resolvedRAS is the mode a RAS setting ("" = the profile's) stands for.
func (p *Platform) resolvedRAS(setting string) string {
	switch {
	case setting != "":
		return setting
	case p.prof.RAS.Mode != "":
		return p.prof.RAS.Mode
	}
	return string(ras.AdvancedECC)
}

// biosValue is attribute a's current value. Caller holds p.mu.
func (p *Platform) biosValueLocked(a BiosAttribute) any {
	switch a.Name {
	case biosVersionAttr:
		return p.biosVersionLocked()
	case biosServiceTag:
		return p.prof.System.SerialNumber
	case biosMemorySize:
		return fmt.Sprintf("%d GB", p.postMemory>>30)
	case biosPxeInterface:
		return "NIC.Integrated.1-1-1"
	case biosRASAttr:
		return p.resolvedRAS(p.appliedRAS)
	case biosAdminPassword:
		return nil
	}
	if v, ok := p.bios.Current[a.Name]; ok {
		return v
	}
	return a.Default
}

// biosSettingsLocked builds the snapshot's view. Caller holds p.mu.
func (p *Platform) biosSettingsLocked() BiosSettings {
	s := BiosSettings{Current: map[string]any{}, Pending: xmaps.Clone(p.bios.Pending), AppliedAt: p.bios.AppliedAt,
		Applied: slices.Clone(p.bios.Applied)}
	for _, a := range p.biosAttributes() {
		s.Current[a.Name] = p.biosValueLocked(a)
	}
	if next := p.resolvedRAS(p.rasMode); next != p.resolvedRAS(p.appliedRAS) {
		s.Pending[biosRASAttr] = next
	}
	return s
}

// biosSetting is a setting's value for the running boot. Caller holds no
// lock.
func (p *Platform) biosSetting(name string) any {
	a, _ := p.biosAttribute(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.biosValueLocked(a)
}

// SetBiosAttributes stages settings for the next boot. Every attribute is
// checked first; if any is refused, nothing is staged and the error lists
// them all (BiosErrors). A value equal to the current one withdraws a
// staged change. MemoryRASMode is the platform's RAS mode setting
// (SetRASMode).
func (p *Platform) SetBiosAttributes(attrs map[string]any) error {
	var errs BiosErrors
	norm := map[string]any{}
	for _, name := range slices.Sorted(xmaps.Keys(attrs)) {
		v := attrs[name]
		a, ok := p.biosAttribute(name)
		switch {
		case !ok:
			errs = append(errs, &BiosError{Attribute: name, Value: v, Err: ErrBiosUnknown})
			continue
		case a.ReadOnly:
			errs = append(errs, &BiosError{Attribute: name, Value: v, Err: ErrBiosReadOnly})
			continue
		}
		n, err := a.normalize(v)
		if err != nil {
			errs = append(errs, &BiosError{Attribute: name, Value: v, Err: err})
			continue
		}
		norm[name] = n
	}
	if len(errs) > 0 {
		return errs
	}
	if err := p.checkBiosConflicts(norm); err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	return p.stageBiosLocked(func(b *BiosNVRAM, rasMode *string) {
		for k, v := range norm {
			if k == biosRASAttr {
				*rasMode = v.(string)
				continue
			}
			a, _ := p.biosAttribute(k)
			cur, ok := b.Current[k]
			if !ok {
				cur = a.Default
			}
			if cur == v {
				delete(b.Pending, k)
			} else {
				b.Pending[k] = v
			}
		}
	})
}

// checkBiosConflicts refuses settings that cannot hold together with the
// others staged or current: legacy boot with secure boot enabled.
func (p *Platform) checkBiosConflicts(norm map[string]any) error {
	if norm[biosBootMode] == BiosBootModeBios && p.secureBootWanted() {
		return BiosErrors{{Attribute: biosBootMode, Value: BiosBootModeBios, Err: ErrBiosConflict,
			Detail: "secure boot is enabled and needs UEFI boot mode; disable SecureBootEnable first"}}
	}
	return nil
}

// ResetBiosDefaults stages every setting's default for the next boot
// (DSP0268 #Bios.ResetBios: the defaults apply at the next reset), the
// memory RAS mode included (the profile's), and clears the setup password
// at once, as a setup "load defaults" does.
func (p *Platform) ResetBiosDefaults() error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	return p.stageBiosLocked(func(b *BiosNVRAM, rasMode *string) {
		b.Pending = map[string]any{}
		for _, a := range p.biosAttributes() {
			if a.ReadOnly || a.Type == BiosPassword || a.Name == biosRASAttr {
				continue
			}
			cur, ok := b.Current[a.Name]
			if ok && cur != a.Default {
				b.Pending[a.Name] = a.Default
			}
		}
		*rasMode = ""
		b.Passwords = map[string]string{}
	})
}

// stageBiosLocked changes the staged settings and saves them, putting
// them back if the store refuses. Caller holds opMu.
func (p *Platform) stageBiosLocked(change func(b *BiosNVRAM, rasMode *string)) error {
	p.mu.Lock()
	prev, prevRAS := p.bios.clone(), p.rasMode
	next, nextRAS := p.bios.clone(), p.rasMode
	change(&next, &nextRAS)
	p.bios, p.rasMode = next, nextRAS
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.bios, p.rasMode = prev, prevRAS
		p.mu.Unlock()
		return fmt.Errorf("stage BIOS settings: %w", err)
	}
	p.mu.Lock()
	staged := slices.Sorted(xmaps.Keys(p.biosSettingsLocked().Pending))
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.BiosSettingsStaged{Pending: staged})
	if nextRAS != prevRAS {
		p.publish(p.clock.Now(), events.RASModePending{Mode: p.resolvedRAS(nextRAS)})
	}
	return nil
}

// ChangeBiosPassword sets password attribute name (AdminPassword) to
// newPassword ("" clears it) after checking the old one, as the setup
// utility does; it takes effect at once.
func (p *Platform) ChangeBiosPassword(name, oldPassword, newPassword string) error {
	a, ok := p.biosAttribute(name)
	if !ok || a.Type != BiosPassword {
		return &BiosError{Attribute: name, Err: ErrBiosUnknown, Detail: "not a password attribute"}
	}
	if len(newPassword) > a.MaxLength || len(newPassword) < a.MinLength {
		return &BiosError{Attribute: name, Err: ErrBiosLength, Detail: fmt.Sprintf("at most %d characters", a.MaxLength)}
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	cur, set := p.bios.Passwords[name]
	p.mu.Unlock()
	if set && !passwordMatches(cur, oldPassword) || !set && oldPassword != "" {
		return &BiosError{Attribute: name, Err: ErrBiosBadPassword}
	}
	err := p.stageBiosLocked(func(b *BiosNVRAM, _ *string) {
		if newPassword == "" {
			delete(b.Passwords, name)
			return
		}
		b.Passwords[name] = hashPassword(name, newPassword)
	})
	return err
}

// hashPassword salts with the attribute and the platform-wide prefix; a
// firmware keeps a hash, never the password.
func hashPassword(name, pw string) string {
	h := sha256.Sum256([]byte("bmcemu-bios\x00" + name + "\x00" + pw))
	return hex.EncodeToString(h[:])
}

func passwordMatches(hash, pw string) bool {
	for _, name := range []string{biosAdminPassword} {
		if subtle.ConstantTimeCompare([]byte(hash), []byte(hashPassword(name, pw))) == 1 {
			return true
		}
	}
	return false
}

// applyBiosLocked is POST applying the staged settings: they become
// current and the staging area empties. Caller holds opMu.
func (p *Platform) applyBiosLocked() error {
	p.mu.Lock()
	if len(p.bios.Pending) == 0 {
		p.mu.Unlock()
		return nil
	}
	prev := p.bios.clone()
	next := p.bios.clone()
	names := slices.Sorted(xmaps.Keys(next.Pending))
	for _, k := range names {
		a, _ := p.biosAttribute(k)
		if v := next.Pending[k]; v == a.Default {
			delete(next.Current, k)
		} else {
			next.Current[k] = v
		}
	}
	next.Pending = map[string]any{}
	next.AppliedAt, next.Applied = p.clock.Now(), names
	p.bios = next
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.bios = prev
		p.mu.Unlock()
		return err
	}
	p.publish(p.clock.Now(), events.BiosSettingsApplied{Attributes: names})
	return nil
}

// biosVersionLocked is the system firmware version running. Caller holds
// p.mu.
func (p *Platform) biosVersionLocked() string {
	if v := p.firmware.BIOS; v != "" {
		return v
	}
	return p.prof.System.BIOSVersion
}

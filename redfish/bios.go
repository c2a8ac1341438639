package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/bmcemu/bmcemu/platform"
)

// The host firmware's settings as DSP0268 Bios (v1_2_3) shows them, with
// the pending ones behind @Redfish.Settings (DSP0266 clause "Settings
// resource"): GET Systems/1/Bios is what the running boot uses, PATCH
// Systems/1/Bios/Settings stages changes the host applies at its next
// reset, which sushy's Bios.set_attributes and Ironic's BIOS interface
// rely on. The attributes are defined by the platform; their registry is
// served as the AttributeRegistry named in AttributeRegistry.

const (
	typeBios              = "#Bios.v1_2_3.Bios"
	typeSettings          = "#Settings.v1_4_0.Settings"
	typePreferredApply    = "#Settings.v1_4_0.PreferredApplyTime"
	typeAttributeRegistry = "#AttributeRegistry.v1_4_0.AttributeRegistry"
	typeSecureBoot        = "#SecureBoot.v1_1_2.SecureBoot"

	biosRegistry       = "BiosAttributeRegistry.1.0.0"
	biosRegistryPrefix = "BiosAttributeRegistry"
)

func biosPath() string         { return systemPath() + "/Bios" }
func biosSettingsPath() string { return biosPath() + "/Settings" }
func secureBootPath() string   { return systemPath() + "/SecureBoot" }

// biosSetter is the platform's BIOS.
type biosSetter interface {
	SetBiosAttributes(map[string]any) error
	ResetBiosDefaults() error
	ChangeBiosPassword(name, oldPassword, newPassword string) error
	BiosAttributes() []platform.BiosAttribute
}

type settingsAnnotation struct {
	Type                string    `json:"@odata.type"`
	SettingsObject      link      `json:"SettingsObject"`
	Time                string    `json:"Time,omitempty"`
	Messages            []message `json:"Messages,omitempty"`
	SupportedApplyTimes []string  `json:"SupportedApplyTimes"`
}

type applyTime struct {
	Type          string   `json:"@odata.type"`
	ApplyTime     string   `json:"ApplyTime"`
	ApplyTimeList []string `json:"ApplyTime@Redfish.AllowableValues"`
}

type biosActions struct {
	ResetBios      actionTarget `json:"#Bios.ResetBios"`
	ChangePassword actionTarget `json:"#Bios.ChangePassword"`
}

type biosResource struct {
	odata
	ID                string              `json:"Id"`
	Name              string              `json:"Name"`
	Description       string              `json:"Description"`
	AttributeRegistry string              `json:"AttributeRegistry"`
	Attributes        map[string]any      `json:"Attributes"`
	Settings          *settingsAnnotation `json:"@Redfish.Settings,omitempty"`
	ApplyTime         *applyTime          `json:"@Redfish.SettingsApplyTime,omitempty"`
	Actions           *biosActions        `json:"Actions,omitempty"`
	// ResetBiosToDefaultsPending: a ResetBios waits for the next boot.
	ResetBiosToDefaultsPending *bool `json:"ResetBiosToDefaultsPending,omitempty"`
}

func (s *service) getBios(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	b := r.snap.Bios
	st := &settingsAnnotation{Type: typeSettings, SettingsObject: link{ID: biosSettingsPath()}, SupportedApplyTimes: []string{"OnReset"}}
	if !b.AppliedAt.IsZero() {
		// The outcome of the last time the staged settings were applied.
		st.Time = b.AppliedAt.UTC().Format(time.RFC3339)
		st.Messages = []message{infoMessage("Success", nil)}
	}
	pending := s.resetPending(r.snap)
	return biosResource{
		odata:                      odata{ID: biosPath(), Type: typeBios},
		ID:                         "Bios",
		Name:                       "BIOS Configuration Current Settings",
		Description:                "The settings of the running boot; change them through the settings object, for the next reset.",
		AttributeRegistry:          biosRegistry,
		Attributes:                 b.Current,
		Settings:                   st,
		Actions:                    &biosActions{ResetBios: actionTarget{biosPath() + "/Actions/Bios.ResetBios"}, ChangePassword: actionTarget{biosPath() + "/Actions/Bios.ChangePassword"}},
		ResetBiosToDefaultsPending: &pending,
	}, nil
}

// resetPending: every staged value is its attribute's default and some
// are staged (what a ResetBios leaves until the reset).
func (s *service) resetPending(snap *platform.Snapshot) bool {
	bs, ok := s.platform.(biosSetter)
	if !ok || len(snap.Bios.Pending) == 0 {
		return false
	}
	for _, a := range bs.BiosAttributes() {
		if v, ok := snap.Bios.Pending[a.Name]; ok && v != a.Default {
			return false
		}
	}
	return true
}

func (s *service) getBiosSettings(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	return biosResource{
		odata:             odata{ID: biosSettingsPath(), Type: typeBios},
		ID:                "Settings",
		Name:              "BIOS Configuration Pending Settings",
		Description:       "Settings staged for the next reset of the system.",
		AttributeRegistry: biosRegistry,
		Attributes:        r.snap.Bios.Pending,
		ApplyTime:         &applyTime{Type: typePreferredApply, ApplyTime: "OnReset", ApplyTimeList: []string{"OnReset"}},
	}, nil
}

type biosSettingsPatch struct {
	Attributes json.RawMessage `json:"Attributes"`
	ApplyTime  json.RawMessage `json:"@Redfish.SettingsApplyTime"`
}

var biosReadOnly = []string{"Id", "Name", "Description", "AttributeRegistry", "Actions", "ResetBiosToDefaultsPending"}

// patchBiosSettings stages attributes. All or nothing: a request with a
// bad attribute stages none of its attributes, and names every bad one.
func (s *service) patchBiosSettings(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	bs, ok := s.platform.(biosSetter)
	if !ok {
		return nil, errOperationNotAllowed()
	}
	var p biosSettingsPatch
	d, err := decodeBody(r.body, &p, biosReadOnly)
	if err != nil {
		return nil, err
	}
	problems := d.problems
	if d.has("@Redfish.SettingsApplyTime") {
		var at struct {
			ApplyTime string `json:"ApplyTime"`
		}
		if json.Unmarshal(p.ApplyTime, &at) != nil || at.ApplyTime != "OnReset" {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueNotInList", "@Redfish.SettingsApplyTime/ApplyTime",
				shortJSON(p.ApplyTime), "@Redfish.SettingsApplyTime/ApplyTime"))
		}
	}
	var attrs map[string]any
	if d.has("Attributes") {
		dec := json.NewDecoder(bytes.NewReader(p.Attributes))
		dec.UseNumber()
		if err := dec.Decode(&attrs); err != nil || attrs == nil {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", "Attributes", shortJSON(p.Attributes), "Attributes"))
		}
	}
	if len(problems) > 0 {
		return nil, failAll(problems)
	}
	if len(attrs) == 0 {
		return nil, newAPIError(http.StatusBadRequest, "NoOperation")
	}
	for k, v := range attrs {
		if n, ok := v.(json.Number); ok {
			attrs[k] = n
		}
	}
	if err := bs.SetBiosAttributes(attrs); err != nil {
		return nil, biosErrors(err)
	}
	r.snap = s.platform.Snapshot()
	v, err := s.getBiosSettings(r)
	if err != nil {
		return nil, err
	}
	// DSP0266: tell the client what applies the change.
	body, err := withMessages(v, []*apiError{newAPIError(http.StatusOK, "ResetRequired", resetPath(), platform.ResetForceRestart)})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, body: body, refetch: true}, nil
}

// biosErrors words the platform's refusals, one message per attribute,
// each pointing at #/Attributes/<name>.
func biosErrors(err error) error {
	var es platform.BiosErrors
	var one *platform.BiosError
	switch {
	case errors.As(err, &es):
	case errors.As(err, &one):
		es = platform.BiosErrors{one}
	default:
		return fmt.Errorf("BIOS settings: %w", err)
	}
	var problems []*apiError
	for _, e := range es {
		prop := "Attributes/" + e.Attribute
		val := fmt.Sprint(e.Value)
		if e.Value == nil {
			val = "null"
		}
		var p *apiError
		switch {
		case errors.Is(e, platform.ErrBiosUnknown):
			p = propErr(http.StatusBadRequest, "PropertyUnknown", prop, prop)
		case errors.Is(e, platform.ErrBiosReadOnly), errors.Is(e, platform.ErrBiosPassword):
			p = propErr(http.StatusBadRequest, "PropertyNotWritable", prop, prop)
		case errors.Is(e, platform.ErrBiosType):
			p = propErr(http.StatusBadRequest, "PropertyValueTypeError", prop, val, prop)
		case errors.Is(e, platform.ErrBiosNotInList):
			p = propErr(http.StatusBadRequest, "PropertyValueNotInList", prop, val, prop)
		case errors.Is(e, platform.ErrBiosOutOfRange):
			p = propErr(http.StatusBadRequest, "PropertyValueOutOfRange", prop, val, prop)
		case errors.Is(e, platform.ErrBiosLength):
			p = propErr(http.StatusBadRequest, "PropertyValueFormatError", prop, val, prop)
		case errors.Is(e, platform.ErrBiosConflict):
			p = propErr(http.StatusBadRequest, "PropertyValueConflict", prop, prop, "SecureBootEnable")
			p.detail = e.Detail
		default:
			p = propErr(http.StatusBadRequest, "PropertyValueIncorrect", prop, prop, val)
		}
		problems = append(problems, p)
	}
	return failAll(problems)
}

func (s *service) postResetBios(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	bs, ok := s.platform.(biosSetter)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", "#Bios.ResetBios")
	}
	var in struct{}
	d, err := decodeAction(r.body, &in, "#Bios.ResetBios")
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if err := bs.ResetBiosDefaults(); err != nil {
		return nil, fmt.Errorf("reset BIOS: %w", err)
	}
	return &response{status: http.StatusNoContent}, nil
}

type changePasswordBody struct {
	PasswordName string  `json:"PasswordName" validate:"required"`
	OldPassword  *string `json:"OldPassword" validate:"required"`
	NewPassword  *string `json:"NewPassword" validate:"required"`
}

func (s *service) postChangeBiosPassword(r *request) (*response, error) {
	const action = "#Bios.ChangePassword"
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	bs, ok := s.platform.(biosSetter)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", action)
	}
	var in changePasswordBody
	d, err := decodeAction(r.body, &in, action)
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if err := bs.ChangeBiosPassword(in.PasswordName, *in.OldPassword, *in.NewPassword); err != nil {
		switch {
		case errors.Is(err, platform.ErrBiosUnknown):
			return nil, newAPIError(http.StatusBadRequest, "ActionParameterValueNotInList", in.PasswordName, "PasswordName", action)
		case errors.Is(err, platform.ErrBiosBadPassword):
			return nil, newAPIError(http.StatusBadRequest, "ActionParameterValueError", "OldPassword", action)
		case errors.Is(err, platform.ErrBiosLength):
			return nil, newAPIError(http.StatusBadRequest, "ActionParameterValueFormatError", "(hidden)", "NewPassword", action)
		}
		return nil, fmt.Errorf("change BIOS password: %w", err)
	}
	return &response{status: http.StatusNoContent}, nil
}

// The attribute registry (DSP0268 AttributeRegistry), generated from the
// platform's definitions: a client validates against it before staging
// (sushy's get_attribute_registry).

type attributeValue struct {
	ValueName        string `json:"ValueName"`
	ValueDisplayName string `json:"ValueDisplayName"`
}

type registryAttribute struct {
	AttributeName          string           `json:"AttributeName"`
	DisplayName            string           `json:"DisplayName"`
	HelpText               string           `json:"HelpText"`
	Type                   string           `json:"Type"`
	ReadOnly               bool             `json:"ReadOnly"`
	WriteOnly              bool             `json:"WriteOnly,omitempty"`
	ResetRequired          bool             `json:"ResetRequired"`
	IsSystemUniqueProperty bool             `json:"IsSystemUniqueProperty,omitempty"`
	DefaultValue           any              `json:"DefaultValue,omitempty"`
	Value                  []attributeValue `json:"Value,omitempty"`
	LowerBound             *int64           `json:"LowerBound,omitempty"`
	UpperBound             *int64           `json:"UpperBound,omitempty"`
	ScalarIncrement        *int64           `json:"ScalarIncrement,omitempty"`
	MinLength              *int             `json:"MinLength,omitempty"`
	MaxLength              *int             `json:"MaxLength,omitempty"`
	MenuPath               string           `json:"MenuPath"`
	DisplayOrder           int              `json:"DisplayOrder"`
}

type registryMenu struct {
	MenuName     string `json:"MenuName"`
	DisplayName  string `json:"DisplayName"`
	MenuPath     string `json:"MenuPath"`
	DisplayOrder int    `json:"DisplayOrder"`
	ReadOnly     bool   `json:"ReadOnly"`
}

type attributeRegistryDoc struct {
	Type             string `json:"@odata.type"`
	ID               string `json:"Id"`
	Name             string `json:"Name"`
	Description      string `json:"Description"`
	Language         string `json:"Language"`
	RegistryVersion  string `json:"RegistryVersion"`
	OwningEntity     string `json:"OwningEntity"`
	SupportedSystems []struct {
		ProductName     string `json:"ProductName"`
		SystemID        string `json:"SystemId"`
		FirmwareVersion string `json:"FirmwareVersion"`
	} `json:"SupportedSystems"`
	RegistryEntries struct {
		Attributes []registryAttribute `json:"Attributes"`
		Menus      []registryMenu      `json:"Menus"`
	} `json:"RegistryEntries"`
}

var menuNames = map[string]string{
	"./SysInformation": "System Information", "./MemSettings": "Memory Settings", "./ProcSettings": "Processor Settings",
	"./IntegratedDevices": "Integrated Devices", "./BootSettings": "Boot Settings", "./NetworkSettings": "Network Settings",
	"./SerialCommSettings": "Serial Communication", "./SysSecurity": "System Security",
}

func (s *service) attributeRegistryJSON() []byte {
	bs, ok := s.platform.(biosSetter)
	if !ok {
		return nil
	}
	snap := s.platform.Snapshot()
	var doc attributeRegistryDoc
	doc.Type, doc.ID, doc.Name = typeAttributeRegistry, biosRegistry, "BIOS Attribute Registry"
	doc.Description = "The setup settings of the bmcemu host firmware: their types, values and menus."
	doc.Language, doc.RegistryVersion, doc.OwningEntity = "en", "1.0.0", "bmcemu"
	doc.SupportedSystems = append(doc.SupportedSystems, struct {
		ProductName     string `json:"ProductName"`
		SystemID        string `json:"SystemId"`
		FirmwareVersion string `json:"FirmwareVersion"`
	}{snap.System.Model, alnum(snap.Profile), fmt.Sprint(snap.Bios.Current["SystemBiosVersion"])})
	var menus []string
	for i, a := range bs.BiosAttributes() {
		ra := registryAttribute{AttributeName: a.Name, DisplayName: a.DisplayName, HelpText: a.HelpText, Type: a.Type,
			ReadOnly: a.ReadOnly, ResetRequired: !a.ReadOnly && a.Type != platform.BiosPassword, DefaultValue: a.Default,
			MenuPath: a.Menu, DisplayOrder: i + 1, IsSystemUniqueProperty: a.Name == "SystemServiceTag" || a.Name == "AssetTag",
			WriteOnly: a.Type == platform.BiosPassword}
		for _, v := range a.Values {
			ra.Value = append(ra.Value, attributeValue{ValueName: v, ValueDisplayName: v})
		}
		switch a.Type {
		case platform.BiosInteger:
			lo, hi, inc := a.LowerBound, a.UpperBound, int64(1)
			ra.LowerBound, ra.UpperBound, ra.ScalarIncrement = &lo, &hi, &inc
		case platform.BiosString, platform.BiosPassword:
			if !a.ReadOnly {
				mn, mx := a.MinLength, a.MaxLength
				ra.MinLength, ra.MaxLength = &mn, &mx
			}
		}
		doc.RegistryEntries.Attributes = append(doc.RegistryEntries.Attributes, ra)
		if !slices.Contains(menus, a.Menu) {
			menus = append(menus, a.Menu)
		}
	}
	for i, m := range menus {
		doc.RegistryEntries.Menus = append(doc.RegistryEntries.Menus, registryMenu{MenuName: m[2:], DisplayName: menuNames[m],
			MenuPath: m, DisplayOrder: i + 1})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil
	}
	return b
}

// alnum keeps the letters and digits of s: SupportedSystems SystemId's
// pattern.
func alnum(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "bmcemu"
	}
	return string(b)
}

// Secure boot (DSP0268 SecureBoot v1_1_2).

type secureBootSetter interface {
	SetSecureBootEnable(on bool) error
	ResetSecureBootKeys(kind string) error
}

type resetKeysAction struct {
	Target          string   `json:"target"`
	AllowableValues []string `json:"ResetKeysType@Redfish.AllowableValues"`
}

type secureBootResource struct {
	odata
	ID                    string `json:"Id"`
	Name                  string `json:"Name"`
	Description           string `json:"Description"`
	SecureBootEnable      bool   `json:"SecureBootEnable"`
	SecureBootCurrentBoot string `json:"SecureBootCurrentBoot"`
	SecureBootMode        string `json:"SecureBootMode"`
	Actions               struct {
		ResetKeys resetKeysAction `json:"#SecureBoot.ResetKeys"`
	} `json:"Actions"`
}

var resetKeysTypes = []string{platform.ResetAllKeysToDefault, platform.DeleteAllKeys, platform.DeletePK}

func (s *service) getSecureBoot(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	sb := r.snap.SecureBoot
	cur := "Disabled"
	if sb.Current {
		cur = "Enabled"
	}
	res := secureBootResource{odata: odata{ID: secureBootPath(), Type: typeSecureBoot}, ID: "SecureBoot", Name: "UEFI Secure Boot",
		Description:      fmt.Sprintf("SecureBootEnable applies at the next reset; the keys: PK %d, KEK %d, db %d, dbx %d.", sb.Databases["PK"], sb.Databases["KEK"], sb.Databases["db"], sb.Databases["dbx"]),
		SecureBootEnable: sb.Enable, SecureBootCurrentBoot: cur, SecureBootMode: sb.Mode}
	res.Actions.ResetKeys = resetKeysAction{Target: secureBootPath() + "/Actions/SecureBoot.ResetKeys", AllowableValues: resetKeysTypes}
	return res, nil
}

type secureBootPatch struct {
	SecureBootEnable *bool `json:"SecureBootEnable"`
}

func (s *service) patchSecureBoot(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	ss, ok := s.platform.(secureBootSetter)
	if !ok {
		return nil, errOperationNotAllowed()
	}
	var p secureBootPatch
	d, err := decodeBody(r.body, &p, append(jsonNames(secureBootResource{}), "SecureBootDatabases"))
	if err != nil {
		return nil, err
	}
	if !d.has("SecureBootEnable") {
		return nil, failAll(d.problems)
	}
	if err := ss.SetSecureBootEnable(*p.SecureBootEnable); err != nil {
		if errors.Is(err, platform.ErrBiosConflict) {
			e := propErr(http.StatusBadRequest, "PropertyValueConflict", "SecureBootEnable", "SecureBootEnable", "Attributes/BootMode")
			e.detail = "Secure boot needs UEFI boot mode: stage BootMode Uefi in the BIOS settings first."
			return nil, failAll(append([]*apiError{e}, d.problems...))
		}
		return nil, fmt.Errorf("secure boot: %w", err)
	}
	return s.afterPatch(r, s.getSecureBoot, d)
}

type resetKeysBody struct {
	ResetKeysType string `json:"ResetKeysType" validate:"required,oneof=ResetAllKeysToDefault DeleteAllKeys DeletePK"`
}

func (s *service) postResetKeys(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	ss, ok := s.platform.(secureBootSetter)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", "#SecureBoot.ResetKeys")
	}
	var in resetKeysBody
	d, err := decodeAction(r.body, &in, "#SecureBoot.ResetKeys")
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if err := ss.ResetSecureBootKeys(in.ResetKeysType); err != nil {
		return nil, fmt.Errorf("reset keys: %w", err)
	}
	return &response{status: http.StatusNoContent}, nil
}

// biosVersion is the system firmware version the host runs.
func biosVersion(snap *platform.Snapshot) string {
	if v, ok := snap.Bios.Current["SystemBiosVersion"].(string); ok && v != "" {
		return v
	}
	return snap.System.BIOSVersion
}

package redfish

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// The Bios resource shows the running settings and points at its settings
// object and attribute registry; the registry describes every attribute.
func TestBiosAndAttributeRegistry(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	if got := path(t, getJSON(t, h, systemURI), "Bios", "@odata.id"); got != biosPath() {
		t.Fatalf("System Bios link %v", got)
	}
	b := getJSON(t, h, biosPath())
	attrs := b["Attributes"].(map[string]any)
	if attrs["BootMode"] != "Uefi" || attrs["MemoryRASMode"] != "AdvancedECC" || attrs["PostPromptTimeout"] != 3.0 ||
		attrs["MemoryTest"] != false || attrs["AdminPassword"] != nil || attrs["SystemServiceTag"] != p.Snapshot().System.SerialNumber {
		t.Errorf("attributes %v", attrs)
	}
	if path(t, b, "@Redfish.Settings", "SettingsObject", "@odata.id") != biosSettingsPath() || b["AttributeRegistry"] != biosRegistry {
		t.Errorf("Bios %v", b)
	}
	file := getJSON(t, h, "/redfish/v1/Registries/"+biosRegistryPrefix)
	doc := getJSON(t, h, path(t, file, "Location", 0, "Uri").(string))
	v := schemacheck.NewForTest(t)
	loc, _ := schemacheck.SchemaFor(typeAttributeRegistry)
	w := do(t, h, http.MethodGet, path(t, file, "Location", 0, "Uri").(string))
	if err := v.Validate(w.Body.Bytes(), loc); err != nil {
		t.Error(err)
	}
	defined := map[string]map[string]any{}
	for _, a := range path(t, doc, "RegistryEntries", "Attributes").([]any) {
		m := a.(map[string]any)
		defined[m["AttributeName"].(string)] = m
	}
	for name := range attrs {
		if defined[name] == nil {
			t.Errorf("%s is not in the registry", name)
		}
	}
	if ra := defined["SystemBiosVersion"]; ra["ReadOnly"] != true {
		t.Errorf("SystemBiosVersion %v", ra)
	}
	if ra := defined["PostPromptTimeout"]; ra["Type"] != "Integer" || ra["UpperBound"] != 30.0 {
		t.Errorf("PostPromptTimeout %v", ra)
	}
	if ra := defined["MemoryRASMode"]; len(ra["Value"].([]any)) != 5 {
		t.Errorf("MemoryRASMode %v", ra)
	}
}

// Staged settings show in the settings object only, until the reset that
// applies them; bad ones are all refused and stage nothing.
func TestBiosSettingsPatch(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	w := do(t, h, http.MethodPatch, biosSettingsPath(), withBody(`{"Attributes":{"Bogus":1,"SystemServiceTag":"x","BootMode":"Floppy",
		"PostPromptTimeout":31,"ProcHyperthreading":true,"SriovGlobalEnable":"Enabled"}}`))
	if w.Code != http.StatusBadRequest {
		t.Fatalf("bad settings: %d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{"PropertyUnknown", "PropertyNotWritable", "PropertyValueNotInList", "PropertyValueOutOfRange",
		"PropertyValueTypeError", "#/Attributes/Bogus", "#/Attributes/ProcHyperthreading"} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal lacks %s: %s", want, body)
		}
	}
	if pend := getJSON(t, h, biosSettingsPath())["Attributes"].(map[string]any); len(pend) != 0 {
		t.Fatalf("a refused PATCH staged %v", pend)
	}
	w = do(t, h, http.MethodPatch, biosSettingsPath(), withBody(`{"Attributes":{"SriovGlobalEnable":"Enabled","PostPromptTimeout":0,"MemoryRASMode":"RankSparing"},
		"@Redfish.SettingsApplyTime":{"ApplyTime":"OnReset"}}`))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "ResetRequired") {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	pend := getJSON(t, h, biosSettingsPath())["Attributes"].(map[string]any)
	cur := getJSON(t, h, biosPath())["Attributes"].(map[string]any)
	if pend["SriovGlobalEnable"] != "Enabled" || pend["PostPromptTimeout"] != 0.0 || pend["MemoryRASMode"] != "RankSparing" || cur["SriovGlobalEnable"] != "Disabled" {
		t.Fatalf("pending %v current %v", pend, cur)
	}
	if w := do(t, h, http.MethodPatch, biosPath(), withBody(`{"Attributes":{"BootMode":"Bios"}}`)); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("PATCH of the current settings: %d", w.Code)
	}
	if w := do(t, h, http.MethodPost, resetPath(), withBody(`{"ResetType":"ForceRestart"}`)); w.Code != http.StatusNoContent {
		t.Fatal(w.Code)
	}
	settle(t, p)
	b := getJSON(t, h, biosPath())
	cur = b["Attributes"].(map[string]any)
	if cur["SriovGlobalEnable"] != "Enabled" || cur["PostPromptTimeout"] != 0.0 || cur["MemoryRASMode"] != "RankSparing" {
		t.Errorf("after the reset: %v", cur)
	}
	if path(t, b, "@Redfish.Settings", "Time") == nil || path(t, b, "@Redfish.Settings", "Messages", 0, "MessageId") != "Base.1.22.1.Success" {
		t.Errorf("settings annotation %v", b["@Redfish.Settings"])
	}
	if pend := getJSON(t, h, biosSettingsPath())["Attributes"].(map[string]any); len(pend) != 0 {
		t.Errorf("still pending after the reset: %v", pend)
	}
	if p.Snapshot().RAS.Requested != "RankSparing" {
		t.Errorf("the RAS mode did not follow its attribute: %+v", p.Snapshot().RAS)
	}
}

// ResetBios (with no body, as sushy sends it first) stages the defaults;
// ChangePassword checks the old password.
func TestBiosActions(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	if w := do(t, h, http.MethodPatch, biosSettingsPath(), withBody(`{"Attributes":{"BootMode":"Bios"}}`)); w.Code != http.StatusOK {
		t.Fatal(w.Code, w.Body)
	}
	if w := do(t, h, http.MethodPost, resetPath(), withBody(`{"ResetType":"ForceRestart"}`)); w.Code != http.StatusNoContent {
		t.Fatal(w.Code)
	}
	settle(t, p)
	if w := do(t, h, http.MethodPost, biosPath()+"/Actions/Bios.ResetBios"); w.Code != http.StatusNoContent {
		t.Fatalf("ResetBios: %d %s", w.Code, w.Body)
	}
	if b := getJSON(t, h, biosPath()); b["ResetBiosToDefaultsPending"] != true || path(t, getJSON(t, h, biosSettingsPath()), "Attributes", "BootMode") != "Uefi" {
		t.Errorf("after ResetBios: %v", b)
	}
	cp := biosPath() + "/Actions/Bios.ChangePassword"
	if w := do(t, h, http.MethodPost, cp, withBody(`{"PasswordName":"AdminPassword","OldPassword":"","NewPassword":"Setup-1"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("ChangePassword: %d %s", w.Code, w.Body)
	}
	checkError(t, do(t, h, http.MethodPost, cp, withBody(`{"PasswordName":"AdminPassword","OldPassword":"nope","NewPassword":"x"}`)),
		http.StatusBadRequest, "ActionParameterValueError", "OldPassword", "#Bios.ChangePassword")
	checkError(t, do(t, h, http.MethodPost, cp, withBody(`{"PasswordName":"BootMode","OldPassword":"","NewPassword":"x"}`)),
		http.StatusBadRequest, "ActionParameterValueNotInList", "BootMode", "PasswordName", "#Bios.ChangePassword")
	w := do(t, h, http.MethodPost, cp, withBody(`{"PasswordName":"AdminPassword"}`))
	if w.Code != http.StatusBadRequest || strings.Count(w.Body.String(), "ActionParameterMissing") != 2 {
		t.Errorf("missing passwords: %d %s", w.Code, w.Body)
	}
}

// Secure boot: the setting waits for the reset; legacy boot mode and
// secure boot exclude each other; the keys reset at once.
func TestSecureBootResource(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	if w := do(t, h, http.MethodPatch, secureBootPath(), withBody(`{"SecureBootEnable":true}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	sb := getJSON(t, h, secureBootPath())
	if sb["SecureBootEnable"] != true || sb["SecureBootCurrentBoot"] != "Disabled" || sb["SecureBootMode"] != "UserMode" {
		t.Errorf("before the reset: %v", sb)
	}
	w := do(t, h, http.MethodPatch, biosSettingsPath(), withBody(`{"Attributes":{"BootMode":"Bios"}}`))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "PropertyValueConflict") {
		t.Errorf("legacy with secure boot: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, http.MethodPost, resetPath(), withBody(`{"ResetType":"ForceRestart"}`)); w.Code != http.StatusNoContent {
		t.Fatal(w.Code)
	}
	settle(t, p)
	if sb := getJSON(t, h, secureBootPath()); sb["SecureBootCurrentBoot"] != "Enabled" {
		t.Errorf("after the reset: %v", sb)
	}
	rk := secureBootPath() + "/Actions/SecureBoot.ResetKeys"
	if w := do(t, h, http.MethodPost, rk, withBody(`{"ResetKeysType":"DeleteAllKeys"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("ResetKeys: %d %s", w.Code, w.Body)
	}
	if sb := getJSON(t, h, secureBootPath()); sb["SecureBootMode"] != "SetupMode" {
		t.Errorf("after DeleteAllKeys: %v", sb)
	}
	checkError(t, do(t, h, http.MethodPost, rk, withBody(`{"ResetKeysType":"Shred"}`)), http.StatusBadRequest,
		"ActionParameterValueNotInList", "Shred", "ResetKeysType", "#SecureBoot.ResetKeys")
	if w := do(t, h, http.MethodPatch, secureBootPath(), withBody(`{"SecureBootEnable":false}`)); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	w = do(t, h, http.MethodPatch, biosSettingsPath(), withBody(`{"Attributes":{"BootMode":"Bios"}}`))
	if w.Code != http.StatusOK {
		t.Fatalf("legacy mode once secure boot is off: %d %s", w.Code, w.Body)
	}
	w = do(t, h, http.MethodPatch, secureBootPath(), withBody(`{"SecureBootEnable":true}`))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "PropertyValueConflict") {
		t.Errorf("secure boot with legacy mode staged: %d %s", w.Code, w.Body)
	}
}

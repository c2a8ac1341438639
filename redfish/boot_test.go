package redfish

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform"
)

const systemURI = "/redfish/v1/Systems/1"

// validSystem checks a ComputerSystem body against the DMTF schema.
func validSystem(t *testing.T, v *schemacheck.Validator, body []byte) {
	t.Helper()
	loc, err := schemacheck.SchemaFor(typeSystem)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(body, loc); err != nil {
		t.Errorf("ComputerSystem: %v\n%s", err, body)
	}
}

func TestSystemBootShowsPlatformOverride(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandler(t, p)
	w := do(t, h, http.MethodGet, systemURI)
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "PATCH") {
		t.Errorf("Allow = %q, want PATCH in it", allow)
	}
	m := decode(t, w.Body.Bytes())
	boot := m["Boot"].(map[string]any)
	if boot["BootSourceOverrideTarget"] != "None" || boot["BootSourceOverrideEnabled"] != "Disabled" || boot["BootSourceOverrideMode"] != "UEFI" {
		t.Errorf("default Boot = %v", boot)
	}
	targets, _ := boot["BootSourceOverrideTarget@Redfish.AllowableValues"].([]any)
	if len(targets) != len(platform.BootTargets()) || !slices.Contains(targets, any("Pxe")) {
		t.Errorf("allowable targets = %v", targets)
	}
	if modes, _ := boot["BootSourceOverrideMode@Redfish.AllowableValues"].([]any); len(modes) != 2 {
		t.Errorf("allowable modes = %v", modes)
	}
	validSystem(t, v, w.Body.Bytes())
	// Every target the platform offers is a member of the schema's enum.
	for _, target := range platform.BootTargets() {
		if err := p.SetBootOverride(platform.BootOverride{Target: target, Enabled: "Once"}); err != nil {
			t.Fatal(err)
		}
		validSystem(t, v, do(t, h, http.MethodGet, systemURI).Body.Bytes())
	}

	// Set elsewhere (IPMI), shown here.
	if err := p.SetBootOverride(platform.BootOverride{Target: "Usb", Enabled: "Continuous", Mode: "Legacy"}); err != nil {
		t.Fatal(err)
	}
	boot = getJSON(t, h, systemURI)["Boot"].(map[string]any)
	if boot["BootSourceOverrideTarget"] != "Usb" || boot["BootSourceOverrideEnabled"] != "Continuous" || boot["BootSourceOverrideMode"] != "Legacy" {
		t.Errorf("Boot after a platform change = %v", boot)
	}
}

// TestPatchSystemBoot sends Ironic's redfish driver body, then resets as
// it does, and checks the Once override is gone after the reboot.
func TestPatchSystemBoot(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandler(t, p)
	w := do(t, h, http.MethodPatch, systemURI, withBody(
		`{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}}`))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("ETag") == "" {
		t.Error("PATCH answered without an ETag")
	}
	validSystem(t, v, w.Body.Bytes())
	boot := decode(t, w.Body.Bytes())["Boot"].(map[string]any)
	if boot["BootSourceOverrideTarget"] != "Pxe" || boot["BootSourceOverrideEnabled"] != "Once" {
		t.Errorf("PATCH answered Boot = %v", boot)
	}
	want := platform.BootOverride{Target: "Pxe", Enabled: "Once", Mode: "UEFI"}
	if got := p.Snapshot().Boot; got != want {
		t.Fatalf("platform override = %+v, want %+v", got, want)
	}

	// One property alone keeps the others.
	if w := do(t, h, http.MethodPatch, systemURI, withBody(`{"Boot":{"BootSourceOverrideMode":"Legacy"}}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH mode: %d %s", w.Code, w.Body)
	}
	want.Mode = "Legacy"
	if got := p.Snapshot().Boot; got != want {
		t.Fatalf("platform override = %+v, want %+v", got, want)
	}

	if w := do(t, h, http.MethodPost, systemURI+"/Actions/ComputerSystem.Reset", withBody(`{"ResetType":"ForceRestart"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("reset: %d %s", w.Code, w.Body)
	}
	boot = getJSON(t, h, systemURI)["Boot"].(map[string]any)
	if boot["BootSourceOverrideEnabled"] != "Disabled" || boot["BootSourceOverrideTarget"] != "Pxe" {
		t.Errorf("Boot after the reboot = %v", boot)
	}
}

func TestPatchSystemBootRefusals(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandler(t, p)
	before := p.Snapshot().Boot
	tests := []struct {
		body, id, related string
	}{
		{`{"Boot":{"BootSourceOverrideTarget":"Floppy"}}`, "PropertyValueNotInList", "#/Boot/BootSourceOverrideTarget"},
		{`{"Boot":{"BootSourceOverrideEnabled":"Always"}}`, "PropertyValueNotInList", "#/Boot/BootSourceOverrideEnabled"},
		{`{"Boot":{"BootSourceOverrideMode":""}}`, "PropertyValueNotInList", "#/Boot/BootSourceOverrideMode"},
		{`{"Boot":{"BootSourceOverrideTarget":7}}`, "PropertyValueTypeError", "#/Boot/BootSourceOverrideTarget"},
		{`{"Boot":{"BootOrder":["Pxe"]}}`, "PropertyValueNotInList", "#/Boot/BootOrder"},
		{`{"Boot":{"BootOrder":["Boot0001","Boot0001"]}}`, "PropertyValueIncorrect", "#/Boot/BootOrder"},
		{`{"Boot":{"BootOrder":"Boot0001"}}`, "PropertyValueTypeError", "#/Boot/BootOrder"},
		{`{"Boot":{"Bogus":"Pxe"}}`, "PropertyUnknown", "#/Boot/Bogus"},
		{`{"Boot":"Pxe"}`, "PropertyValueTypeError", "#/Boot"},
		{`{"Boot":null}`, "PropertyValueTypeError", "#/Boot"},
		{`{"UUID":"00000000-0000-0000-0000-000000000000"}`, "PropertyNotWritable", "#/UUID"},
		{`{"BootSourceOverrideTarget":"Pxe"}`, "PropertyUnknown", "#/BootSourceOverrideTarget"},
		{`{"Boot":{}}`, "NoOperation", ""},
	}
	for _, tt := range tests {
		w := do(t, h, http.MethodPatch, systemURI, withBody(tt.body))
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", tt.body, w.Code, w.Body)
			continue
		}
		if err := v.Validate(w.Body.Bytes(), schemacheck.URLPrefix+"redfish-error.v1_0_2.json"); err != nil {
			t.Errorf("%s: %v", tt.body, err)
		}
		info := path(t, decode(t, w.Body.Bytes()), "error", "@Message.ExtendedInfo", 0).(map[string]any)
		if !strings.HasSuffix(info["MessageId"].(string), "."+tt.id) {
			t.Errorf("%s: MessageId %v, want %s", tt.body, info["MessageId"], tt.id)
		}
		if rel, _ := info["RelatedProperties"].([]any); tt.related != "" && (len(rel) != 1 || rel[0] != tt.related) {
			t.Errorf("%s: RelatedProperties %v, want [%s]", tt.body, rel, tt.related)
		}
		if got := p.Snapshot().Boot; got != before {
			t.Fatalf("%s changed the override to %+v", tt.body, got)
		}
	}

	// A stale ETag changes nothing; the current one is accepted.
	etag := do(t, h, http.MethodGet, systemURI).Header().Get("ETag")
	if err := p.SetBootOverride(platform.BootOverride{Target: "Hdd"}); err != nil {
		t.Fatal(err)
	}
	if w := do(t, h, http.MethodPatch, systemURI, withBody(`{"Boot":{"BootSourceOverrideTarget":"Pxe"}}`), header("If-Match", etag)); w.Code != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d %s", w.Code, w.Body)
	}
	if got := p.Snapshot().Boot.Target; got != "Hdd" {
		t.Fatalf("stale If-Match applied: target %s", got)
	}
	etag = do(t, h, http.MethodGet, systemURI).Header().Get("ETag")
	if w := do(t, h, http.MethodPatch, systemURI, withBody(`{"Boot":{"BootSourceOverrideTarget":"Pxe"}}`), header("If-Match", etag)); w.Code != http.StatusOK {
		t.Fatalf("current If-Match: %d %s", w.Code, w.Body)
	}
}

// TestPatchSystemBootPartial applies what it can and names the rest
// (DSP0266 clause 9.5.4).
func TestPatchSystemBootPartial(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	h := newHandler(t, p)
	w := do(t, h, http.MethodPatch, systemURI, withBody(
		`{"Boot":{"BootSourceOverrideTarget":"Cd","BootSourceOverrideEnabled":"Continuous","BootSourceOverrideMode":"BIOS"},"AssetTag":"rack-7"}`))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	validSystem(t, v, w.Body.Bytes())
	want := platform.BootOverride{Target: "Cd", Enabled: "Continuous", Mode: "UEFI"}
	if got := p.Snapshot().Boot; got != want {
		t.Fatalf("override = %+v, want %+v", got, want)
	}
	msgs, _ := decode(t, w.Body.Bytes())["@Message.ExtendedInfo"].([]any)
	var got []string
	for _, m := range msgs {
		m := m.(map[string]any)
		rel, _ := m["RelatedProperties"].([]any)
		got = append(got, strings.TrimPrefix(m["MessageId"].(string), "Base.1.22.1.")+" "+rel[0].(string))
	}
	slices.Sort(got)
	if wantMsgs := []string{"PropertyNotWritable #/AssetTag", "PropertyValueNotInList #/Boot/BootSourceOverrideMode"}; !slices.Equal(got, wantMsgs) {
		t.Errorf("messages = %v, want %v", got, wantMsgs)
	}
}

// TestBootPatchListsMatchPlatform keeps the validate tags, which must be
// constants, equal to the platform's lists.
func TestBootPatchListsMatchPlatform(t *testing.T) {
	rt := reflect.TypeOf(bootPatch{})
	for field, want := range map[string][]string{
		"BootSourceOverrideTarget":  platform.BootTargets(),
		"BootSourceOverrideEnabled": platform.BootOverrideStates(),
		"BootSourceOverrideMode":    platform.BootModes(),
	} {
		f, _ := rt.FieldByName(field)
		_, list, _ := strings.Cut(f.Tag.Get("validate"), "oneof=")
		if got := strings.Fields(list); !slices.Equal(got, want) {
			t.Errorf("%s oneof %v, platform %v", field, got, want)
		}
	}
}

package redfish

import (
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

// resetBody's validation list is the platform's.
func TestResetTypesMatchPlatform(t *testing.T) {
	var want string
	for i, r := range platform.ResetTypes() {
		if i > 0 {
			want += " "
		}
		want += r
	}
	f, _ := reflect.TypeOf(resetBody{}).FieldByName("ResetType")
	if tag := f.Tag.Get("validate"); tag != "required,oneof="+want {
		t.Errorf("resetBody validate %q, want oneof=%s", tag, want)
	}
}

// Every ResetType the System advertises does what DSP0268 says, seen on
// the System's PowerState and BootProgress.
func TestEveryAdvertisedResetType(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	sys := getJSON(t, h, systemURI)
	var allowed []string
	for _, v := range path(t, sys, "Actions", "#ComputerSystem.Reset", "ResetType@Redfish.AllowableValues").([]any) {
		allowed = append(allowed, v.(string))
	}
	if !slices.Equal(allowed, platform.ResetTypes()) {
		t.Fatalf("advertised %v", allowed)
	}
	reset := func(kind string) {
		t.Helper()
		if w := do(t, h, http.MethodPost, resetPath(), withBody(`{"ResetType":"`+kind+`"}`)); w.Code != http.StatusNoContent {
			t.Fatalf("%s: %d %s", kind, w.Code, w.Body)
		}
	}
	state := func() (string, string) {
		s := getJSON(t, h, systemURI)
		return s["PowerState"].(string), path(t, s, "BootProgress", "LastState").(string)
	}
	check := func(kind, power, progress string) {
		t.Helper()
		if pw, pr := state(); pw != power || pr != progress {
			t.Errorf("after %s: PowerState %s, BootProgress %s; want %s, %s", kind, pw, pr, power, progress)
		}
	}
	booted := p.Snapshot().Host.BootCount
	for _, kind := range allowed {
		switch kind {
		case "Nmi":
			before := len(p.Dmesg(0))
			reset(kind)
			if len(p.Dmesg(0)) != before+3 {
				t.Errorf("Nmi logged %d kernel lines", len(p.Dmesg(0))-before)
			}
			check(kind, "On", "OSRunning")
		case "GracefulShutdown", "PushPowerButton":
			reset(kind)
			check(kind, "PoweringOff", "OSRunning")
			settle(t, p)
			check(kind, "Off", "None")
			reset("On")
			check("On", "PoweringOn", "None")
			settle(t, p)
		case "ForceOff":
			reset(kind)
			check(kind, "Off", "None")
			reset("On")
			settle(t, p)
		case "On":
			reset(kind) // already on: nothing to do
			check(kind, "On", "OSRunning")
		default: // the restarts
			reset(kind)
			settle(t, p)
		}
		check(kind, "On", "OSRunning")
		if kind != "Nmi" && kind != "On" {
			if n := p.Snapshot().Host.BootCount; n != booted+1 {
				t.Errorf("%s: %d boots, want %d", kind, n, booted+1)
			}
			booted++
		}
	}
}

package platform

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// nextBootEvent reads the next BootOverrideChanged, skipping other facts.
func nextBootEvent(t *testing.T, sub *events.Subscription) events.BootOverrideChanged {
	t.Helper()
	for {
		select {
		case r := <-sub.C:
			if e, ok := r.Event.(events.BootOverrideChanged); ok {
				return e
			}
		default:
			t.Fatal("no BootOverrideChanged published")
		}
	}
}

func noBootEvent(t *testing.T, sub *events.Subscription) {
	t.Helper()
	for len(sub.C) > 0 {
		if r := <-sub.C; r.Event.Kind() == "BootOverrideChanged" {
			t.Fatalf("unexpected %+v", r.Event)
		}
	}
}

func TestBootOverrideSetValidatesAndPublishes(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Boot; got != defaultBootOverride() {
		t.Fatalf("fresh server override = %+v", got)
	}
	sub := p.Subscribe("t", 64)
	for _, bad := range []BootOverride{
		{Target: "Floppy"}, {Target: "pxe"}, {Enabled: "Always"}, {Mode: "BIOS"},
		// A bad field refuses the whole change, good fields included.
		{Target: BootTargetPxe, Enabled: BootOverrideOnce, Mode: "EFI"},
	} {
		if err := p.SetBootOverride(bad); !errors.Is(err, ErrBadBootOverride) {
			t.Errorf("SetBootOverride(%+v) = %v, want ErrBadBootOverride", bad, err)
		}
	}
	if got := p.Snapshot().Boot; got != defaultBootOverride() {
		t.Fatalf("refused changes altered the override: %+v", got)
	}
	noBootEvent(t, sub)

	want := BootOverride{Target: BootTargetPxe, Enabled: BootOverrideContinuous, Mode: BootModeUEFI}
	if err := p.SetBootOverride(BootOverride{Target: BootTargetPxe, Enabled: BootOverrideContinuous}); err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Boot; got != want {
		t.Fatalf("override = %+v, want %+v (empty mode keeps the current one)", got, want)
	}
	if e := nextBootEvent(t, sub); e.Target != "Pxe" || e.Enabled != "Continuous" || e.Mode != "UEFI" || e.Consumed {
		t.Fatalf("event = %+v", e)
	}
	if err := p.SetBootOverride(want); err != nil {
		t.Fatal(err)
	}
	noBootEvent(t, sub)
}

func TestBootOverrideOnceConsumedAtNextBoot(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := p.Subscribe("t", 64)
	once := BootOverride{Target: BootTargetCd, Enabled: BootOverrideOnce, Mode: BootModeLegacy}
	if err := p.SetBootOverride(once); err != nil {
		t.Fatal(err)
	}
	nextBootEvent(t, sub)

	// Powering off is no boot.
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Boot; got != once {
		t.Fatalf("power off consumed the override: %+v", got)
	}
	noBootEvent(t, sub)
	if err := p.HostReset(); !errors.Is(err, ErrWrongState) {
		t.Fatalf("reset while off: %v", err)
	}

	if err := p.SetPower(true); err != nil {
		t.Fatal(err)
	}
	want := BootOverride{Target: BootTargetCd, Enabled: BootOverrideDisabled, Mode: BootModeLegacy}
	if got := p.Snapshot().Boot; got != want {
		t.Fatalf("after power on: %+v, want %+v", got, want)
	}
	if e := nextBootEvent(t, sub); !e.Consumed || e.Enabled != "Disabled" || e.Target != "Cd" {
		t.Fatalf("event = %+v", e)
	}

	// A reset boots the host too.
	if err := p.SetBootOverride(BootOverride{Enabled: BootOverrideOnce}); err != nil {
		t.Fatal(err)
	}
	nextBootEvent(t, sub)
	if err := p.HostReset(); err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Boot; got != want {
		t.Fatalf("after reset: %+v, want %+v", got, want)
	}
	if e := nextBootEvent(t, sub); !e.Consumed {
		t.Fatalf("event = %+v", e)
	}

	// Continuous is the firmware's setting until changed.
	cont := BootOverride{Target: BootTargetHdd, Enabled: BootOverrideContinuous, Mode: BootModeUEFI}
	if err := p.SetBootOverride(cont); err != nil {
		t.Fatal(err)
	}
	nextBootEvent(t, sub)
	if err := p.HostReset(); err != nil {
		t.Fatal(err)
	}
	if got := p.Snapshot().Boot; got != cont {
		t.Fatalf("reset changed a continuous override: %+v", got)
	}
	noBootEvent(t, sub)
}

func TestBootOverrideSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.json")
	p, err := New(profile.Default(), Options{Store: NewFileInventory(path)})
	if err != nil {
		t.Fatal(err)
	}
	want := BootOverride{Target: BootTargetPxe, Enabled: BootOverrideOnce, Mode: BootModeUEFI}
	if err := p.SetBootOverride(want); err != nil {
		t.Fatal(err)
	}
	q, err := New(profile.Default(), Options{Store: NewFileInventory(path)})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Snapshot().Boot; got != want {
		t.Fatalf("restored override = %+v, want %+v", got, want)
	}
}

func TestBootOverrideFailedSaveChangesNothing(t *testing.T) {
	st := &failingStore{}
	p, err := New(profile.Default(), Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	once := BootOverride{Target: BootTargetPxe, Enabled: BootOverrideOnce, Mode: BootModeUEFI}
	if err := p.SetBootOverride(once); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	sub := p.Subscribe("t", 8)
	st.fail = true
	if err := p.SetBootOverride(BootOverride{Target: BootTargetHdd}); !errors.Is(err, ErrPersist) {
		t.Fatalf("set with failing store: %v", err)
	}
	if err := p.SetPower(true); !errors.Is(err, ErrPersist) {
		t.Fatalf("power on with failing store: %v", err)
	}
	if s := p.Snapshot(); s.Boot != once || s.PowerOn {
		t.Fatalf("unsaved changes applied: boot %+v power %v", s.Boot, s.PowerOn)
	}
	if len(sub.C) != 0 {
		t.Fatal("event published for an unsaved change")
	}
}

func TestRestoredBootOverrideFallsBack(t *testing.T) {
	if got := restoredBootOverride(nil); got != defaultBootOverride() {
		t.Errorf("nil: %+v", got)
	}
	if got := restoredBootOverride(&BootOverride{Target: BootTargetHdd}); got.Target != BootTargetHdd || got.Mode != BootModeUEFI {
		t.Errorf("partial: %+v", got)
	}
	if got := restoredBootOverride(&BootOverride{Target: "Tape"}); got != defaultBootOverride() {
		t.Errorf("invalid: %+v", got)
	}
}

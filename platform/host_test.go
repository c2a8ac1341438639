package platform

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// until advances the manual clock step by step until cond holds for the
// host, failing after limit of simulated time.
func (r *rig) until(what string, limit time.Duration, cond func(HostStatus) bool) HostStatus {
	r.t.Helper()
	for waited := time.Duration(0); ; waited += 50 * time.Millisecond {
		if h := r.p.Snapshot().Host; cond(h) {
			return h
		}
		if waited > limit {
			r.t.Fatalf("host never %s within %s: %+v", what, limit, r.p.Snapshot().Host)
		}
		r.clk.Advance(50 * time.Millisecond)
	}
}

func running(h HostStatus) bool { return h.OSRunning && h.BootProgress == BootProgressOSRunning }

func (r *rig) console() string {
	var b strings.Builder
	for _, l := range r.p.ConsoleSince(r.t.Context(), 0, 0, 0).Lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func (r *rig) kinds() []string {
	var out []string
	for _, rec := range r.drain() {
		out = append(out, rec.Event.Kind())
	}
	return out
}

// At start the host runs its OS, as before the host model existed.
func TestHostStartsRunning(t *testing.T) {
	r := newRig(t, nil)
	h := r.p.Snapshot().Host
	if !running(h) || h.PowerState != PowerStateOn || h.BootTarget != BootTargetHdd {
		t.Fatalf("host at start: %+v", h)
	}
	if err := r.p.needOS("x"); err != nil {
		t.Fatal(err)
	}
}

// A power cycle walks POST stage by stage to the OS, and the OS views and
// hot-plug are refused until it runs.
func TestHostPowerCycleBootsThroughPOST(t *testing.T) {
	r := newRig(t, nil)
	r.drain()
	r.must(r.p.Reset(ResetPowerCycle))
	if h := r.p.Snapshot().Host; h.PowerState != PowerStateOff || h.OSRunning || r.p.Snapshot().PowerOn {
		t.Fatalf("during the power cycle's off time: %+v", h)
	}
	if err := r.p.PressAttention("CPU0_DIMM_A2"); !errors.Is(err, ErrWrongState) || !errors.Is(err, ErrHostOff) {
		t.Fatalf("attention while off: %v", err)
	}
	var seen []string
	h := r.until("booted", 5*time.Minute, func(h HostStatus) bool {
		if len(seen) == 0 || seen[len(seen)-1] != h.BootProgress {
			seen = append(seen, h.BootProgress)
		}
		if h.BootProgress == BootProgressMemoryInit {
			if _, err := r.p.RunWorkload(1, 16); !errors.Is(err, ErrOSNotRunning) {
				t.Fatalf("workload during POST: %v", err)
			}
		}
		return running(h)
	})
	want := []string{BootProgressNone, BootProgressPrimaryProcessor, BootProgressMemoryInit, BootProgressPCIResourceConfig,
		BootProgressHardwareComplete, BootProgressOSBootStarted, BootProgressOSRunning}
	if !slices.Equal(seen, want) {
		t.Errorf("progress %v, want %v", seen, want)
	}
	if h.BootCount != 1 || h.Cause != events.RestartPowerUp || h.BootTarget != BootTargetHdd || h.PowerState != PowerStateOn {
		t.Errorf("booted host: %+v", h)
	}
	con := r.console()
	for _, w := range []string{"Memory training: CPU0_DIMM_A1 DDR5-4800 RDIMM 32 GiB: pass", "Memory: 512 GiB installed, 512 GiB usable, RAS mode AdvancedECC",
		"Booting UEFI OS (Disk 0)", "Linux version", "bmcemu-host login: "} {
		if !strings.Contains(con+r.p.ConsoleSince(t.Context(), 0, 0, 0).Partial, w) {
			t.Errorf("console lacks %q:\n%s", w, con)
		}
	}
	k := r.kinds()
	for _, w := range []string{"PowerChanged", "SystemRestarted", "BootProgressChanged", "RASModeApplied", "OSBootCompleted"} {
		if !slices.Contains(k, w) {
			t.Errorf("no %s event: %v", w, k)
		}
	}
	r.insertCareful("CPU0_DIMM_A2", 32)
}

// insertCareful hot-adds a module the careful way and waits for it.
func (r *rig) insertCareful(slot string, gib int) {
	r.t.Helper()
	r.must(r.p.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: gib}))
	r.must(err)
	_, err = r.p.Insert(slot, img)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
	if sl, _ := r.p.Snapshot().Slot(slot); sl.State != StateEnabled {
		r.t.Fatalf("hot-add of %s after the boot: %s (%s)", slot, sl.State, sl.Reason)
	}
}

// A one-time PXE override: the firmware's PXE client asks for an address
// from the host NIC's MAC, gets no offer, and the boot order boots the
// disk. The override is consumed at power-on.
func TestHostPXEOverrideFallsBackToDisk(t *testing.T) {
	r := newRig(t, nil)
	r.must(r.p.SetBootOverride(BootOverride{Target: BootTargetPxe, Enabled: BootOverrideOnce, Mode: BootModeUEFI}))
	r.must(r.p.Reset(ResetForceRestart))
	if b := r.p.Snapshot().Boot; b.Enabled != BootOverrideDisabled {
		t.Fatalf("override after the reset: %+v", b)
	}
	h := r.until("booted", 5*time.Minute, running)
	mac := HostNICMAC(r.p.Profile().System.SerialNumber).String()
	if h.Override == nil || h.Override.Target != BootTargetPxe || h.Cause != events.RestartHardReset {
		t.Errorf("boot record: %+v", h)
	}
	if len(h.Attempts) != 2 || h.Attempts[0].Target != BootTargetPxe || !strings.Contains(h.Attempts[0].Outcome, "PXE-E16") ||
		h.Attempts[1].Target != BootTargetHdd || h.Attempts[1].Outcome != "booted" {
		t.Errorf("attempts %+v", h.Attempts)
	}
	con := r.console()
	if n := strings.Count(con, "DHCPDISCOVER from "+mac); n != 3 {
		t.Errorf("%d DHCPDISCOVERs from %s:\n%s", n, mac, con)
	}
	if strings.Index(con, "DHCPDISCOVER") > strings.Index(con, "Booting UEFI OS (Disk 0)") {
		t.Error("the disk booted before PXE was tried")
	}
}

// The boot order alone decides without an override; an inactive option
// is skipped; BiosSetup stops in the setup utility with no OS.
func TestHostBootOrderAndSetup(t *testing.T) {
	r := newRig(t, nil)
	r.must(r.p.SetBootOrder([]string{"Boot0002", "Boot0001", "Boot0000"}))
	r.must(r.p.SetBootOptionEnabled("Boot0001", false))
	r.must(r.p.Reset(ResetForceRestart))
	h := r.until("booted", 5*time.Minute, running)
	if len(h.Attempts) != 2 || h.Attempts[0].Target != BootTargetCd || h.Attempts[1].Target != BootTargetHdd {
		t.Errorf("attempts %+v", h.Attempts)
	}
	if strings.Contains(r.console(), "DHCPDISCOVER") {
		t.Error("an inactive PXE option was tried")
	}
	if err := r.p.SetBootOrder([]string{"Boot0001", "Boot0001"}); !errors.Is(err, ErrBadBootOrder) {
		t.Errorf("duplicate order: %v", err)
	}
	r.must(r.p.SetBootOverride(BootOverride{Target: BootTargetBiosSetup, Enabled: BootOverrideOnce}))
	r.must(r.p.Reset(ResetForceRestart))
	h = r.until("in setup", 5*time.Minute, func(h HostStatus) bool { return h.BootProgress == BootProgressSetupEntered })
	r.clk.RunUntilIdle(time.Hour)
	if h = r.p.Snapshot().Host; h.OSRunning || h.BootProgress != BootProgressSetupEntered {
		t.Errorf("setup: %+v", h)
	}
	if err := r.p.Reset(ResetNmi); !errors.Is(err, ErrOSNotRunning) {
		t.Errorf("NMI in setup: %v", err)
	}
	// Nothing bootable: the firmware waits with a reason.
	r.must(r.p.SetBootOrder([]string{"Boot0002"}))
	r.must(r.p.Reset(ResetForceRestart))
	r.clk.RunUntilIdle(time.Hour)
	if h = r.p.Snapshot().Host; h.OSRunning || !strings.Contains(h.Reason, "no bootable device") {
		t.Errorf("nothing bootable: %+v", h)
	}
}

// Every reset type does what DSP0268 says, with the OS taking its time to
// shut down.
func TestHostResetTypes(t *testing.T) {
	r := newRig(t, nil)
	r.must(r.p.Reset(ResetNmi))
	if d := r.p.Dmesg(0); !strings.Contains(d[len(d)-3].String(), "NMI received for unknown reason") {
		t.Errorf("dmesg after NMI: %+v", d[len(d)-3:])
	}
	r.must(r.p.Reset(ResetGracefulShutdown))
	if h := r.p.Snapshot().Host; !h.ShuttingDown || h.PowerState != PowerStatePoweringOff || !r.p.Snapshot().PowerOn {
		t.Fatalf("shutting down: %+v", h)
	}
	r.until("off", time.Minute, func(h HostStatus) bool { return h.PowerState == PowerStateOff })
	if strings.Count(r.console(), "reboot: Power down") != 1 {
		t.Errorf("console:\n%s", r.console())
	}
	if err := r.p.Reset(ResetNmi); !errors.Is(err, ErrHostOff) {
		t.Errorf("NMI while off: %v", err)
	}
	r.must(r.p.Reset(ResetGracefulShutdown)) // already off: nothing to do
	r.must(r.p.Reset(ResetPushPowerButton))  // on
	r.until("booted", 5*time.Minute, running)
	r.must(r.p.Reset(ResetPushPowerButton)) // the OS takes the button press
	r.until("off", time.Minute, func(h HostStatus) bool { return h.PowerState == PowerStateOff })
	r.must(r.p.Reset(ResetOn))
	r.until("booted", 5*time.Minute, running)
	before := r.p.Snapshot().Host.BootCount
	r.must(r.p.Reset(ResetGracefulRestart))
	h := r.until("rebooted", 5*time.Minute, func(h HostStatus) bool { return running(h) && h.BootCount > before })
	if h.Cause != events.RestartWarmReset || !r.p.Snapshot().PowerOn || !strings.Contains(r.console(), "reboot: Restarting system") {
		t.Errorf("after GracefulRestart: %+v", h)
	}
	// ForceOff in the middle of POST: no step of that boot runs later.
	r.must(r.p.Reset(ResetForceRestart))
	r.clk.Advance(time.Second)
	r.must(r.p.Reset(ResetForceOff))
	r.clk.RunUntilIdle(time.Hour)
	if h := r.p.Snapshot().Host; h.PowerState != PowerStateOff || h.BootProgress != BootProgressNone || h.OSRunning {
		t.Errorf("after ForceOff in POST: %+v", h)
	}
	if err := r.p.Reset("Hibernate"); !errors.Is(err, ErrUnknownReset) {
		t.Errorf("unknown reset: %v", err)
	}
}

// A module seated while the chassis is off boots with the host, and the
// RAS mode set for the next boot is applied by the next POST.
func TestHostColdInsertAndRASModeAtBoot(t *testing.T) {
	prof, err := profile.Builtin("mirror")
	if err != nil {
		t.Fatal(err)
	}
	r := bootRig(t, prof, nil)
	if m := r.p.Snapshot().RAS.Mode; m != "Mirroring" {
		t.Fatalf("mode %s", m)
	}
	r.must(r.p.SetRASMode("AdvancedECC"))
	r.must(r.p.Reset(ResetForceOff))
	var slot string
	for _, sl := range r.p.Snapshot().Slots {
		if sl.Module == nil {
			slot = sl.Name
			break
		}
	}
	img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: 32}))
	r.must(err)
	_, err = r.p.Insert(slot, img)
	r.must(err)
	if sl, _ := r.p.Snapshot().Slot(slot); sl.Module == nil {
		t.Fatalf("cold-inserted module not seated: %+v", sl)
	}
	if m := r.p.Snapshot().RAS.Requested; m != "Mirroring" {
		t.Errorf("the setting was applied before a boot: %s", m)
	}
	r.must(r.p.Reset(ResetOn))
	r.until("booted", 5*time.Minute, running)
	s := r.p.Snapshot()
	if s.RAS.Requested != "AdvancedECC" || s.RAS.Mode != "AdvancedECC" || s.RAS.ConfigError != "" {
		t.Errorf("mode after the boot: %+v", s.RAS)
	}
	if sl, _ := s.Slot(slot); sl.State != StateEnabled {
		t.Errorf("cold-inserted %s after boot: %s", slot, sl.State)
	}
	if !strings.Contains(r.console(), "Memory training: "+slot) {
		t.Errorf("%s not trained at POST", slot)
	}
}

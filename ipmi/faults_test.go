package ipmi

import (
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

func TestFaultsDelayedDatagram(t *testing.T) {
	in := netfault.New(netfault.Options{})
	b := startBMCWith(t, newPlatform(t), Config{Faults: in})
	r, err := netfault.ParseRule("ipmi", "delay", []byte(`{"delay":"1500ms","count":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Set(r); err != nil {
		t.Fatal(err)
	}
	// ipmitool retransmits the first request after a second; the late
	// original is answered too, and ignored.
	if out, err := b.ipmitool(t, []string{"-N", "1", "-R", "3"}, "mc", "info"); err != nil || !strings.Contains(out, "Device ID") {
		t.Fatalf("mc info with a delayed datagram: %v\n%s", err, out)
	}
	tot, _ := in.Totals()
	for _, c := range tot {
		if c.Surface == netfault.IPMI && c.Kind == netfault.Delay && c.Injected != 1 {
			t.Errorf("ipmi/delay injected %d, want 1", c.Injected)
		}
	}
}

func TestColdResetCommand(t *testing.T) {
	in := netfault.New(netfault.Options{})
	b := startBMCWith(t, newPlatform(t), Config{Faults: in, ColdReset: time.Minute})
	if out := b.mustIpmitool(t, "mc", "reset", "cold"); !strings.Contains(out, "Sent cold reset command to MC") {
		t.Fatalf("mc reset cold: %s", out)
	}
	// ipmitool does not wait for the answer (over LAN it expects none):
	// the command may still be on its way when it exits.
	for deadline := time.Now().Add(10 * time.Second); !in.Resetting(); {
		if time.Now().After(deadline) {
			t.Fatal("the BMC is not resetting")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, resets := in.Totals(); resets["command"] != 1 {
		t.Errorf("resets %v", resets)
	}
	if out, err := b.ipmitool(t, []string{"-N", "1", "-R", "1"}, "mc", "info"); err == nil {
		t.Errorf("answered during the reset:\n%s", out)
	}
	if n := b.srv.Stats().Sessions; n != 0 {
		t.Errorf("%d sessions survived the reset", n)
	}

}

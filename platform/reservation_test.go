package platform

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// TestModuleLargerThanTheReservationRefusedUnpowered: 32 GiB are held
// back for each of two empty slots, pooled per socket. A 128 GiB module is
// refused at the SPD check, before the slot is powered, as a configuration
// error naming the reservation; a 64 GiB one takes both windows, after
// which the other slot has no room; once it is ejected both take 32 GiB.
func TestModuleLargerThanTheReservationRefusedUnpowered(t *testing.T) {
	t.Parallel()
	src := shapeYAML(1, 2, 1, 2, 32, 2, "") + "hotplug: {reserve_per_slot_gib: 32}\n"
	r := bootShape(t, src)
	refused := func(slot string, gib int, largest string) {
		t.Helper()
		r.drain()
		r.insertWait(slot, gib, 2)
		recs := r.drain()
		f, ok := find[events.SPDCheckFailed](recs)
		if !ok || f.Reason != "hotplug-reservation" || !strings.Contains(f.Detail, fmt.Sprintf("needs %d GiB on node 0", gib)) ||
			!strings.Contains(f.Detail, "largest free block of the reservation is "+largest) {
			t.Fatalf("refusal %+v: %v", f, kindsOf(recs, slot))
		}
		for _, rec := range recs {
			if ps, ok := rec.Event.(events.SlotPowerChanged); ok && ps.Slot == slot && ps.State != "Off" && ps.State != "Isolated" {
				t.Fatalf("the slot was powered: %+v", ps)
			}
			if _, ok := rec.Event.(events.SCIRaised); ok {
				t.Fatal("the firmware was asked to map it")
			}
		}
		if s := r.slot(slot); s.State != StateFailed || !strings.Contains(s.Reason, "hotplug-reservation") {
			t.Fatalf("slot %+v", s)
		}
		_, err := r.p.Remove(slot)
		r.must(err)
	}
	refused("CPU0_DIMM_A2", 128, "64 GiB")
	r.mustHotAdd(src, "CPU0_DIMM_A2", 64, 2)
	refused("CPU0_DIMM_B2", 32, "0 GiB")
	r.removeWait("CPU0_DIMM_A2")
	r.mustHotAdd(src, "CPU0_DIMM_B2", 32, 2)
	r.mustHotAdd(src, "CPU0_DIMM_A2", 32, 2)
}

// removeWait is `ctl remove SLOT --wait`: eject from the OS, then pull.
func (r *rig) removeWait(slot string) {
	r.t.Helper()
	r.must(r.p.PressAttention(slot))
	r.clk.RunUntilIdle(time.Minute)
	if s := r.slot(slot); s.Power != "Isolated" && s.Power != "Off" {
		r.t.Fatalf("%s not ejected: %+v", slot, s)
	}
	_, err := r.p.Remove(slot)
	r.must(err)
	r.clk.RunUntilIdle(time.Minute)
}

// TestReservationPastTheAddressWidthRefusedAtBoot: a reservation the
// profile's coarse sum lets through but the firmware's layout cannot place
// below the address width (the 64-bit MMIO window goes at a 1 TiB
// boundary) fails the boot with an error naming the field.
func TestReservationPastTheAddressWidthRefusedAtBoot(t *testing.T) {
	t.Parallel()
	src := strings.Replace(shapeYAML(1, 1, 1, 2, 64, 2, ""), "slots_per_channel: 2}", "slots_per_channel: 2, physical_address_bits: 41}", 1) +
		"hotplug:\n  reserve_per_slot_gib: 1024\n"
	prof := parseShape(t, src)
	_, err := New(prof, Options{Clock: clock.NewManual(epoch)})
	var pe *profile.Error
	if !errors.As(err, &pe) || pe.Field != "hotplug.reserve_per_slot_gib" || pe.Line != 7 ||
		!strings.Contains(pe.Msg, "hot-plug reservation does not fit below the 41-bit physical address space") {
		t.Fatalf("boot: %v (%#v)", err, pe)
	}
	// Half of it fits.
	if _, err := New(parseShape(t, strings.Replace(src, "1024", "512", 1)), Options{Clock: clock.NewManual(epoch)}); err != nil {
		t.Fatal(err)
	}
}

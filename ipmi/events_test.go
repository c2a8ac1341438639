package ipmi

import (
	"testing"

	"github.com/bmcemu/bmcemu/platform/events"
)

// One hot-add reports presence through several facts (the presence pin, the
// SPD read, the finished insert); the SEL must show each transition once.
func TestLastingStatesLoggedOnce(t *testing.T) {
	var st sensorStates
	st.change(slotEmission{slot: "CPU0_DIMM_A2", emission: emission{slotSensorKind, slotPowerOff, false}, state: true}) // empty: rail off
	seq := []events.Event{
		events.SlotPresenceChanged{Slot: "CPU0_DIMM_A2", Present: true, Isolated: true},
		events.SPDAccepted{Slot: "CPU0_DIMM_A2"},
		events.ModuleInserted{Slot: "CPU0_DIMM_A2"},
		events.SlotPowerChanged{Slot: "CPU0_DIMM_A2", State: "Off"}, // already off: not news
		events.SlotPowerChanged{Slot: "CPU0_DIMM_A2", State: "Nominal"},
		events.ModuleRemoved{Slot: "CPU0_DIMM_A2"},
		events.SlotPresenceChanged{Slot: "CPU0_DIMM_A2", Present: false},
	}
	var logged []emission
	for _, e := range seq {
		for _, se := range emissions(e) {
			if se.state && !st.change(se) {
				continue
			}
			logged = append(logged, se.emission)
		}
	}
	want := []emission{
		{slotSensorKind, slotDeviceInstalled, false},
		{memorySensorKind, memPresence, false},
		{slotSensorKind, slotPowerOff, true},
		{memorySensorKind, memPresence, true},
		{slotSensorKind, slotDeviceInstalled, true},
	}
	if len(logged) != len(want) {
		t.Fatalf("logged %v, want %v", logged, want)
	}
	for i := range want {
		if logged[i] != want[i] {
			t.Fatalf("record %d: %v, want %v (all: %v)", i, logged[i], want[i], logged)
		}
	}
}

func TestOccurrencesAlwaysLogged(t *testing.T) {
	noise := events.BusNoise{Slot: "CPU0_DIMM_A2", Victims: []events.NoiseHit{
		{Slot: "CPU0_DIMM_A1", Correctable: 3},
		{Slot: "CPU0_DIMM_A3", Correctable: 1, Uncorrectable: 1},
	}}
	got := emissions(noise)
	if len(got) != 3 || got[0].slot != "CPU0_DIMM_A1" || got[0].offset != memCorrectableECC ||
		got[2].slot != "CPU0_DIMM_A3" || got[2].offset != memUncorrectableECC || got[0].state {
		t.Fatalf("bus noise emissions: %+v", got)
	}
	for _, e := range []events.Event{
		events.SPDCheckFailed{Slot: "X", Reason: "crc"},
		events.ModuleParked{Slot: "X"},
		events.SlotReady{Slot: "X", For: "installation"},
		events.AttentionPressed{Slot: "X", Intent: "remove"},
	} {
		if ems := emissions(e); len(ems) != 1 || ems[0].state {
			t.Errorf("%s: %+v", e.Kind(), ems)
		}
	}
	if ems := emissions(events.AttentionPressed{Slot: "X", Intent: "insert"}); len(ems) != 0 {
		t.Errorf("attention for insert logged %+v", ems)
	}
	if ems := emissions(events.PowerChanged{On: true}); len(ems) != 0 {
		t.Errorf("power change logged %+v", ems)
	}
}

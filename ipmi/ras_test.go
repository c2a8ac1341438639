package ipmi

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// rasPlatform boots a built-in profile with the tests' stepping clock.
func rasPlatform(t testing.TB, name string, mut func(*profile.Profile)) *platform.Platform {
	t.Helper()
	prof, err := profile.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(prof)
	}
	p, err := platform.New(prof, platform.Options{Clock: newClock()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fallback(p *profile.Profile) {
	p.Modules[0].Slots = []string{"CPU0_DIMM_A1", "CPU0_DIMM_C1", "CPU0_DIMM_D1"}
}

// The RAS sensor's SDR record exists in the modes that have something to
// report, with the reading type its records use.
func TestRASSensorRecord(t *testing.T) {
	for _, tc := range []struct {
		profile             string
		mut                 func(*profile.Profile)
		name                string
		readingType         uint8
		assert, reading     [2]byte
		readingResp, status []byte
	}{
		{"mirror", nil, "MEM_REDUNDANCY", 0x0B, [2]byte{0x27, 0x00}, [2]byte{0x27, 0x00}, []byte{0x00, 0xC0, 0x01, 0x80}, []byte{0xC0, 0x01, 0x00, 0x00, 0x00}},
		{"raid5", nil, "MEM_REDUNDANCY", 0x0B, [2]byte{0x27, 0x00}, [2]byte{0x27, 0x00}, []byte{0x00, 0xC0, 0x01, 0x80}, []byte{0xC0, 0x01, 0x00, 0x00, 0x00}},
		{"mirror", fallback, "MEM_RAS_CONFIG", 0x6F, [2]byte{0x80, 0x00}, [2]byte{0x80, 0x00}, []byte{0x00, 0xC0, 0x80, 0x80}, []byte{0xC0, 0x80, 0x00, 0x00, 0x00}},
		{"default", nil, "", 0, [2]byte{}, [2]byte{}, nil, nil},
	} {
		t.Run(tc.profile+"/"+tc.name, func(t *testing.T) {
			p := rasPlatform(t, tc.profile, tc.mut)
			m := testMachine(t, p)
			data, ok := m.repository().record(recordRAS)
			if tc.name == "" {
				if ok {
					t.Fatal("AdvancedECC as requested has a RAS sensor record")
				}
				check(t, "GetSensorReading", handleGetSensorReading(m), []call{{[]byte{0xBF}, types.CodeRequestedDataNotPresent, nil}})
				return
			}
			if !ok {
				t.Fatal("no RAS sensor record")
			}
			c := parseRecord(t, data).Compact
			if string(c.IDStringBytes) != tc.name || c.SensorNumber != 0xBF || c.SensorType != 0x0C ||
				uint8(c.SensorEventReadingType) != tc.readingType || c.SensorEntityID != 0x07 || c.SensorEntityInstance != 1 {
				t.Errorf("record %+v", c)
			}
			// Assertions only (deassertion mask empty).
			if a, d, r := data[14:16], data[16:18], data[18:20]; [2]byte(a) != tc.assert || !bytes.Equal(d, []byte{0, 0}) || [2]byte(r) != tc.reading {
				t.Errorf("masks % x / % x / % x", a, d, r)
			}
			check(t, "GetSensorReading", handleGetSensorReading(m), []call{{[]byte{0xBF}, types.CodeOK, tc.readingResp}})
			check(t, "GetSensorEventStatus", handleGetSensorEventStatus(m), []call{{[]byte{0xBF}, types.CodeOK, tc.status}})
			check(t, "GetSensorType", handleGetSensorType(m), []call{{[]byte{0xBF}, types.CodeOK, []byte{0x0C, tc.readingType}}})
			// Event enables match the SDR masks: assertions only, and a
			// deassertion enable asked for is ignored.
			check(t, "GetSensorEventEnable", handleGetSensorEventEnable(m), []call{{[]byte{0xBF}, types.CodeOK,
				[]byte{0xC0, tc.assert[0], tc.assert[1], 0x00, 0x00}}})
			check(t, "SetSensorEventEnable", handleSetSensorEventEnable(m), []call{{[]byte{0xBF, 0xD0, 0x00, 0x00, 0xFF, 0x7F}, types.CodeOK, []byte{}}})
			check(t, "GetSensorEventEnable", handleGetSensorEventEnable(m), []call{{[]byte{0xBF}, types.CodeOK,
				[]byte{0xC0, tc.assert[0], tc.assert[1], 0x00, 0x00}}})
			// The sensor has no thresholds.
			check(t, "GetSensorThresholds", handleGetSensorThresholds(m), []call{{[]byte{0xBF}, types.CodeRequestDataFieldInvalid, nil}})
		})
	}
}

func TestRASReadingFollowsPlatform(t *testing.T) {
	p := rasPlatform(t, "mirror", nil)
	m := testMachine(t, p)
	if err := p.InjectMemoryError("CPU0_DIMM_A1", 0, false); err != nil {
		t.Fatal(err)
	}
	check(t, "GetSensorReading", handleGetSensorReading(m), []call{
		{[]byte{0xBF}, types.CodeOK, []byte{0x00, 0xC0, 0x02, 0x80}}, // Redundancy Lost
		{[]byte{0x01}, types.CodeOK, []byte{0x00, 0xC0, 0x50, 0x80}}, // Presence + Device Disabled
		{[]byte{0x03}, types.CodeOK, []byte{0x00, 0xC0, 0x40, 0x80}}, // the surviving side
	})
}

// rasRecords: transitions name the previous state and the set, repeat
// states are not news, a loss nobody carries alone latches NonRedundant.
func TestRASRecords(t *testing.T) {
	snap := rasPlatform(t, "mirror", nil).Snapshot()
	lost := events.MemoryRedundancyChanged{Set: "p", Slots: []string{"CPU0_DIMM_C1", "CPU0_DIMM_D1"}, State: events.RedundancyLost, Overall: events.RedundancyLost}
	for _, tc := range []struct {
		name string
		e    events.Event
		last rasLatch
		want string
	}{
		{"lost", lost, rasLatch{redundancy: events.FullyRedundant}, "[{3 1 RedundancyLost [97 240 4] 11}]"},
		{"already lost", lost, rasLatch{redundancy: events.RedundancyLost}, "[]"},
		{"previous unknown", lost, rasLatch{}, "[{3 1 RedundancyLost [33 255 4] 11}]"},
		{"set of unknown slots", events.MemoryRedundancyChanged{Slots: []string{"NOPE"}, Overall: events.RedundancyDegraded},
			rasLatch{redundancy: events.FullyRedundant}, "[{3 2 RedundancyDegraded [66 240 255] 11}]"},
		{"unknown state", events.MemoryRedundancyChanged{Overall: "Weird"}, rasLatch{}, "[]"},
		{"loss without module", events.MemoryDataLost{Pages: 3}, rasLatch{redundancy: events.NonRedundant},
			"[{3 5 NonRedundant [133 2 255] 11}]"},
		{"loss on a module", events.MemoryDataLost{Slot: "CPU0_DIMM_A1", Pages: 1}, rasLatch{}, "[]"},
		{"config error", events.RASModeApplied{Requested: "RAID5", Mode: "AdvancedECC", ConfigError: "x"}, rasLatch{},
			"[{4 7  [39 255 3] 111}]"},
		{"config error logged", events.RASModeApplied{Requested: "RAID5", ConfigError: "x"}, rasLatch{config: true}, "[]"},
		{"mode applied", events.RASModeApplied{Requested: "Mirroring", Mode: "Mirroring"}, rasLatch{}, "[]"},
	} {
		if got := fmt.Sprint(rasRecords(tc.e, snap, tc.last)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Each memory RAS event lands on the module it names, with the offset
// and OEM data 2 code of the mapping.
func TestRASEmissions(t *testing.T) {
	for _, tc := range []struct {
		e    events.Event
		want string
	}{
		{events.MemoryCorrectableError{Slot: "A"}, "[{A {0 0 false} false false 0 }]"},
		{events.MemoryUncorrectableError{Slot: "A", Recovered: true}, "[{A {0 1 false} false true 0 }]"},
		{events.MemoryUncorrectableError{Slot: "A"}, "[{A {0 1 false} false true 1 }]"},
		{events.MemoryDataLost{Slot: "A"}, "[{A {0 1 false} false true 2 }]"},
		{events.MemoryDataLost{}, "[]"},
		{events.MemoryCELoggingLimit{Slot: "A"}, "[{A {0 5 false} false false 0 }]"},
		{events.MemoryCEThresholdExceeded{Slot: "A"}, "[]"},
		{events.MemorySpareActivated{Slot: "A", SpareSlot: "B"}, "[{B {0 8 false} false true 0 A}]"},
		{events.MemoryModuleMappedOut{Slot: "A", Rank: 1}, "[{A {0 4 false} false true 1 }]"},
		{events.MemoryModuleMappedOut{Slot: "A", Rank: -1}, "[{A {0 4 false} false false 0 }]"},
		{events.MemoryReplaceRefused{Slot: "A"}, "[{A {0 7 false} false false 0 }]"},
		{events.MemoryRebuildCompleted{Slot: "A"}, "[]"},
	} {
		if got := fmt.Sprint(emissions(tc.e)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.e.Kind(), got, tc.want)
		}
	}
}

// The configuration error is logged when the BMC starts (the platform
// reported it before any BMC could subscribe), once.
func TestRASConfigErrorLoggedAtStart(t *testing.T) {
	p := rasPlatform(t, "mirror", fallback)
	b := startBMCOn(t, p)
	es := b.srv.SEL().Entries()
	if len(es) != 1 || !bytes.Equal(es[0][7:16], []byte{0x20, 0x00, 0x04, 0x0C, 0xBF, 0x6F, 0x27, 0xFF, 0x01}) {
		t.Fatalf("SEL after start: % x", es)
	}
	// A RASModeApplied reaching the pump later is the same state.
	b.srv.m.platformEvent(events.Record{Event: events.RASModeApplied{Requested: "Mirroring", Mode: "AdvancedECC", ConfigError: "x"}})
	if n := b.srv.SEL().Info().Entries; n != 1 {
		t.Errorf("%d entries after a repeated configuration error", n)
	}
	// A correctly configured boot logs nothing.
	if n := startBMCOn(t, rasPlatform(t, "mirror", nil)).srv.SEL().Info().Entries; n != 0 {
		t.Errorf("applied mode logged %d records", n)
	}
}

// FuzzRASSensorCommands feeds the sensor commands arbitrary requests on a
// redundant platform, whose sensor BFh is not a slot's: no panic, no data
// with an error, and a reading always matches the platform's redundancy.
func FuzzRASSensorCommands(f *testing.F) {
	for _, s := range [][]byte{{0xBF}, {0xBF, 0xC0}, {0xBF, 0x90, 0x02, 0x00}, {0xBF, 0x80, 0xFF, 0x7F}, {0xBE}, {0xBF, 0xFF}} {
		f.Add(s)
	}
	p := rasPlatform(f, "mirror", nil)
	m := testMachine(f, p)
	hs := []func(*machine) handlers.HandlerFunc{handleGetSensorReading, handleGetSensorEventStatus, handleGetSensorType,
		handleGetSensorEventEnable, handleSetSensorEventEnable, handleRearmSensorEvents, handleGetSensorThresholds,
		handleGetSensorHysteresis, handleGetSensorReadingFactors}
	f.Fuzz(func(t *testing.T, req []byte) {
		for i, build := range hs {
			resp, cc, err := build(m)(context.Background(), nil, req)
			if err != nil || cc != types.CodeOK && resp != nil {
				t.Fatalf("handler %d % x: cc %#02x resp % x err %v", i, req, uint8(cc), resp, err)
			}
		}
		resp, cc, _ := handleGetSensorReading(m)(context.Background(), nil, req)
		if cc == types.CodeOK && len(req) == 1 && req[0] == rasSensorNumber && resp[2] != 0x01 {
			t.Fatalf("MEM_REDUNDANCY reads % x on a fully redundant platform", resp)
		}
	})
}

// A disabled assertion is not logged, but the sensor still follows the
// platform: the next record names the true previous state.
func TestRASEventEnableAndLatch(t *testing.T) {
	p := rasPlatform(t, "mirror", nil)
	m := testMachine(t, p)
	m.states.seed(p.Snapshot())
	check(t, "SetSensorEventEnable", handleSetSensorEventEnable(m), []call{{[]byte{0xBF, 0xE0, 1 << redLost}, types.CodeOK, []byte{}}})
	change := func(state string) {
		m.platformEvent(events.Record{Event: events.MemoryRedundancyChanged{Slots: []string{"CPU0_DIMM_A1"}, State: state, Overall: state}})
	}
	change(events.RedundancyLost)
	if n := m.sel.Info().Entries; n != 0 {
		t.Fatalf("disabled Redundancy Lost logged %d records", n)
	}
	change(events.FullyRedundant)
	es := m.sel.Entries()
	if len(es) != 1 || !bytes.Equal(es[0][10:16], []byte{0x0C, 0xBF, 0x0B, 0x60, 0xF1, 0x00}) {
		t.Fatalf("SEL % x, want Fully Redundant from Redundancy Lost", es)
	}
}

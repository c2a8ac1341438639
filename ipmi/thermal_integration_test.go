package ipmi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// TestTemperatureSensors drives the DIMM temperature sensors with ipmitool
// and freeipmi: readings follow the thermal model, thresholds are read and
// set, and a threshold set below the reading logs a threshold event.
func TestTemperatureSensors(t *testing.T) {
	b := startBMC(t)
	snap := b.p.Snapshot()
	a1, _ := snap.Slot("CPU0_DIMM_A1")
	want, ok := dimmTemperature(a1)
	if !ok || want < platform.DIMMIdleC || want > platform.DIMMIdleC+platform.DIMMSlotSpread+platform.DIMMLoadSpanC {
		t.Fatalf("CPU0_DIMM_A1 (host on, populated) models %d °C, %v", want, ok)
	}

	kv := keyValues(b.mustIpmitool(t, "sensor", "get", "CPU0_TEMP_A1"))
	if kv["Sensor ID"] != "CPU0_TEMP_A1 (0xc0)" || kv["Entity ID"] != "32.1" || kv["Sensor Type (Threshold)"] != "Temperature" ||
		kv["Sensor Reading"] != fmt.Sprintf("%d (+/- 0) degrees C", want) || kv["Status"] != "ok" ||
		kv["Upper Non-Critical"] != "85.000" || kv["Upper Critical"] != "90.000" || kv["Upper Non-Recoverable"] != "95.000" ||
		kv["Lower Critical"] != "na" || kv["Positive Hysteresis"] != "2.000" || kv["Negative Hysteresis"] != "2.000" ||
		kv["Assertions Enabled"] != "unc+ ucr+ unr+" {
		t.Errorf("sensor get CPU0_TEMP_A1 = %v", kv)
	}

	rows := table(b.mustIpmitool(t, "sdr", "type", "Temperature"))
	// The DIMMs', then the processors' (F0h + socket, entity 3.socket+1).
	if len(rows) != len(snap.Slots)+2 {
		t.Fatalf("sdr type Temperature: %d rows, want %d", len(rows), len(snap.Slots)+2)
	}
	for i, c := range b.p.Snapshot().Hardware.Processors {
		r := rows[len(snap.Slots)+i]
		if r[0] != c.ID+"_TEMP" || r[1] != fmt.Sprintf("%02Xh", 0xF0+i) || r[3] != fmt.Sprintf("3.%d", i+1) || r[4] != fmt.Sprintf("%d degrees C", c.TemperatureC) {
			t.Errorf("sdr type Temperature row %q for %s at %d °C", r, c.ID, c.TemperatureC)
		}
	}
	for i, s := range snap.Slots {
		status, reading := "ns", "No Reading"
		if c, ok := dimmTemperature(s); ok {
			status, reading = "ok", fmt.Sprintf("%d degrees C", c)
		}
		if r := rows[i]; r[0] != tempSensorName(s.Name) || r[1] != fmt.Sprintf("%02Xh", 0xC0+s.Ordinal) || r[2] != status || r[4] != reading {
			t.Errorf("sdr type Temperature row %q, want %s %s %q", r, tempSensorName(s.Name), status, reading)
		}
	}

	// ipmitool sets one threshold per command: UNC 50 is accepted, then UC
	// 40 (below UNC) is refused with CCh.
	if _, err := b.ipmitool(t, nil, "sensor", "thresh", "CPU0_TEMP_A1", "upper", "50", "40", "60"); err == nil ||
		!strings.Contains(err.Error(), "Invalid data field") {
		t.Errorf("UC 40 below UNC 50 accepted: %v", err)
	}
	if th := b.srv.m.sensors.thresholds(0xC0); th[thUNC] != 50 || th[thUC] != 90 || th[thUNR] != 95 {
		t.Errorf("thresholds after refused UC: %v", th)
	}
	// Setting needs Operator.
	if _, err := b.ipmitool(t, []string{"-U", "viewer", "-L", "USER"}, "sensor", "thresh", "CPU0_TEMP_A1", "unc", "30"); err == nil {
		t.Error("viewer set a threshold")
	}
	if n := len(table(b.mustIpmitool(t, "sel", "elist"))); n != 0 {
		t.Fatalf("SEL has %d entries before any crossing", n)
	}

	// UNC below the reading: asserted at once, logged with the trigger
	// reading and threshold.
	b.mustIpmitool(t, "sensor", "thresh", "CPU0_TEMP_A1", "unc", "30")
	kv = keyValues(b.mustIpmitool(t, "sensor", "get", "CPU0_TEMP_A1"))
	if kv["Upper Non-Critical"] != "30.000" || kv["Status"] != "Upper Non-Critical" || kv["Assertion Events"] != "unc+" {
		t.Errorf("after unc 30: %v", kv)
	}
	sel := table(b.mustIpmitool(t, "sel", "elist"))
	if len(sel) != 1 || sel[0][3] != "Temperature CPU0_TEMP_A1" || sel[0][4] != "Upper Non-critical going high" ||
		sel[0][5] != "Asserted" || sel[0][6] != fmt.Sprintf("Reading %d > Threshold 30 degrees C", want) {
		t.Fatalf("sel elist after crossing: %q", sel)
	}
	kv = keyValues(b.mustIpmitool(t, "sel", "get", "1"))
	if kv["Generator ID"] != "0020" || kv["Sensor Number"] != "c0" || kv["Event Type"] != "Threshold" ||
		kv["Event Data (RAW)"] != fmt.Sprintf("57%02x1e", want) || kv["Event Direction"] != "Assertion Event" {
		t.Errorf("sel get 1 = %v", kv)
	}

	// Raising it again deasserts; a second set of the same value after
	// the event is latched logs nothing new.
	b.mustIpmitool(t, "sensor", "thresh", "CPU0_TEMP_A1", "unc", "85")
	sel = table(b.mustIpmitool(t, "sel", "elist"))
	if len(sel) != 2 || sel[1][5] != "Deasserted" {
		t.Errorf("sel elist after raising UNC: %q", sel)
	}

	// freeipmi reads the same values and thresholds.
	out, err := run(t, tool(t, "/usr/sbin/ipmi-sensors"), "-D", "LAN_2_0", "-h", "127.0.0.1:"+b.port, "-u", "admin", "-p", "password",
		"-l", "ADMIN", "--sdr-cache-directory="+t.TempDir(), "-t", "Temperature", "--output-sensor-thresholds", "--no-header-output")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range table(out) {
		got[r[1]] = r
	}
	for _, s := range snap.Slots {
		r := got[tempSensorName(s.Name)]
		reading, event := "N/A", "N/A"
		if c, ok := dimmTemperature(s); ok {
			reading, event = fmt.Sprintf("%d.00", c), "'OK'"
		}
		if len(r) != 12 || r[2] != "Temperature" || r[3] != reading || r[4] != "C" || r[5] != "N/A" ||
			r[8] != "85.00" || r[9] != "90.00" || r[10] != "95.00" || r[11] != event {
			t.Errorf("ipmi-sensors %s = %q, want %s °C, event %s", s.Name, r, reading, event)
		}
	}
}

func TestThermalModel(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	snap := p.Snapshot()
	on := map[string]uint8{}
	for _, s := range snap.Slots {
		c, ok := dimmTemperature(s)
		if ok != (s.Module != nil) {
			t.Errorf("%s: reading %v with module %v", s.Name, ok, s.Module != nil)
		}
		on[s.Name] = c
	}
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	off := p.Snapshot()
	for _, s := range off.Slots {
		if c, ok := dimmTemperature(s); ok && (c >= on[s.Name] || c > platform.AmbientC+platform.DIMMSlotSpread) {
			t.Errorf("%s: host off reads %d °C (on: %d)", s.Name, c, on[s.Name])
		}
	}
	// Empty slot: reading unavailable.
	h := handleGetSensorReading(m)
	if resp, cc, _ := h(t.Context(), nil, []byte{0xC1}); cc != types.CodeOK || len(resp) != 3 || resp[1]&flagReadingUnavailable == 0 {
		t.Errorf("empty slot reading = % x, cc %#x", resp, cc)
	}
}

// Re-arm: a crossing that persists is logged again; disabled events are
// latched but not logged.
func TestRearmAndEventEnable(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	set := handleSetSensorThresholds(m)
	if _, cc, _ := set(t.Context(), nil, []byte{0xC0, 1 << thUNC, 0, 0, 0, 20, 0, 0}); cc != types.CodeOK {
		t.Fatalf("set: %#x", cc)
	}
	if n := m.sel.Info().Entries; n != 1 {
		t.Fatalf("%d SEL entries after crossing, want 1", n)
	}
	rearm := handleRearmSensorEvents(m)
	check(t, "RearmSensorEvents", rearm, []call{
		{[]byte{0xC0, 0x80}, types.CodeOK, []byte{}},
		{[]byte{0xC0, 0x01}, types.CodeRequestDataFieldInvalid, nil},
		{[]byte{0xE0, 0x80}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{0xC0}, types.CodeRequestDataLengthInvalid, nil},
	})
	if n := m.sel.Info().Entries; n != 2 {
		t.Fatalf("%d SEL entries after re-arm, want 2", n)
	}
	// Disable the UNC assertion, re-arm: latched, not logged.
	check(t, "SetSensorEventEnable", handleSetSensorEventEnable(m), []call{
		{[]byte{0xC0, 0xE0, 0x80, 0x00}, types.CodeOK, []byte{}},
		{[]byte{0xC0, 0xF0}, types.CodeRequestDataFieldInvalid, nil},
	})
	check(t, "GetSensorEventEnable", handleGetSensorEventEnable(m), []call{
		{[]byte{0xC0}, types.CodeOK, []byte{0xC0, 0x00, 0x0A, 0x80, 0x0A}},
		{[]byte{0x01}, types.CodeOK, []byte{0xC0, 0xF3, 0x01, 0xF3, 0x01}}, // offsets 0,1,4,5,6,7,8
	})
	check(t, "RearmSensorEvents", rearm, []call{{[]byte{0xC0, 0x00, 0x80, 0x00}, types.CodeOK, []byte{}}})
	if n := m.sel.Info().Entries; n != 2 {
		t.Errorf("%d SEL entries after re-arm with UNC disabled, want 2", n)
	}
	check(t, "GetSensorEventStatus", handleGetSensorEventStatus(m), []call{{[]byte{0xC0}, types.CodeOK, []byte{0xC0, 0x80, 0x00, 0x00, 0x00}}})
	check(t, "GetSensorThresholds", handleGetSensorThresholds(m), []call{
		{[]byte{0xC0}, types.CodeOK, []byte{0x38, 0, 0, 0, 20, 90, 95}},
		{[]byte{0x01}, types.CodeRequestDataFieldInvalid, nil},
	})
	check(t, "SetSensorThresholds", set, []call{
		{[]byte{0xC0, 0x01, 10, 0, 0, 0, 0, 0}, types.CodeRequestDataFieldInvalid, nil}, // LNC does not exist
		{[]byte{0xC0, 0x38, 0, 0, 0, 50, 40, 60}, types.CodeRequestDataFieldInvalid, nil},
		{[]byte{0xC0, 0x38, 0, 0, 0, 50}, types.CodeRequestDataLengthInvalid, nil},
	})
	check(t, "GetSensorReadingFactors", handleGetSensorReadingFactors(m), []call{
		{[]byte{0xC0, 0x23}, types.CodeOK, []byte{0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00}},
		{[]byte{0xC0}, types.CodeRequestDataLengthInvalid, nil},
	})
	if n := tempSensorName("CPU0_DIMM_A1"); n != "CPU0_TEMP_A1" {
		t.Errorf("tempSensorName = %q", n)
	}
}

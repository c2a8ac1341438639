package conformance

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

type redfishSensor struct {
	Reading     float64
	ReadingType string
	Thresholds  map[string]struct{ Reading float64 }
	RelatedItem []struct {
		ID string `json:"@odata.id"`
	}
}

// sameReading reads a DIMM's temperature through both surfaces until one
// Redfish read and the ipmitool read in between agree with each other's
// instant (the model follows OS memory use, which may move between the
// two requests), then compares them.
func sameReading(t *testing.T, e *Emulator, slot, ipmiName string) float64 {
	t.Helper()
	uri := "/redfish/v1/Chassis/1/Sensors/temperature_" + slot
	var last string
	for range 5 {
		var before, after redfishSensor
		if resp := e.getJSON(uri, &before); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", uri, resp.StatusCode)
		}
		kv := kv(e.mustIPMI("sensor", "get", ipmiName))
		e.getJSON(uri, &after)
		if before.Reading != after.Reading {
			continue
		}
		last = kv["Sensor Reading"]
		if want := fmt.Sprintf("%d (+/- 0) degrees C", int(before.Reading)); last == want {
			if before.ReadingType != "Temperature" || before.Thresholds["UpperCaution"].Reading != 85 ||
				kv["Upper Non-Critical"] != "85.000" || before.Thresholds["UpperCritical"].Reading != 90 ||
				kv["Upper Critical"] != "90.000" || before.Thresholds["UpperFatal"].Reading != 95 ||
				kv["Upper Non-Recoverable"] != "95.000" ||
				len(before.RelatedItem) != 1 || before.RelatedItem[0].ID != "/redfish/v1/Systems/1/Memory/"+slot {
				t.Errorf("%s: Redfish %+v, ipmitool %v", slot, before, kv)
			}
			return before.Reading
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: Redfish and ipmitool never agreed (ipmitool: %q)", slot, last)
	return 0
}

func sensorMembers(t *testing.T, e *Emulator) []string {
	t.Helper()
	var c struct {
		Members []struct {
			ID string `json:"@odata.id"`
		}
	}
	if resp := e.getJSON("/redfish/v1/Chassis/1/Sensors", &c); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET Sensors: %d", resp.StatusCode)
	}
	var out []string
	for _, m := range c.Members {
		out = append(out, m.ID)
	}
	return out
}

// A DIMM's temperature is one reading whichever surface reports it:
// Redfish's Sensor and EnvironmentMetrics and ipmitool's `sensor get`
// agree, the populated slots are the ones with Redfish sensors, and a
// hot-added module's sensor comes and goes with the module.
func TestDIMMTemperatureSameOnBothSurfaces(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})

	sameReading(t, e, "CPU0_DIMM_A1", "CPU0_TEMP_A1")
	// EnvironmentMetrics copies the Sensor's reading and points at it;
	// compared between two equal Sensor reads, so the instant is one.
	agreed := false
	for i := 0; i < 5 && !agreed; i++ {
		var before, after redfishSensor
		var env struct {
			TemperatureCelsius struct {
				Reading       float64
				DataSourceURI string `json:"DataSourceUri"`
			}
		}
		e.getJSON("/redfish/v1/Chassis/1/Sensors/temperature_CPU0_DIMM_A1", &before)
		e.getJSON("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1/EnvironmentMetrics", &env)
		e.getJSON("/redfish/v1/Chassis/1/Sensors/temperature_CPU0_DIMM_A1", &after)
		if before.Reading != after.Reading {
			continue
		}
		agreed = true
		if env.TemperatureCelsius.DataSourceURI != "/redfish/v1/Chassis/1/Sensors/temperature_CPU0_DIMM_A1" ||
			env.TemperatureCelsius.Reading != before.Reading {
			t.Errorf("EnvironmentMetrics %+v, Sensor reads %v", env, before.Reading)
		}
	}
	if !agreed {
		t.Error("the Sensor reading never held still for two reads")
	}

	// ipmitool's populated DIMM temperature sensors ("ok") are Redfish's.
	// (The processors' CPUn_TEMP sensors are in the same SDR type; they
	// are Thermal's, not the Sensors collection's.)
	var ok []string
	for name, cols := range sdrRows(e.mustIPMI("sdr", "type", "Temperature")) {
		if cols[1] == "ok" && strings.Contains(name, "_TEMP_") {
			ok = append(ok, name)
		}
	}
	have := sensorMembers(t, e)
	if len(ok) != 16 || len(have) != len(ok) {
		t.Errorf("ipmitool reads %d DIMM temperatures, Redfish lists %d sensors: %v", len(ok), len(have), have)
	}
	for _, name := range ok {
		slot := strings.Replace(name, "TEMP", "DIMM", 1)
		if !slices.Contains(have, "/redfish/v1/Chassis/1/Sensors/temperature_"+slot) {
			t.Errorf("%s reads over IPMI but Redfish has no sensor for %s", name, slot)
		}
	}

	if out, err := e.ctl("attention", "CPU0_DIMM_A2"); err != nil {
		t.Fatalf("ctl attention: %v\n%s", err, out)
	}
	e.waitSlot("CPU0_DIMM_A2", "Isolated")
	if out, err := e.ctl("insert", "CPU0_DIMM_A2", "--capacity-gib", "64", "--wait"); err != nil {
		t.Fatalf("ctl insert --wait: %v\n%s", err, out)
	}
	sameReading(t, e, "CPU0_DIMM_A2", "CPU0_TEMP_A2")
	if n := len(sensorMembers(t, e)); n != 17 {
		t.Errorf("after insert: %d sensors, want 17", n)
	}

	if out, err := e.ctl("remove", "CPU0_DIMM_A2", "--wait"); err != nil {
		t.Fatalf("ctl remove: %v\n%s", err, out)
	}
	if slices.Contains(sensorMembers(t, e), "/redfish/v1/Chassis/1/Sensors/temperature_CPU0_DIMM_A2") {
		t.Error("the removed module's sensor is still listed")
	}
	if resp := e.getJSON("/redfish/v1/Chassis/1/Sensors/temperature_CPU0_DIMM_A2", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed module's sensor: %d", resp.StatusCode)
	}
	if resp := e.getJSON("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2/EnvironmentMetrics", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removed module's EnvironmentMetrics: %d", resp.StatusCode)
	}
	if cols := sdrRows(e.mustIPMI("sdr", "type", "Temperature"))["CPU0_TEMP_A2"]; len(cols) < 2 || cols[1] != "ns" {
		t.Errorf("ipmitool still reads CPU0_TEMP_A2 after removal: %v", cols)
	}
}

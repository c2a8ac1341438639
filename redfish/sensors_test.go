package redfish

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

const sensorsURI = "/redfish/v1/Chassis/1/Sensors"

// sensorIDs lists the collection's members.
func sensorIDs(t *testing.T, h http.Handler) []string {
	t.Helper()
	var out []string
	for _, m := range members(t, getJSON(t, h, sensorsURI)) {
		out = append(out, m.(map[string]any)["@odata.id"].(string))
	}
	return out
}

// checkTemperature asserts that the slot's Sensor, its Memory member's
// EnvironmentMetrics and the platform snapshot report one reading.
func checkTemperature(t *testing.T, h http.Handler, sl platform.Slot) {
	t.Helper()
	sensorURI := sensorsURI + "/temperature_" + sl.Name
	memURI := "/redfish/v1/Systems/1/Memory/" + sl.Name
	s := getJSON(t, h, sensorURI)
	want := float64(*sl.TemperatureC)
	if s["@odata.type"] != typeSensor || s["Id"] != "temperature_"+sl.Name || s["Reading"] != want ||
		s["ReadingType"] != "Temperature" || s["ReadingUnits"] != "Cel" || s["PhysicalContext"] != "Memory" ||
		path(t, s, "Status", "State") != "Enabled" || path(t, s, "Status", "Health") != "OK" ||
		path(t, s, "RelatedItem", 0, "@odata.id") != memURI {
		t.Errorf("%s = %v, want Reading %v", sensorURI, s, want)
	}
	for name, v := range map[string]float64{"UpperCaution": 85, "UpperCritical": 90, "UpperFatal": 95} {
		if got := path(t, s, "Thresholds", name, "Reading"); got != v {
			t.Errorf("%s %s = %v, want %v", sensorURI, name, got, v)
		}
	}
	envURI := path(t, getJSON(t, h, memURI), "EnvironmentMetrics", "@odata.id")
	if envURI != memURI+"/EnvironmentMetrics" {
		t.Fatalf("%s EnvironmentMetrics = %v", memURI, envURI)
	}
	env := getJSON(t, h, envURI.(string))
	if env["@odata.type"] != typeEnvironmentMetrics || path(t, env, "TemperatureCelsius", "Reading") != want ||
		path(t, env, "TemperatureCelsius", "DataSourceUri") != sensorURI {
		t.Errorf("%s = %v, want Reading %v from %s", envURI, env, want, sensorURI)
	}
}

// Every seated module has one temperature Sensor whose reading is the
// platform's; an empty slot has none and no EnvironmentMetrics.
func TestTemperatureSensorsFollowThePlatform(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	if got := path(t, getJSON(t, h, "/redfish/v1/Chassis/1"), "Sensors", "@odata.id"); got != sensorsURI {
		t.Fatalf("Chassis Sensors = %v", got)
	}
	snap := p.Snapshot()
	var want []string
	for _, sl := range snap.Slots {
		if sl.Module == nil {
			continue
		}
		want = append(want, sensorsURI+"/temperature_"+sl.Name)
		checkTemperature(t, h, sl)
	}
	if got := sensorIDs(t, h); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != snap.Populated() {
		t.Errorf("Sensors = %v, want %v", got, want)
	}

	// CPU0_DIMM_A2 is empty: no sensor, no metrics, no link to them.
	checkError(t, do(t, h, http.MethodGet, sensorsURI+"/temperature_CPU0_DIMM_A2"), http.StatusNotFound,
		"ResourceNotFound", "Sensor", "temperature_CPU0_DIMM_A2")
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2/EnvironmentMetrics"), http.StatusNotFound,
		"ResourceNotFound", "EnvironmentMetrics", "CPU0_DIMM_A2")
	if _, ok := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2")["EnvironmentMetrics"]; ok {
		t.Error("an empty slot links EnvironmentMetrics")
	}
	for _, bad := range []string{sensorsURI + "/CPU0_DIMM_A1", sensorsURI + "/temperature_CPU9_DIMM_Z9", "/redfish/v1/Chassis/2/Sensors"} {
		if w := do(t, h, http.MethodGet, bad); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d", bad, w.Code)
		}
	}

	// Hot-add: the new module's sensor joins; power off: every reading
	// drops to the platform's ambient value; pull: the sensor goes.
	insert(t, p, "CPU0_DIMM_A2", 64)
	a2, _ := p.Snapshot().Slot("CPU0_DIMM_A2")
	checkTemperature(t, h, a2)
	if got := sensorIDs(t, h); len(got) != snap.Populated()+1 {
		t.Errorf("after insert: %d sensors", len(got))
	}
	onReading := getJSON(t, h, sensorsURI+"/temperature_CPU0_DIMM_A1")["Reading"]
	etag := do(t, h, http.MethodGet, sensorsURI+"/temperature_CPU0_DIMM_A1").Header().Get("ETag")
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	a1, _ := p.Snapshot().Slot("CPU0_DIMM_A1")
	checkTemperature(t, h, a1)
	if off := getJSON(t, h, sensorsURI+"/temperature_CPU0_DIMM_A1")["Reading"]; off != float64(platform.AmbientC) || off == onReading {
		t.Errorf("host off: CPU0_DIMM_A1 reads %v (on: %v)", off, onReading)
	}
	w := do(t, h, http.MethodGet, sensorsURI+"/temperature_CPU0_DIMM_A1", func(r *http.Request) { r.Header.Set("If-None-Match", etag) })
	if w.Code != http.StatusOK || w.Header().Get("ETag") == etag {
		t.Errorf("stale ETag after the reading changed: %d %s", w.Code, w.Header().Get("ETag"))
	}
	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	for _, id := range sensorIDs(t, h) {
		if id == sensorsURI+"/temperature_CPU0_DIMM_A2" {
			t.Error("the pulled module's sensor is still listed")
		}
	}
	checkError(t, do(t, h, http.MethodGet, sensorsURI+"/temperature_CPU0_DIMM_A2"), http.StatusNotFound,
		"ResourceNotFound", "Sensor", "temperature_CPU0_DIMM_A2")
}

func TestTemperatureHealth(t *testing.T) {
	for c, want := range map[int]string{20: "OK", 84: "OK", 85: "Warning", 89: "Warning", 90: "Critical", 95: "Critical", 120: "Critical"} {
		if got := temperatureHealth(c); got != want {
			t.Errorf("%d °C: %s, want %s", c, got, want)
		}
	}
}

// Reading sensors, metrics and schema files takes Login; none is
// writable.
func TestThermalAndSchemaPrivileges(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	for _, uri := range []string{sensorsURI, sensorsURI + "/temperature_CPU0_DIMM_A1",
		"/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1/EnvironmentMetrics", "/redfish/v1/JsonSchemas", "/redfish/v1/JsonSchemas/Sensor"} {
		if w := do(t, h, http.MethodGet, uri, basic("reader", "reader-pw")); w.Code != http.StatusOK {
			t.Errorf("ReadOnly GET %s: %d", uri, w.Code)
		}
		if w := do(t, h, http.MethodGet, uri, noAuth); w.Code != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %d", uri, w.Code)
		}
		w := do(t, h, http.MethodPatch, uri, withBody(`{}`))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("PATCH %s: %d Allow %q", uri, w.Code, w.Header().Get("Allow"))
		}
	}
}

package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// One chassis identify LED, three clients: redfishtool and Ansible light
// it through Redfish, ipmitool sets and freeipmi reads it over IPMI.
func TestChassisIdentifyAcrossSurfaces(t *testing.T) {
	e := start(t, startOpts{})
	freeipmi := func() string {
		t.Helper()
		out, err := run(t, time.Minute, needTool(t, "ipmi-chassis"), "-D", "LAN_2_0", "-h", fmt.Sprintf("%s:%d", e.IPMIHost, e.IPMIPort),
			"-u", e.User, "-p", e.Password, "-l", "ADMIN", "--get-chassis-status")
		if err != nil {
			t.Fatalf("ipmi-chassis: %v\n%s", err, out)
		}
		return kv(out)["Chassis Identify state"]
	}
	redfishLED := func() string {
		var c struct{ IndicatorLED string }
		e.getJSON("/redfish/v1/Chassis/1", &c)
		return c.IndicatorLED
	}

	if out, err := e.redfishtool("Chassis", "-I", "1", "setIndicatorLed", "Blinking"); err != nil {
		t.Fatalf("redfishtool setIndicatorLed: %v\n%s", err, out)
	}
	if got := freeipmi(); got != "Indefinite on" {
		t.Errorf("after redfishtool Blinking, ipmi-chassis says %q", got)
	}
	e.mustIPMI("chassis", "identify", "0")
	if got := redfishLED(); got != "Off" {
		t.Errorf("after ipmitool chassis identify 0, Redfish IndicatorLED is %q", got)
	}
	e.mustIPMI("chassis", "identify", "240")
	if got := redfishLED(); got != "Blinking" || freeipmi() != "Timed on" {
		t.Errorf("after ipmitool chassis identify 240: Redfish %q", got)
	}
	e.mustAnsible("redfish_command", "category=Chassis", "command=IndicatorLedOn")
	if got := redfishLED(); got != "Lit" || freeipmi() != "Indefinite on" {
		t.Errorf("after Ansible IndicatorLedOn: Redfish %q", got)
	}
	out, err := e.ctl("system", "-o", "json")
	var sys struct {
		Identify struct{ State string } `json:"chassis_identify"`
	}
	if err != nil || json.Unmarshal([]byte(out), &sys) != nil || sys.Identify.State != "Lit" {
		t.Errorf("ctl system after Ansible IndicatorLedOn: %v\n%s", err, out)
	}
	e.mustAnsible("redfish_command", "category=Chassis", "command=IndicatorLedOff")
	if got := freeipmi(); got != "off" {
		t.Errorf("after Ansible IndicatorLedOff, ipmi-chassis says %q", got)
	}
}

// One BMC clock: redfishtool sets the Manager's DateTime and ipmitool reads
// it as the SEL time; ipmitool sets the SEL time and Redfish shows it.
func TestBMCClockAcrossSurfaces(t *testing.T) {
	e := start(t, startOpts{})
	if out, err := e.redfishtool("Managers", "-I", "bmc", "setDateTime", "2031-02-03T04:05:06+00:00"); err != nil {
		t.Fatalf("redfishtool setDateTime: %v\n%s", err, out)
	}
	// ipmitool prints and parses the C locale's %x %X: two-digit years.
	got, err := time.Parse("01/02/06 15:04:05 MST", strings.TrimSpace(e.mustIPMI("sel", "time", "get")))
	if err != nil || got.Sub(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)).Abs() > 5*time.Second {
		t.Errorf("ipmitool sel time get after Redfish set it: %v %v", got, err)
	}
	e.mustIPMI("sel", "time", "set", "07/08/29 09:10:11")
	var m struct{ DateTime string }
	e.getJSON("/redfish/v1/Managers/bmc", &m)
	dt, err := time.Parse(time.RFC3339, m.DateTime)
	if err != nil || dt.Sub(time.Date(2029, 7, 8, 9, 10, 11, 0, time.UTC)).Abs() > 5*time.Second {
		t.Errorf("Redfish DateTime after ipmitool set the SEL time: %q %v", m.DateTime, err)
	}
}

// redfishtool changes the EventService's retry settings (reading the ETag
// first, as it does for every PATCH); an out-of-range value is refused with
// 400 (redfishtool shows only the status; the body naming the property is
// checked in redfish's own tests) and changes nothing.
func TestEventServiceRetrySettingsWithRedfishtool(t *testing.T) {
	e := start(t, startOpts{})
	if out, err := e.redfishtool("raw", "PATCH", "/redfish/v1/EventService", "-d", `{"DeliveryRetryAttempts": 5, "DeliveryRetryIntervalSeconds": 45}`); err != nil {
		t.Fatalf("redfishtool PATCH EventService: %v\n%s", err, out)
	}
	out, err := e.redfishtool("raw", "PATCH", "/redfish/v1/EventService", "-d", `{"DeliveryRetryAttempts": 99}`)
	if err == nil || !strings.Contains(out, "400") {
		t.Errorf("out-of-range PATCH through redfishtool: %v\n%q", err, out)
	}
	var es struct{ DeliveryRetryAttempts, DeliveryRetryIntervalSeconds int }
	e.getJSON("/redfish/v1/EventService", &es)
	if es.DeliveryRetryAttempts != 5 || es.DeliveryRetryIntervalSeconds != 45 {
		t.Errorf("EventService after redfishtool = %+v", es)
	}
}

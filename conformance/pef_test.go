package conformance

import (
	"strings"
	"testing"
)

// Alert destinations are BMC configuration a real BMC keeps in flash: one
// set with ipmitool is still there after the BMC restarts.
func TestLANAlertDestinationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := start(t, startOpts{stateDir: dir})
	e.mustIPMI("lan", "alert", "set", "1", "1", "ipaddr", "127.0.0.53")
	e.mustIPMI("lan", "alert", "set", "1", "1", "retry", "5")
	if out := e.mustIPMI("lan", "alert", "print", "1", "1"); !strings.Contains(out, "127.0.0.53") {
		t.Fatalf("lan alert print after set:\n%s", out)
	}
	e.Kill9()
	e = start(t, startOpts{stateDir: dir})
	out := e.mustIPMI("lan", "alert", "print", "1", "1")
	if !strings.Contains(out, "127.0.0.53") || kv(out)["Number of Retries"] != "5" {
		t.Fatalf("lan alert destination after kill -9 and restart:\n%s", out)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScenarioCommands(t *testing.T) {
	out, err := run(t, "scenario", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"builtin:hot-add", "builtin:mirror-failover", "builtin:fault-firmware-hang", "builtin:alert-storm"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %s:\n%s", want, out)
		}
	}
	out, err = run(t, "scenario", "validate", "builtin:raid5-cartridge")
	if err != nil || !strings.Contains(out, "ok: raid5-cartridge, profile raid5") {
		t.Errorf("validate builtin: %v\n%s", err, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nprofile: default\ntimeline:\n  - insert: {slot: CPU0_DIMM_A2, size: 64}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "scenario", "validate", bad)
	if err == nil || !strings.Contains(out, bad+":4:34: timeline[0].insert.size: field size not found") {
		t.Errorf("validate bad: %v\n%s", err, out)
	}
	// run checks every file before running any.
	out, err = run(t, "scenario", "run", "builtin:hot-add", bad)
	if err == nil || !strings.Contains(err.Error(), bad+":4:34") || strings.Contains(out, "scenario hot-add") {
		t.Errorf("run with a bad file: %v\n%s", err, out)
	}
	if _, err := run(t, "scenario", "show", "builtin:nosuch"); err == nil || !strings.Contains(err.Error(), "scenario list") {
		t.Errorf("show nosuch: %v", err)
	}
	out, err = run(t, "__complete", "scenario", "run", "builtin:mi")
	if err != nil || !strings.Contains(out, "builtin:mirror-failover\t") || strings.Contains(out, "builtin:hot-add") {
		t.Errorf("completion of builtin:mi: %v\n%s", err, out)
	}
}

// An in-process run through the command: the readable report and its
// closing count line.
func TestScenarioRunInProcess(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "r.xml")
	out, err := run(t, "scenario", "run", "builtin:fault-training", "--junit", junit)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "8 passed, 0 failed, 0 errors, 0 skipped") {
		t.Errorf("report:\n%s", out)
	}
	x, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(x), `<testsuite name="fault-training" tests="8" failures="0" errors="0" skipped="0"`) {
		t.Errorf("JUnit (%v):\n%s", err, x)
	}
}

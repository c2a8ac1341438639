package conformance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// junitCounts reads a JUnit XML file with python3-junitparser (Debian's
// package; Debian's Python modules are only seen by /usr/bin/python3) and
// prints, per suite, the counts the file declares and the counts
// junitparser recomputes from the test cases it parsed:
// "name tests failures errors skipped | tests failures errors skipped".
const junitCounts = `
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    declared = (suite.tests, suite.failures, suite.errors, suite.skipped)
    suite.update_statistics()
    print(suite.name, *declared, "|", suite.tests, suite.failures, suite.errors, suite.skipped)
`

func needJunitparser(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import junitparser").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-junitparser is not installed; .ci/run must install it")
		}
		t.Skip("python3-junitparser is not installed (apt-get install python3-junitparser); skipping")
	}
}

// readJUnit returns junitparser's view of a JUnit file, one line per
// suite, and checks that the declared counts are the recomputed ones.
func readJUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := run(t, time.Minute, "/usr/bin/python3", "-c", junitCounts, path)
	if err != nil {
		t.Fatalf("junitparser: %v\n%s", err, out)
	}
	suites := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, rest, _ := strings.Cut(l, " ")
		declared, recomputed, _ := strings.Cut(rest, " | ")
		if declared != recomputed {
			t.Errorf("suite %s declares %s, junitparser counts %s", name, declared, recomputed)
		}
		suites[name] = declared
	}
	return suites
}

// bmcemu runs the binary (not as a server) and returns its output and
// exit code.
func bmcemu(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := run(t, 5*time.Minute, bmcemuBin, args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	t.Fatalf("bmcemu %s: %v\n%s", strings.Join(args, " "), err, out)
	return "", -1
}

// TestScenarioReportsReadByRealTools runs library scenarios and one with
// a deliberately wrong expectation in-process: the run exits 1 with the
// expected and seen values, python3-junitparser reads the JUnit XML with
// the counts it declares, and prove (Perl's TAP harness) consumes the TAP
// and finds the one failed test.
func TestScenarioReportsReadByRealTools(t *testing.T) {
	needJunitparser(t)
	prove := needTool(t, "prove")
	dir := t.TempDir()
	src, code := bmcemu(t, "scenario", "show", "builtin:hot-add")
	if code != 0 {
		t.Fatalf("scenario show: exit %d\n%s", code, src)
	}
	good := filepath.Join(dir, "hot-add.yaml")
	wrong := filepath.Join(dir, "wrong.yaml")
	bad := strings.Replace(strings.Replace(src, "name: hot-add", "name: hot-add-wrong", 1), "equals: 65536", "equals: 32768", 1)
	if bad == src {
		t.Fatal("builtin:hot-add no longer checks CapacityMiB 65536; update this test")
	}
	for p, s := range map[string]string{good: src, wrong: bad} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	junit := filepath.Join(dir, "report.xml")
	out, code := bmcemu(t, "scenario", "run", good, "builtin:fault-spd-crc", wrong, "--junit", junit, "--settle", "30s")
	if code != 1 {
		t.Fatalf("a run with a wrong expectation exited %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"expected: CapacityMiB == 32768", "seen: 65536", wrong + ":17", "1 of 3 scenario runs failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	suites := readJUnit(t, junit)
	for name, want := range map[string]string{"hot-add": "8 0 0 0", "fault-spd-crc": "8 0 0 0", "hot-add-wrong": "8 1 0 0"} {
		if suites[name] != want {
			t.Errorf("junitparser: suite %s has tests/failures/errors/skipped %q, want %q (all: %v)", name, suites[name], want, suites)
		}
	}

	// prove runs the scenarios itself, one TAP stream per file.
	pout, err := run(t, 5*time.Minute, prove, "--exec", bmcemuBin+" scenario run --tap --settle 30s", good, wrong)
	if err == nil {
		t.Fatalf("prove passed a failing scenario:\n%s", pout)
	}
	for _, want := range []string{"Failed test:  5", "Files=2, Tests=16", "Result: FAIL"} {
		if !strings.Contains(pout, want) {
			t.Errorf("prove output lacks %q:\n%s", want, pout)
		}
	}
	if strings.Contains(pout, "Parse errors") {
		t.Errorf("prove could not parse the TAP:\n%s", pout)
	}
}

// TestScenarioAgainstServe runs library scenarios with --target against a
// running `serve` at --speed 1000, whose clock the engine cannot step:
// times in the file are simulated seconds, a thousandth on the wall.
func TestScenarioAgainstServe(t *testing.T) {
	needJunitparser(t)
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	junit := filepath.Join(t.TempDir(), "report.xml")
	out, code := bmcemu(t, "scenario", "run", "builtin:hot-add", "builtin:ecc-ue", "--target", e.URL, "-u", e.User, "-p", e.Password,
		"--target-speed", "1000", "--settle", "30s", "--junit", junit)
	if code != 0 {
		t.Fatalf("scenario run --target: exit %d\n%s", code, out)
	}
	suites := readJUnit(t, junit)
	if suites["hot-add"] != "8 0 0 0" || suites["ecc-ue"] != "10 0 0 0" {
		t.Errorf("junitparser: %v", suites)
	}
	// The engine's subscription is gone.
	var coll struct {
		Count int `json:"Members@odata.count"`
	}
	if resp := e.getJSON("/redfish/v1/EventService/Subscriptions", &coll); resp.StatusCode != 200 || coll.Count != 0 {
		t.Errorf("subscriptions left: %d (HTTP %d)", coll.Count, resp.StatusCode)
	}

	// A server running another profile is refused with the reason.
	out, code = bmcemu(t, "scenario", "run", "builtin:mirror-failover", "--target", e.URL, "--target-speed", "1000")
	if code != 1 || !strings.Contains(out, `needs profile "mirror"`) {
		t.Errorf("mirror scenario on a default server: exit %d\n%s", code, out)
	}
}

// TestScenarioAgainstFleetMember runs a library scenario on one member of
// a fleet, through the fleet's control listener (--server-id) and the
// member's own HTTPS Redfish and IPMI addresses, in the loopback range
// 127.0.60.0/24; then one on every member (--all-members).
func TestScenarioAgainstFleetMember(t *testing.T) {
	needJunitparser(t)
	e := &Emulator{t: t, HTTPPort: freeTCPPort(t), User: "admin", Password: "password", exited: make(chan struct{})}
	e.URL = fmt.Sprintf("http://127.0.0.1:%d", e.HTTPPort)
	e.launch([]string{"serve", "--ephemeral", "--fleet", "2", "--speed", "1000", "--control-addr", fmt.Sprintf("127.0.0.1:%d", e.HTTPPort),
		"--fleet-addr", "127.0.60.1", "--member-ipmi-port", "16230", "--member-https-port", "18443", "--log-level", "warn"})
	out, code := bmcemu(t, "scenario", "run", "builtin:hot-add", "--target", e.URL, "--server-id", "127.0.60.2", "--insecure",
		"--target-speed", "1000", "--settle", "30s")
	if code != 0 {
		t.Fatalf("scenario run on bmc-002: exit %d\n%s", code, out)
	}
	// It ran on bmc-002 and on no other member.
	for id, want := range map[string]string{"bmc-001": "Absent", "bmc-002": "Enabled"} {
		got, err := e.ctl("--server-id", id, "slots", "CPU0_DIMM_A2", "-o", "json")
		if err != nil || !strings.Contains(got, fmt.Sprintf("%q", strings.ToLower(want))) {
			t.Errorf("%s CPU0_DIMM_A2: want %s: %v\n%s", id, want, err, got)
		}
	}

	junit := filepath.Join(t.TempDir(), "fleet.xml")
	out, code = bmcemu(t, "scenario", "run", "builtin:ecc-ue", "--target", e.URL, "--all-members", "--insecure",
		"--target-speed", "1000", "--settle", "30s", "--junit", junit)
	if code != 0 {
		t.Fatalf("scenario run --all-members: exit %d\n%s", code, out)
	}
	suites := readJUnit(t, junit)
	if len(suites) != 2 || suites["ecc-ue@bmc-001"] != "10 0 0 0" || suites["ecc-ue@bmc-002"] != "10 0 0 0" {
		t.Errorf("junitparser: %v", suites)
	}
}

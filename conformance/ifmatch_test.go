package conformance

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// With --redfish-require-if-match an unconditional PATCH is refused with
// 428, while redfishtool, which reads the ETag first and sends it back,
// still gets its change through; a stale ETag is 412.
func TestRequireIfMatchFlag(t *testing.T) {
	e := start(t, startOpts{args: []string{"--ephemeral", "--redfish-require-if-match"}})
	const dimm = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"

	if code := e.send(http.MethodPatch, dimm, `{"LocationIndicatorActive": true}`); code != http.StatusPreconditionRequired {
		t.Fatalf("PATCH without If-Match: %d, want 428", code)
	}
	var m map[string]any
	e.getJSON(dimm, &m)
	if m["LocationIndicatorActive"] != false {
		t.Fatalf("the refused PATCH changed the LED: %v", m["LocationIndicatorActive"])
	}

	if out, err := e.redfishtool("raw", "PATCH", dimm, "-d", `{"LocationIndicatorActive": true}`); err != nil {
		t.Fatalf("redfishtool raw PATCH: %v\n%s", err, out)
	}
	stale := e.getJSON(dimm, &m).Header.Get("ETag")
	if m["LocationIndicatorActive"] != true {
		t.Fatalf("after redfishtool's PATCH LocationIndicatorActive = %v", m["LocationIndicatorActive"])
	}
	// The LED is the platform's: the control API sees what Redfish lit.
	out, err := e.ctl("slots", "CPU0_DIMM_A1", "-o", "json")
	var slot struct {
		LocationIndicator bool `json:"location_indicator"`
	}
	if err != nil || json.Unmarshal([]byte(out), &slot) != nil || !slot.LocationIndicator {
		t.Errorf("ctl slots after the PATCH: %v\n%s", err, out)
	}
	if out, _ := e.ctl("slots"); !regexp.MustCompile(`CPU0_DIMM_A1\s.*\sNominal\s+Off\s+On\s`).MatchString(out) {
		t.Errorf("ctl slots table lacks the lit LED:\n%s", out)
	}

	if out, err := e.redfishtool("raw", "PATCH", dimm, "-d", `{"LocationIndicatorActive": false}`); err != nil {
		t.Fatalf("redfishtool raw PATCH: %v\n%s", err, out)
	}
	req, _ := http.NewRequest(http.MethodPatch, e.URL+dimm, strings.NewReader(`{"LocationIndicatorActive": true}`))
	req.SetBasicAuth(e.User, e.Password)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", stale)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PATCH with the ETag from before redfishtool's change: %d, want 412", resp.StatusCode)
	}
}

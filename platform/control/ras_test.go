package control

import (
	"net/http"
	"strings"
	"testing"
)

// Bad RAS requests get a clear error and change nothing: no counter, no
// saved mode, no rate, no failed module, no workload.
func TestRASBadInputKeepsState(t *testing.T) {
	p, c := newTestServer(t)
	before := p.Snapshot()
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":0,"kind":"ce"`, 400, "MalformedRequest"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":"zero","kind":"ce"}`, 400, "MalformedRequest"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":0,"kind":"ce","colour":1}`, 400, "MalformedRequest"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","kind":"ce"}`, 400, "InvalidValue"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":9,"kind":"ce"}`, 400, "InvalidValue"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":0,"kind":"parity"}`, 400, "InvalidValue"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":0,"kind":"ce","count":-1}`, 400, "InvalidValue"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":1,"kind":"ce"}`, 409, "RASRefused"}, // single-rank module
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A1","rank":0,"kind":"ue","address":68719476736}`, 409, "RASRefused"},
		{"POST", "/ras/errors", `{"slot":"CPU0_DIMM_A2","rank":0,"kind":"ce"}`, 409, "RASRefused"}, // empty slot
		{"POST", "/ras/errors", `{"slot":"NOPE","rank":0,"kind":"ce"}`, 404, "UnknownSlot"},
		{"PUT", "/ras/rates", `{"slot":"CPU0_DIMM_A1","rank":0,"ce_per_sec":-5}`, 400, "InvalidValue"},
		{"PUT", "/ras/rates", `{"slot":"CPU0_DIMM_A1","rank":0,"ce_per_sec":1e9}`, 400, "InvalidValue"},
		{"PUT", "/ras/rates", `{"slot":"CPU0_DIMM_A1","rank":0}`, 400, "InvalidValue"},
		{"PUT", "/ras/mode", `{"mode":"Chipkill"}`, 409, "RASRefused"},
		{"PUT", "/ras/mode", `{}`, 400, "InvalidValue"},
		{"POST", "/ras/workload", `{"pages":0.5}`, 400, "MalformedRequest"},
		{"POST", "/ras/workload", `{"pages":99999999}`, 400, "InvalidValue"},
		{"POST", "/ras/verify", ``, 409, "RASRefused"}, // no workload yet
		{"POST", "/slots/CPU0_DIMM_A2/fail", ``, 409, "RASRefused"},
		{"POST", "/slots/NOPE/fail", ``, 404, "UnknownSlot"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, c.BaseURL+Prefix+tc.path, strings.NewReader(tc.body))
		req.SetBasicAuth("admin", "password")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e Error
		msg := DecodeStrict(mustRead(t, resp), &e)
		if resp.StatusCode != tc.status || e.Error.Code != tc.code || msg != "" || e.Error.Message == "" {
			t.Errorf("%s %s %q: got %d %+v, want %d %s", tc.method, tc.path, tc.body, resp.StatusCode, e, tc.status, tc.code)
		}
	}
	after := p.Snapshot()
	if after.Generation != before.Generation || after.RAS.NextBoot != "" || after.RAS.Workload != nil {
		t.Fatalf("bad requests changed the platform: generation %d -> %d, RAS %+v", before.Generation, after.Generation, after.RAS)
	}
	for _, sl := range after.Slots {
		if sl.RAS != nil && (sl.RAS.Errors.Lifetime.CE != 0 || sl.RAS.Errors.Lifetime.UE != 0 || sl.RAS.State != "Active") {
			t.Fatalf("%s after bad requests: %+v", sl.Name, sl.RAS)
		}
	}
}

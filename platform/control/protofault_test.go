package control

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/netfault"
	"github.com/bmcemu/bmcemu/platform/profile"
)

func TestProtocolFaultsAPI(t *testing.T) {
	p, err := platform.New(profile.Default(), platform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := netfault.New(netfault.Options{Seed: 3})
	h, err := New(Config{Authenticate: func(_ netip.Addr, u, pw string) bool { return u == "admin" && pw == "password" }, ProtocolFaults: in}, p)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, User: "admin", Password: "password"}
	ctx := context.Background()

	every := 2
	st, err := c.SetProtocolFault(ctx, "ipmi", "loss", netfault.Spec{Every: every, Count: 5})
	if err != nil || st.Every != 2 || st.Seed == nil || *st.Seed != 3 {
		t.Fatalf("set: %+v %v", st, err)
	}
	var ae *APIError
	if _, err := c.SetProtocolFault(ctx, "ipmi", "nope", netfault.Spec{}); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "UnknownProtocolFault" {
		t.Errorf("unknown kind: %v", err)
	}
	for body, want := range map[string]string{
		`{"every": "two"}`:     "every: must be int",
		`{"delay": "1s"}`:      "delay: does not apply to ipmi/loss",
		`{"every": 1, "x": 1}`: "x: unknown property",
		`{"every": 1`:          "unexpected end of input",
	} {
		req, _ := http.NewRequest(http.MethodPut, ts.URL+Prefix+"/protocol-faults/ipmi/loss", strings.NewReader(body))
		req.SetBasicAuth("admin", "password")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"InvalidRule"`) || !strings.Contains(string(b), want) {
			t.Errorf("PUT %s: %d %s, want 400 naming %q", body, resp.StatusCode, b, want)
		}
	}
	if got, err := c.ProtocolFaults(ctx); err != nil || len(got.Rules) != 1 || got.Rules[0].Every != 2 || len(got.Kinds) == 0 {
		t.Errorf("after refused PUTs the rule must be the first one: %+v %v", got.Rules, err)
	}
	if n, err := c.ClearProtocolFault(ctx, "ipmi", "all"); err != nil || n != 1 {
		t.Errorf("clear: %d %v", n, err)
	}
	for _, sk := range [][2]string{{"nope", "x"}, {"nope", "all"}, {"all", "loss"}} {
		if _, err := c.ClearProtocolFault(ctx, sk[0], sk[1]); !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("clear %s/%s: %v", sk[0], sk[1], err)
		}
	}
}

package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// daemon runs a long-lived tool until the test ends.
func daemon(t *testing.T, name string, args ...string) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
	return out
}

// waitHTTP polls url until it answers 200 or the deadline passes.
func waitHTTP(t *testing.T, u string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", u, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promQuery runs an instant PromQL query against Prometheus's HTTP API
// and returns the value per member label.
func promQuery(t *testing.T, base, q string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("PromQL %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("PromQL %s: %v (status %q)", q, err, body.Status)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		out[r.Metric["member"]] = v
	}
	return out
}

// TestPrometheusScrapesFleet: the text format parses with Prometheus's own
// parser, and a real Prometheus server scraping the control listener sees
// each member's counters move with the traffic sent to that member only.
func TestPrometheusScrapesFleet(t *testing.T) {
	prom := needTool(t, "prometheus")
	e, ms := startFleet(t, 10)

	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	fams, err := textParser().TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/metrics does not parse as the text format: %v", err)
	}
	for _, name := range []string{"bmcemu_fleet_members", "bmcemu_sessions", "bmcemu_sel_entries", "bmcemu_sel_fill_ratio",
		"bmcemu_memory_installed_bytes", "bmcemu_ipmi_packets_total", "bmcemu_event_queue_depth", "bmcemu_event_delivery_failures_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if f := fams["bmcemu_fleet_members"]; f != nil && f.GetMetric()[0].GetGauge().GetValue() != 10 {
		t.Errorf("bmcemu_fleet_members = %v, want 10", f.GetMetric()[0].GetGauge().GetValue())
	}
	if f := fams["bmcemu_memory_installed_bytes"]; f != nil && len(f.GetMetric()) != 10 {
		t.Errorf("bmcemu_memory_installed_bytes has %d series, want one per member", len(f.GetMetric()))
	}
	checkMemberLabels(t, fams, ms)

	dir := t.TempDir()
	port := freeTCPPort(t)
	host := strings.TrimPrefix(e.URL, "http://")
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: bmcemu\n    static_configs:\n      - targets: ['%s']\n", host)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	daemon(t, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(base, "http://"))
	waitHTTP(t, base+"/-/ready", 60*time.Second)

	// Traffic to two members only.
	busy, quiet := ms[1], ms[6]
	for range 5 {
		busy.rf(t, http.MethodGet, "/redfish/v1/Systems/1", "admin", "password", nil, nil)
	}
	if out, err := busy.ipmitool(t, "sdr", "elist"); err != nil {
		t.Fatalf("ipmitool: %v\n%s", err, out)
	}
	q := func(expr string) map[string]float64 { return promQuery(t, base, expr) }
	deadline := time.Now().Add(60 * time.Second)
	for {
		req := q(`sum by (member) (bmcemu_http_requests_total{surface="redfish"})`)
		cmds := q(`bmcemu_ipmi_commands_total`)
		if req[busy.ID] >= 5 && cmds[busy.ID] > 0 {
			if req[quiet.ID] != 0 || cmds[quiet.ID] != 0 {
				t.Errorf("the quiet member %s moved: %v requests, %v IPMI commands", quiet.ID, req[quiet.ID], cmds[quiet.ID])
			}
			if len(cmds) != 10 {
				t.Errorf("Prometheus has bmcemu_ipmi_commands_total for %d members, want 10", len(cmds))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never saw %s's traffic: requests %v, IPMI commands %v", busy.ID, req, cmds)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// And the counter keeps moving with more traffic: increase() over it.
	before := q(`sum by (member) (bmcemu_http_requests_total{surface="redfish"})`)[busy.ID]
	for range 7 {
		busy.rf(t, http.MethodGet, "/redfish/v1/Chassis", "admin", "password", nil, nil)
	}
	for {
		now := q(`sum by (member) (bmcemu_http_requests_total{surface="redfish"})`)[busy.ID]
		if now >= before+7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus: %s's requests went from %v to %v after 7 more", busy.ID, before, now)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkMemberLabels: every member label is a member's id (bounded
// cardinality), and every member appears.
func checkMemberLabels(t *testing.T, fams map[string]*dto.MetricFamily, ms []fleetMember) {
	t.Helper()
	ids := map[string]bool{}
	for _, m := range ms {
		ids[m.ID] = true
	}
	seen := map[string]bool{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "member" {
					continue
				}
				if !ids[l.GetValue()] {
					t.Errorf("%s has member=%q, which is no member's id", name, l.GetValue())
				}
				seen[l.GetValue()] = true
			}
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("member labels cover %d of %d members", len(seen), len(ids))
	}
}

// textParser is Prometheus's own parser of the text format, with the
// classic (pre-UTF-8) name rules: what every scraper accepts.
func textParser() *expfmt.TextParser {
	p := expfmt.NewTextParser(model.LegacyValidation)
	return &p
}

// TestIPMIExporterScrapesFleet: Debian's prometheus-ipmi-exporter, driving
// freeipmi in its multi-target mode, scrapes ten members and gets ipmi_up 1,
// sensor and SEL metrics from each.
func TestIPMIExporterScrapesFleet(t *testing.T) {
	exporter := needTool(t, "prometheus-ipmi-exporter")
	needTool(t, "ipmi-sensors")
	_, ms := startFleet(t, 10)
	dir := t.TempDir()
	cfg := "modules:\n  default:\n    user: admin\n    pass: password\n    driver: LAN_2_0\n    privilege: admin\n    timeout: 20000\n    collectors: [ipmi, bmc, sel, chassis]\n"
	if err := os.WriteFile(filepath.Join(dir, "ipmi.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freeTCPPort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	daemon(t, exporter, "--config.file="+filepath.Join(dir, "ipmi.yml"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--freeipmi.path=/usr/sbin")
	waitHTTP(t, base+"/metrics", 30*time.Second)

	client := &http.Client{Timeout: 90 * time.Second}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, m := range ms {
		wg.Add(1)
		go func(m fleetMember) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// freeipmi takes host:port; the standard port goes without.
			target := strings.TrimSuffix(m.IPMI, ":623")
			resp, err := client.Get(base + "/ipmi?module=default&target=" + url.QueryEscape(target))
			if err != nil {
				t.Errorf("%s: exporter: %v", m.ID, err)
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			fams, err := textParser().TextToMetricFamilies(strings.NewReader(string(data)))
			if err != nil {
				t.Errorf("%s: exporter output does not parse: %v", m.ID, err)
				return
			}
			up := map[string]float64{}
			if f := fams["ipmi_up"]; f != nil {
				for _, s := range f.GetMetric() {
					for _, l := range s.GetLabel() {
						if l.GetName() == "collector" {
							up[l.GetValue()] = s.GetGauge().GetValue()
						}
					}
				}
			}
			for _, c := range []string{"ipmi", "bmc", "sel", "chassis"} {
				if up[c] != 1 {
					t.Errorf("%s: ipmi_up{collector=%q} = %v, want 1\n%s", m.ID, c, up[c], data)
				}
			}
			if f := fams["ipmi_sensor_state"]; f == nil || len(f.GetMetric()) == 0 {
				t.Errorf("%s: no ipmi_sensor_state series", m.ID)
			}
			if f := fams["ipmi_sel_logs_count"]; f == nil {
				t.Errorf("%s: no ipmi_sel_logs_count", m.ID)
			}
		}(m)
	}
	wg.Wait()
}

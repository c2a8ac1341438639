package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// TestSchemaCrawlLive walks every resource the running binary serves from
// the service root and validates each against the DMTF schema its
// @odata.type names: at boot on the default profile, after a module is
// hot-added through the control API, and after ECC errors are injected on
// it. Each crawl also checks the change it follows is visible, so a crawl
// that quietly read nothing cannot pass.
func TestSchemaCrawlLive(t *testing.T) {
	// Before the binary starts: without schemas there is nothing to do.
	v := schemacheck.NewForTest(t)
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	c := e.login(t)
	const slot = "CPU0_DIMM_A2"
	dimm := "/redfish/v1/Systems/1/Memory/" + slot

	boot := c.crawl(t, v, "boot")
	if got := str(boot[dimm], "Status", "State"); got != "Absent" {
		t.Errorf("boot: %s Status.State %q, want Absent", slot, got)
	}

	if out, err := e.ctl("attention", slot); err != nil {
		t.Fatalf("ctl attention %s: %v\n%s", slot, err, out)
	}
	e.waitSlot(slot, "Isolated")
	if out, err := e.ctl("insert", slot, "--capacity-gib", "64", "--wait"); err != nil {
		t.Fatalf("ctl insert %s --wait: %v\n%s", slot, err, out)
	}
	added := c.crawl(t, v, "after hot-add")
	if got := str(added[dimm], "Status", "State"); got != "Enabled" {
		t.Errorf("after hot-add: %s Status.State %q, want Enabled", slot, got)
	}
	if got := added[dimm]["CapacityMiB"]; got != 65536.0 {
		t.Errorf("after hot-add: %s CapacityMiB %v, want 65536", slot, got)
	}
	if got := num(added[dimm+"/MemoryMetrics"], "LifeTime", "CorrectableECCErrorCount"); got != 0 {
		t.Errorf("after hot-add: a new module with %v correctable errors", got)
	}

	if out, err := e.ctl("ras", "inject", slot, "--ce", "--count", "3"); err != nil {
		t.Fatalf("ctl ras inject %s: %v\n%s", slot, err, out)
	}
	faulted := c.crawl(t, v, "after RAS fault")
	metrics := faulted[dimm+"/MemoryMetrics"]
	if metrics == nil {
		t.Fatalf("after RAS fault: the crawl never reached %s/MemoryMetrics", dimm)
	}
	if got := num(metrics, "LifeTime", "CorrectableECCErrorCount"); got == 0 {
		t.Errorf("after RAS fault: %s LifeTime.CorrectableECCErrorCount %v, want non-zero", slot, metrics["LifeTime"])
	}
}

// minResources is well under what the default profile serves (32 slots
// with their metrics alone are 64), but far over what a crawl that stopped
// at the service root or at one collection would see.
const minResources = 150

// crawlTypes must each turn up in every crawl: one per subtree of the
// service root, so a crawl that missed a branch fails.
var crawlTypes = []string{
	"ServiceRoot", "ComputerSystem", "Memory", "MemoryMetrics", "MemoryDomain", "MemoryChunks",
	"Chassis", "Manager", "AccountService", "ManagerAccount", "Role", "SessionService", "Session",
	"EventService", "TaskService", "LogService", "LogEntryCollection", "MessageRegistryFile", "JsonSchemaFile",
	"Processor", "EthernetInterface", "Storage", "StorageController", "Drive", "Volume", "SimpleStorage",
	"Power", "Thermal", "ManagerNetworkProtocol", "UpdateService", "SoftwareInventory",
}

// liveClient reads the service as a logged-in client would.
type liveClient struct {
	e     *Emulator
	http  *http.Client
	token string
}

// login opens a Redfish session, so the crawl also meets a Session
// resource, and closes it when the test ends.
func (e *Emulator) login(t *testing.T) *liveClient {
	t.Helper()
	c := &liveClient{e: e, http: &http.Client{Timeout: 20 * time.Second}}
	body := fmt.Sprintf(`{"UserName":%q,"Password":%q}`, e.User, e.Password)
	resp, err := c.http.Post(e.URL+"/redfish/v1/SessionService/Sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	resp.Body.Close()
	c.token = resp.Header.Get("X-Auth-Token")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || c.token == "" || loc == "" {
		t.Fatalf("log in: %d, token %q, Location %q", resp.StatusCode, c.token, loc)
	}
	t.Cleanup(func() {
		if _, _, err := c.do(http.MethodDelete, loc); err != nil {
			t.Errorf("log out: %v", err)
		}
	})
	return c
}

func (c *liveClient) do(method, uri string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, c.e.URL+uri, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, uri, err)
	}
	req.Header.Set("X-Auth-Token", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read body: %w", method, uri, err)
	}
	return resp, b, nil
}

// crawl GETs every URI reachable from the service root through @odata.id
// links and Members@odata.nextLink pages, validates each payload and
// returns the resources by @odata.id. when names the crawl in failures.
func (c *liveClient) crawl(t *testing.T, v *schemacheck.Validator, when string) map[string]map[string]any {
	t.Helper()
	began := time.Now()
	resources := map[string]map[string]any{}
	types := map[string]int{}
	// The Memory collection read in pages of 8 as well, so paging is
	// crawled even while no log is long enough to be cut into pages.
	start := []string{"/redfish/v1/", "/redfish/v1/Systems/1/Memory?$top=8"}
	uris := schemacheck.Walk(start, func(uri string) []string {
		m, next, err := c.visit(v, uri)
		if err != nil {
			t.Errorf("%s: %v", when, err)
		}
		if m != nil {
			id, _ := m["@odata.id"].(string)
			resources[id] = m
			typ, _ := m["@odata.type"].(string)
			types[typ]++
		}
		return next
	})
	t.Logf("%s: crawled %d URIs, %d resources, in %s", when, uris, len(resources), time.Since(began).Round(time.Millisecond))
	if len(resources) < minResources {
		t.Errorf("%s: crawled only %d resources, want at least %d: %v", when, len(resources), minResources, types)
	}
	reached := map[string]bool{}
	for typ := range types {
		ns, _, _ := strings.Cut(strings.TrimPrefix(typ, "#"), ".")
		reached[ns] = true
	}
	for _, want := range crawlTypes {
		if !reached[want] {
			t.Errorf("%s: the crawl never reached a %s", when, want)
		}
	}
	return resources
}

// visit reads one URI, validates it and returns it decoded with the
// service URIs it links to. The error says what was wrong; m may still be
// set.
func (c *liveClient) visit(v *schemacheck.Validator, uri string) (m map[string]any, next []string, err error) {
	resp, body, err := c.do(http.MethodGet, uri)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %d %s", uri, resp.StatusCode, body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, nil, fmt.Errorf("GET %s: Content-Type %q, want JSON", uri, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, nil, fmt.Errorf("GET %s: decode: %w", uri, err)
	}
	for _, l := range schemacheck.Links(m) {
		if onService(l) {
			next = append(next, l)
		}
	}
	if l, ok := m["Members@odata.nextLink"].(string); ok {
		next = append(next, l)
	}
	if p, _, _ := strings.Cut(uri, "?"); m["@odata.id"] != p {
		return m, next, fmt.Errorf("GET %s: @odata.id is %v", uri, m["@odata.id"])
	}
	// Tree replaces embedded resources (log entries) by references: give
	// it its own copy so m stays as served.
	var tree any
	if err := json.Unmarshal(body, &tree); err != nil {
		return m, next, fmt.Errorf("GET %s: decode: %w", uri, err)
	}
	_, errs := v.Tree(tree)
	if len(errs) > 0 {
		var b bytes.Buffer
		for _, err := range errs {
			fmt.Fprintf(&b, "\n  %v", err)
		}
		return m, next, fmt.Errorf("GET %s: %d schema violations:%s", uri, len(errs), b.String())
	}
	return m, next, nil
}

// onService is whether a link names a resource of this service. The SSE
// stream and task monitors are not resources (one never ends, the other
// answers 202 until its task does), so they are left alone should a
// payload ever link them.
func onService(link string) bool {
	u, err := url.Parse(link)
	if err != nil || u.IsAbs() || !strings.HasPrefix(u.Path, "/redfish/v1") {
		return false
	}
	return u.Path != "/redfish/v1/EventService/SSE" && !strings.HasPrefix(u.Path, "/redfish/v1/TaskService/TaskMonitors/")
}

// str and num read a nested property of a decoded payload; a missing one
// reads as "" or 0.
func str(m map[string]any, keys ...string) string {
	s, _ := prop(m, keys...).(string)
	return s
}

func num(m map[string]any, keys ...string) float64 {
	f, _ := prop(m, keys...).(float64)
	return f
}

func prop(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, _ := cur.(map[string]any)
		cur = mm[k]
	}
	return cur
}

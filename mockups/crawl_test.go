package mockups

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// handBuilt is a small Redfish-like service exercising what a crawler
// meets in the wild: a link cycle, a fragment link, links to resources
// that are not there (404) or not readable (405), links nested in Links,
// arrays and Oem, a trailing-slash spelling, and links that must not be
// followed (another host, another protocol version, a query).
func handBuilt() map[string]string {
	return map[string]string{
		"/redfish":                      `{"v1": "/redfish/v1/"}`,
		"/redfish/v1":                   `{"@odata.id": "/redfish/v1/", "Id": "RootService", "Systems": {"@odata.id": "/redfish/v1/Systems"}, "Chassis": {"@odata.id": "/redfish/v1/Chassis"}, "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}, "Oem": {"Elsewhere": {"@odata.id": "http://other.example/redfish/v1/Secret"}, "Future": {"@odata.id": "/redfish/v2/Thing"}}}`,
		"/redfish/v1/Systems":           `{"@odata.id": "/redfish/v1/Systems", "Members": [{"@odata.id": "/redfish/v1/Systems/1/"}], "Members@odata.count": 1}`,
		"/redfish/v1/Systems/1":         `{"@odata.id": "/redfish/v1/Systems/1", "Name": "System", "MemorySummary": {"TotalSystemMemoryGiB": 512}, "Bios": {"@odata.id": "/redfish/v1/Systems/1/Bios"}, "Links": {"Chassis": [{"@odata.id": "/redfish/v1/Chassis/1"}], "Parent": {"@odata.id": "/redfish/v1/Systems"}}, "Thermal": {"@odata.id": "/redfish/v1/Chassis/1/Thermal#/Fans/0"}, "Search": {"@odata.id": "/redfish/v1/Systems?$top=1"}}`,
		"/redfish/v1/Chassis":           `{"@odata.id": "/redfish/v1/Chassis", "Members": [{"@odata.id": "/redfish/v1/Chassis/1"}]}`,
		"/redfish/v1/Chassis/1":         `{"@odata.id": "/redfish/v1/Chassis/1", "Links": {"ComputerSystems": [{"@odata.id": "/redfish/v1/Systems/1"}], "Deep": [[{"Nested": {"@odata.id": "/redfish/v1/Chassis/1/Sensors"}}]]}}`,
		"/redfish/v1/Chassis/1/Thermal": `{"@odata.id": "/redfish/v1/Chassis/1/Thermal", "Fans": [{"@odata.id": "/redfish/v1/Chassis/1/Thermal#/Fans/0", "Reading": 4200}]}`,
		"/redfish/v1/Chassis/1/Sensors": `{"@odata.id": "/redfish/v1/Chassis/1/Sensors", "Members": []}`,
	}
}

// handBuiltService serves handBuilt behind Basic auth and counts requests
// per path so tests can check each resource is fetched once.
type handBuiltService struct {
	mu    sync.Mutex
	hits  map[string]int
	pages map[string]string
}

func newHandBuilt(t *testing.T) (*httptest.Server, *handBuiltService) {
	t.Helper()
	s := &handBuiltService{hits: map[string]int{}, pages: handBuilt()}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, s
}

func (s *handBuiltService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	s.mu.Lock()
	s.hits[p]++
	s.mu.Unlock()
	if u, pw, ok := r.BasicAuth(); !ok || u != "admin" || pw != "password" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error": {"code": "Base.1.0.GeneralError", "message": "bad", "@Message.ExtendedInfo": [{"Message": "Authentication required."}]}}`)
		return
	}
	if p == "/redfish/v1/Systems/1/Bios" {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, ok := s.pages[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, body)
}

func testClient(url string) *Client {
	return &Client{BaseURL: url, User: "admin", Password: "password"}
}

func TestCrawlHandBuilt(t *testing.T) {
	srv, svc := newHandBuilt(t)
	tree, err := Crawl(context.Background(), testClient(srv.URL), "")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	want := []string{
		"/redfish",
		"/redfish/v1",
		"/redfish/v1/Chassis",
		"/redfish/v1/Chassis/1",
		"/redfish/v1/Chassis/1/Sensors",
		"/redfish/v1/Chassis/1/Thermal",
		"/redfish/v1/Systems",
		"/redfish/v1/Systems/1",
	}
	if got := tree.Paths(); !slices.Equal(got, want) {
		t.Errorf("paths:\n got %q\nwant %q", got, want)
	}
	for p, n := range svc.hits {
		if n != 1 {
			t.Errorf("%s fetched %d times, want once", p, n)
		}
	}
	for _, p := range []string{"/redfish/v1/SessionService/Sessions", "/redfish/v1/Systems/1/Bios"} {
		if svc.hits[p] != 1 {
			t.Errorf("%s: tried %d times, want once (then skipped)", p, svc.hits[p])
		}
	}
	for _, p := range []string{"/redfish/v2/Thing", "/redfish/v1/Secret"} {
		if svc.hits[p] != 0 {
			t.Errorf("%s followed; it is outside the service", p)
		}
	}
	// Values are compact with the server's key order kept.
	if got, want := string(tree["/redfish/v1/Chassis/1/Sensors"]), `{"@odata.id":"/redfish/v1/Chassis/1/Sensors","Members":[]}`; got != want {
		t.Errorf("Sensors = %s, want %s", got, want)
	}
}

func TestCrawlSubtree(t *testing.T) {
	srv, svc := newHandBuilt(t)
	tree, err := Crawl(context.Background(), testClient(srv.URL), "/redfish/v1/Chassis/")
	if err != nil {
		t.Fatalf("Crawl: %v", err)
	}
	want := []string{"/redfish", "/redfish/v1/Chassis", "/redfish/v1/Chassis/1", "/redfish/v1/Chassis/1/Sensors"}
	if got := tree.Paths(); !slices.Equal(got, want) {
		t.Errorf("paths:\n got %q\nwant %q", got, want)
	}
	if svc.hits["/redfish/v1/Systems/1"] != 0 {
		t.Error("crawl left its root")
	}
}

func TestCrawlRootValidation(t *testing.T) {
	for _, root := range []string{"/redfish", "/redfish/v10", "/other", "redfish/v1", "/redfish/v1/../x"} {
		if _, err := Crawl(context.Background(), testClient("http://127.0.0.1:1"), root); err == nil {
			t.Errorf("root %q accepted", root)
		}
	}
}

func TestCrawlBadCredentials(t *testing.T) {
	srv, _ := newHandBuilt(t)
	c := testClient(srv.URL)
	c.Password = "wrong"
	_, err := Crawl(context.Background(), c, "")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Authentication required.") {
		t.Fatalf("err = %v, want a 401 carrying the service's message", err)
	}
}

func TestCrawlServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redfish":
			fmt.Fprint(w, `{"v1": "/redfish/v1/"}`)
		case "/redfish/v1/":
			fmt.Fprint(w, `{"Broken": {"@odata.id": "/redfish/v1/Broken"}, "Html": {"@odata.id": "/redfish/v1/Html"}}`)
		case "/redfish/v1/Broken":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error": {"message": "sensor bus hung"}}`)
		case "/redfish/v1/Html":
			fmt.Fprint(w, `<html>`)
		}
	}))
	defer srv.Close()
	_, err := Crawl(context.Background(), testClient(srv.URL), "")
	if err == nil || !strings.Contains(err.Error(), "/redfish/v1/Broken") || !strings.Contains(err.Error(), "sensor bus hung") {
		t.Errorf("err = %v, want the failing URL and the service's message", err)
	}
}

func TestCrawlNotJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html>`)
	}))
	defer srv.Close()
	_, err := Crawl(context.Background(), testClient(srv.URL), "")
	if err == nil || !strings.Contains(err.Error(), "not JSON") || !strings.Contains(err.Error(), "text/html") {
		t.Errorf("err = %v, want a not-JSON error naming the content type", err)
	}
}

// An endless chain of links must end in an error, not a full disk.
func TestCrawlLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		if rest, ok := strings.CutPrefix(r.URL.Path, "/redfish/v1/N/"); ok {
			n, _ = strconv.Atoi(rest)
		}
		fmt.Fprintf(w, `{"Next": {"@odata.id": "/redfish/v1/N/%d"}}`, n+1)
	}))
	defer srv.Close()
	c := testClient(srv.URL)
	c.MaxResources = 50
	_, err := Crawl(context.Background(), c, "")
	if !errors.Is(err, ErrTooManyResources) {
		t.Fatalf("err = %v, want ErrTooManyResources", err)
	}
}

func TestCrawlUnsafeLink(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"Evil": {"@odata.id": "/redfish/v1/Systems/../../../etc"}}`)
	}))
	defer srv.Close()
	_, err := Crawl(context.Background(), testClient(srv.URL), "")
	if !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("err = %v, want ErrUnsafePath", err)
	}
}

func TestCrawlCancelled(t *testing.T) {
	srv, _ := newHandBuilt(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Crawl(ctx, testClient(srv.URL), ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

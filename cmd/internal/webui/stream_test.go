package webui

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/sel"
	"github.com/bmcemu/bmcemu/redfish"
	"github.com/bmcemu/bmcemu/redfish/sse"
)

// ring is a fake event source with the platform's contract: a bounded
// window of records, Truncated when the cursor fell out of it.
type ring struct {
	mu    sync.Mutex
	recs  []events.Record
	first uint64 // Seq of recs[0]
	calls int
}

func (r *ring) EventsSince(ctx context.Context, since uint64, max int, wait time.Duration) platform.EventPage {
	r.mu.Lock()
	r.calls++
	var page platform.EventPage
	if n := len(r.recs); n > 0 {
		page.LastSeq = r.recs[n-1].Seq
		i := 0
		if since+1 < r.first {
			page.Truncated = true
		} else {
			i = int(since + 1 - r.first)
		}
		if i < n {
			page.Records = append(page.Records, r.recs[i:min(n, i+max)]...)
		}
	}
	r.mu.Unlock()
	if len(page.Records) == 0 {
		select {
		case <-ctx.Done():
		case <-time.After(min(wait, 20*time.Millisecond)):
		}
	}
	return page
}

func (r *ring) LastEventSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		return 0
	}
	return r.recs[len(r.recs)-1].Seq
}

type fakeSEL struct{}

func (fakeSEL) Info() sel.Info                         { return sel.Info{LastErase: sel.Unspecified} }
func (fakeSEL) Get(uint16) (sel.Record, uint16, error) { return sel.Record{}, 0, sel.ErrNotFound }

type fakeBoard struct{}

func (fakeBoard) Snapshot() *platform.Snapshot { return &platform.Snapshot{} }

// sessions is a fake session table: token "t" is session "1" while live.
type sessions struct {
	mu   sync.Mutex
	dead bool
}

func (s *sessions) authenticate(r *http.Request) (redfish.Principal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("X-Auth-Token") != "t" || s.dead {
		return redfish.Principal{}, redfish.ErrNotAuthenticated
	}
	return redfish.Principal{UserName: "u", Role: "ReadOnly", SessionID: "1"}, nil
}

func newFakeUI(t *testing.T, ev Events, maxStreams int) *httptest.Server {
	t.Helper()
	return newFakeUIWith(t, ev, maxStreams, &sessions{})
}

func newFakeUIWith(t *testing.T, ev Events, maxStreams int, ss *sessions) *httptest.Server {
	t.Helper()
	h, err := New(Config{
		Authenticate: ss.authenticate,
		Control:      http.NotFoundHandler(), Board: fakeBoard{}, Events: ev, SEL: fakeSEL{}, MaxStreams: maxStreams,
		SessionCheck: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", "t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readEvent returns the stream's next event, failing the test at its end.
func readEvent(t *testing.T, r *sse.Reader) (event, data string) {
	t.Helper()
	e, err := r.Next()
	if err != nil {
		t.Fatalf("stream ended: %v", err)
	}
	return e.Type, e.Data
}

// A page whose cursor fell out of the ring is told to resync and the
// stream skips to the oldest record still held, not stalls or replays.
func TestStreamResyncsACursorTheRingNoLongerHolds(t *testing.T) {
	rg := &ring{first: 100}
	for seq := uint64(100); seq < 105; seq++ {
		rg.recs = append(rg.recs, events.Record{Seq: seq, Event: events.PowerChanged{On: true}})
	}
	ts := newFakeUI(t, rg, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := get(t, ctx, ts.URL+"/ui/api/stream?since=7")
	defer resp.Body.Close()
	br := sse.NewReader(resp.Body)
	if ev, _ := readEvent(t, br); ev != "hello" {
		t.Fatalf("first %q, want hello", ev)
	}
	ev, data := readEvent(t, br)
	var rs Resync
	if ev != "resync" || json.Unmarshal([]byte(data), &rs) != nil || rs.From != 100 {
		t.Fatalf("got %s %s, want resync from 100", ev, data)
	}
	for want := uint64(100); want < 105; want++ {
		ev, data := readEvent(t, br)
		var rec struct{ Seq uint64 }
		if ev != "platform" || json.Unmarshal([]byte(data), &rec) != nil || rec.Seq != want {
			t.Fatalf("got %s %s, want platform record %d", ev, data, want)
		}
	}
}

func TestStreamsAreBounded(t *testing.T) {
	ts := newFakeUI(t, &ring{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := get(t, ctx, ts.URL+"/ui/api/stream")
	defer first.Body.Close()
	if ev, _ := readEvent(t, sse.NewReader(first.Body)); ev != "hello" {
		t.Fatalf("first stream: %q", ev)
	}
	second := get(t, ctx, ts.URL+"/ui/api/stream")
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
		t.Errorf("second stream: %d Retry-After %q, want 503 with Retry-After", second.StatusCode, second.Header.Get("Retry-After"))
	}
	cancel()
	first.Body.Close()
}

// A stream reads the ring a page at a time at the reader's pace: a
// browser that reads nothing makes the server read at most what fits in
// the connection's buffers, then wait, with no queue growing behind it.
func TestStreamDoesNotRunAheadOfAStalledReader(t *testing.T) {
	rg := &ring{first: 1}
	big := strings.Repeat("x", 1000)
	for seq := uint64(1); seq <= 20000; seq++ {
		rg.recs = append(rg.recs, events.Record{Seq: seq, Event: events.ModuleInserted{Slot: big}})
	}
	ts := newFakeUI(t, rg, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := get(t, ctx, ts.URL+"/ui/api/stream?since=0")
	defer resp.Body.Close()
	br := sse.NewReader(resp.Body)
	readEvent(t, br) // hello, then read nothing more
	// Wait until the server is blocked on the full connection: its calls
	// to the ring stop growing.
	var calls int
	for i := 0; ; i++ {
		time.Sleep(50 * time.Millisecond)
		rg.mu.Lock()
		c := rg.calls
		rg.mu.Unlock()
		if c == calls && i > 2 {
			break
		}
		calls = c
		if i > 200 {
			t.Fatal("the stream never blocked on the stalled reader")
		}
	}
	if sent := calls * pageRecords; sent >= len(rg.recs) {
		t.Errorf("the server read %d pages (%d records) for a reader that read none: it runs ahead of the connection", calls, sent)
	}
}

// A stream ends, telling the page, once its session is gone (logged out,
// expired, its account deleted).
func TestStreamEndsWithItsSession(t *testing.T) {
	ss := &sessions{}
	ts := newFakeUIWith(t, &ring{}, 0, ss)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := get(t, ctx, ts.URL+"/ui/api/stream")
	defer resp.Body.Close()
	br := sse.NewReader(resp.Body)
	if ev, _ := readEvent(t, br); ev != "hello" {
		t.Fatalf("first %q, want hello", ev)
	}
	ss.mu.Lock()
	ss.dead = true
	ss.mu.Unlock()
	if ev, _ := readEvent(t, br); ev != "logout" {
		t.Fatalf("after the session ended: %q, want logout", ev)
	}
	if ev, err := br.Next(); err != io.EOF {
		t.Errorf("the stream went on after logout: %+v, %v", ev, err)
	}
}

// fakeCXL is a CXL side whose IOMMU counters the test moves.
type fakeCXL struct {
	mu   sync.Mutex
	maps uint64
}

func (f *fakeCXL) CXL() (cxl.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cxl.Status{IOMMU: iommu.Counters{Maps: f.maps}}, true
}

// The IOMMU counters move with DMA mappings, which are no platform
// event: the stream reports them itself, so the page's CXL panel follows.
func TestStreamReportsIOMMUCounterChanges(t *testing.T) {
	fc := &fakeCXL{maps: 3}
	h, err := New(Config{Authenticate: (&sessions{}).authenticate, Control: http.NotFoundHandler(), Board: fakeBoard{},
		Events: &ring{}, SEL: fakeSEL{}, CXL: fc})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	// The limit only ends a stream that never reports the change.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := get(t, ctx, ts.URL+"/ui/api/stream")
	defer resp.Body.Close()
	br := sse.NewReader(resp.Body)
	ev, data := readEvent(t, br)
	var hello Hello
	if ev != "hello" || json.Unmarshal([]byte(data), &hello) != nil || hello.CXL == nil || hello.CXL.IOMMU.Maps != 3 {
		t.Fatalf("first %s %s, want hello with the CXL side's 3 maps", ev, data)
	}
	fc.mu.Lock()
	fc.maps = 5
	fc.mu.Unlock()
	ev, data = readEvent(t, br)
	var st CXLState
	if ev != "cxl" || json.Unmarshal([]byte(data), &st) != nil || st.IOMMU.Maps != 5 {
		t.Fatalf("after two more maps: %s %s, want cxl with 5 maps", ev, data)
	}
}

// A board without CXL says nothing of it.
func TestStreamWithoutCXLSaysNothingOfIt(t *testing.T) {
	ts := newFakeUI(t, &ring{}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := get(t, ctx, ts.URL+"/ui/api/stream")
	defer resp.Body.Close()
	ev, data := readEvent(t, sse.NewReader(resp.Body))
	if ev != "hello" || strings.Contains(data, `"cxl"`) {
		t.Fatalf("first %s %s, want hello without cxl", ev, data)
	}
}

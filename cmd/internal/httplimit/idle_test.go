package httplimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// idleServer serves h with a reaper whose ticks the test advances; with
// limited, through a Limiter's listener (the connections the reaper
// watches with atomics), else a bare one (noted in its map).
func idleServer(t *testing.T, h http.Handler, limit uint64, limited bool) (*idleReaper, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if limited {
		ln = New(Defaults, nil).Listener(ln)
	}
	r := newIdleReaper(time.Duration(limit-1)*time.Second, time.Second)
	r.manual = true
	srv := &http.Server{Handler: h, ConnState: r.track, ReadHeaderTimeout: ReadHeaderTimeout}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r, addr
}

func (r *idleReaper) idleCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.idle)
	for c := range r.watched {
		if c.idle.Load() != 0 {
			n++
		}
	}
	return n
}

// bothListeners runs f with a bare listener and with a Limiter's.
func bothListeners(t *testing.T, f func(t *testing.T, limited bool)) {
	t.Run("bare", func(t *testing.T) { f(t, false) })
	t.Run("limited", func(t *testing.T) { f(t, true) })
}

// waitIdle waits until n connections are idle: net/http reports a
// connection idle just after the client has its response.
func waitIdle(t *testing.T, r *idleReaper, n int) {
	t.Helper()
	for i := 0; r.idleCount() != n; i++ {
		if i == 1000 {
			t.Fatalf("%d idle connections, want %d", r.idleCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type client struct {
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Only a guard against a hang: no assertion depends on it.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{c: c, br: bufio.NewReader(c)}
}

func (cl *client) get(t *testing.T) error {
	t.Helper()
	if _, err := io.WriteString(cl.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(cl.br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

func TestIdleConnectionsAreClosedAfterTheLimit(t *testing.T) {
	bothListeners(t, testIdleConnectionsAreClosedAfterTheLimit)
}

func testIdleConnectionsAreClosedAfterTheLimit(t *testing.T, limited bool) {
	r, addr := idleServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}), 3, limited)
	a, b := dial(t, addr), dial(t, addr)
	if err := a.get(t); err != nil {
		t.Fatal(err)
	}
	if err := b.get(t); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r, 2)
	r.advance()
	r.advance()
	// b asks again before the limit: it is active, then idle anew.
	if err := b.get(t); err != nil {
		t.Fatalf("a connection idle for less than the limit was closed: %v", err)
	}
	waitIdle(t, r, 2)
	r.advance() // a: 3 ticks idle, b: 1
	if _, err := a.br.ReadByte(); err != io.EOF {
		t.Fatalf("after the limit the idle connection read %v, want EOF (closed)", err)
	}
	if err := b.get(t); err != nil {
		t.Fatalf("a connection that asked again was closed with the other: %v", err)
	}
}

func TestActiveConnectionsAreNotReaped(t *testing.T) {
	bothListeners(t, testActiveConnectionsAreNotReaped)
}

func testActiveConnectionsAreNotReaped(t *testing.T, limited bool) {
	release := make(chan struct{})
	r, addr := idleServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	}), 2, limited)
	cl := dial(t, addr)
	if err := cl.get(t); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r, 1)
	r.advance()
	// A request that takes longer than the limit (an SSE stream, a slow
	// handler) is not idle however many ticks pass.
	if _, err := io.WriteString(cl.c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r, 0)
	for range 10 {
		r.advance()
	}
	close(release)
	resp, err := http.ReadResponse(cl.br, nil)
	if err != nil {
		t.Fatalf("a request in progress was cut by the idle timeout: %v", err)
	}
	resp.Body.Close()
}

func TestIdleReaperStopsWhenNothingIsIdle(t *testing.T) {
	r := newIdleReaper(time.Minute, time.Second)
	if r.limit != 61 {
		t.Errorf("limit %d ticks, want 61 (the limit, and the tick it started in)", r.limit)
	}
	c1, c2 := net.Pipe()
	defer c2.Close()
	r.manual = true
	r.track(c1, http.StateIdle)
	if !r.advance() {
		t.Error("advance reports nothing idle with one idle connection")
	}
	r.track(c1, http.StateClosed)
	if r.advance() {
		t.Error("advance reports idle connections after the only one closed")
	}
}

// The Limiter's connections keep ReadHeaderTimeout's deadline in the
// reaper, not on the socket: a header that never ends is cut within a
// tick of its deadline, a request that completes leaves no deadline
// behind, and the socket saw neither.
func TestHeaderDeadlineKeptByTheReaper(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := newIdleReaper(IdleTimeout, 50*time.Millisecond)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ConnState: r.track, ReadHeaderTimeout: 2 * time.Second}
	go srv.Serve(New(Defaults, nil).Listener(inner))
	t.Cleanup(func() { srv.Close() })
	addr := inner.Addr().String()

	watched := func() *conn {
		t.Helper()
		for range 1000 {
			r.mu.Lock()
			for c := range r.watched {
				r.mu.Unlock()
				return c
			}
			r.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
		t.Fatal("the reaper watches no connection")
		return nil
	}

	// A whole request: afterwards nothing is kept and nothing is armed
	// (net/http's abort of its background read set and cleared one).
	ok := dial(t, addr)
	if err := ok.get(t); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, r, 1)
	c := watched()
	c.dmu.Lock()
	rdl, armed := c.rdl, c.armed
	c.dmu.Unlock()
	if rdl != 0 || armed {
		t.Fatalf("after a request: kept deadline %d, socket deadline armed %v; want neither", rdl, armed)
	}
	ok.c.Close()
	for i := 0; r.idleCount() != 0 || func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.watched) != 0 }(); i++ {
		if i == 5000 {
			t.Fatal("the closed connection is still watched")
		}
		time.Sleep(time.Millisecond)
	}

	// Half a header: the deadline (2 s away, far more than the time
	// this takes even on a loaded machine) waits in the reaper.
	slow := dial(t, addr)
	if _, err := io.WriteString(slow.c, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	c = watched()
	for range 1000 {
		c.dmu.Lock()
		rdl, armed = c.rdl, c.armed
		c.dmu.Unlock()
		if rdl != 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if rdl == 0 || armed {
		t.Fatalf("reading a header: kept deadline %d, socket deadline armed %v; want it kept, not armed", rdl, armed)
	}
	// Past it, the reaper fails the read and net/http hangs up (the
	// client's own deadline of 30 s only guards against a hang).
	if _, err := slow.br.ReadByte(); err == nil {
		t.Fatal("the unfinished header's connection is still open")
	}
}

// A deadline less than three ticks after the reaper's latest tick goes to
// the socket (the reaper would enforce it up to a tick late); a farther
// one is kept by the reaper and leaves the socket alone.
func TestNearReadDeadlineGoesToTheSocket(t *testing.T) {
	r := newIdleReaper(IdleTimeout, time.Second)
	r.manual = true
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &conn{Conn: a}
	c.watch(r)
	state := func() (int64, bool) {
		c.dmu.Lock()
		defer c.dmu.Unlock()
		return c.rdl, c.armed
	}

	far := time.Now().Add(10 * time.Second)
	if err := c.SetReadDeadline(far); err != nil {
		t.Fatal(err)
	}
	if rdl, armed := state(); rdl != far.UnixNano() || armed {
		t.Errorf("10 ticks away: kept %d armed %v, want kept %d on no socket deadline", rdl, armed, far.UnixNano())
	}
	for _, d := range []time.Duration{2500 * time.Millisecond, 50 * time.Millisecond} {
		if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
			t.Fatal(err)
		}
		if rdl, armed := state(); rdl != 0 || !armed {
			t.Errorf("%v away: kept %d armed %v, want it on the socket", d, rdl, armed)
		}
	}
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past a near deadline: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the near deadline struck after %v", d)
	}
}

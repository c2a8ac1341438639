package httplimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// idleServer serves h with a reaper whose ticks the test advances.
func idleServer(t *testing.T, h http.Handler, limit uint64) (*idleReaper, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &idleReaper{limit: limit, every: time.Second, manual: true, idle: map[net.Conn]uint64{}}
	srv := &http.Server{Handler: h, ConnState: r.track, ReadHeaderTimeout: ReadHeaderTimeout}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r, ln.Addr().String()
}

func (r *idleReaper) idleCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.idle)
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
	r, addr := idleServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}), 3)
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
	release := make(chan struct{})
	r, addr := idleServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	}), 2)
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

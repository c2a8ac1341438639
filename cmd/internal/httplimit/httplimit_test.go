package httplimit

import (
	"net"
	"testing"
	"time"
)

// dialFrom opens a loopback connection from src to ln and returns the
// server's end.
func dialFrom(t *testing.T, ln net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLimiterCaps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := New(Limits{Total: 3, PerSource: 2}, nil)

	var held []net.Conn
	admit := func(src string) bool {
		c, ok := l.Admit(dialFrom(t, ln, src))
		if ok {
			held = append(held, c)
		}
		return ok
	}
	for i := range 2 {
		if !admit("127.0.7.1") {
			t.Fatalf("connection %d from one source was refused", i+1)
		}
	}
	if admit("127.0.7.1") {
		t.Error("a third from one source was admitted (per-source cap 2)")
	}
	if !admit("127.0.7.2") {
		t.Fatal("another source was refused under the total")
	}
	if admit("127.0.7.3") {
		t.Error("a fourth connection was admitted (total cap 3)")
	}
	if l.Refused() != 2 {
		t.Errorf("Refused = %d, want 2", l.Refused())
	}
	// Closing releases the place, once, however often Close is called.
	held[0].Close()
	held[0].Close()
	if !admit("127.0.7.1") {
		t.Error("a closed connection's place was not released")
	}
	if admit("127.0.7.4") {
		t.Error("a double Close released two places")
	}
}

func TestListenerClosesRefused(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(Limits{PerSource: 1}, nil)
	ln := l.Listener(inner)
	defer ln.Close()
	first, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := ln.Accept(); err != nil {
		t.Fatal(err)
	}
	second, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	// The refused one is closed by Accept, which then waits for the next.
	go func() { _, _ = ln.Accept() }()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Error("a refused connection was not closed")
	}
}

package ipmi

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDrainWithoutGoroutines drives a server the way a fleet's poller does
// (Drain when readable, no Serve): ipmitool gets its answers, and once its
// session is closed and the handshake loop has idled out, the server owns
// no goroutine.
func TestDrainWithoutGoroutines(t *testing.T) {
	bin := tool(t, "/usr/bin/ipmitool")
	old := slowIdle
	slowIdle = 50 * time.Millisecond
	t.Cleanup(func() { slowIdle = old })

	s, err := New(Config{Addr: "127.0.0.1:0", Users: testUsers, Logger: discardLogger()}, newPlatform(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Settle anything New started (the event pump's first run).
	time.Sleep(20 * time.Millisecond)
	before := runtime.NumGoroutine()

	// The poller stand-in: one goroutine for the test, as one serves a fleet.
	done := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.Drain(); err != nil {
				t.Errorf("Drain: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, port, _ := net.SplitHostPort(s.Addr().String())
	out, err := run(t, bin, "-I", "lanplus", "-H", "127.0.0.1", "-p", port, "-U", "admin", "-P", "password", "mc", "info")
	if err != nil || !strings.Contains(out, "IPMI Version") {
		t.Fatalf("ipmitool mc info through Drain: %v\n%s", err, out)
	}
	close(done)
	<-polled

	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the session closed and the loop idled, %d before", n, before)
	}
}

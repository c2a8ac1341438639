package httplimit

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// idleReaper closes keep-alive connections that have waited IdleTimeout
// for their next request.
//
// http.Server.IdleTimeout does the same by arming a read deadline after
// every response and clearing it when the next request starts: two clock
// reads and a runtime timer added and deleted per request, about 1 us on
// a virtual machine, several percent of a cached Redfish GET. The reaper
// instead notes the connection under a tick counter when net/http reports
// it idle (http.ConnState) and forgets it when the next request arrives;
// a goroutine, running only while some connection is idle, advances the
// counter every reapEvery and closes the connections idle for the limit.
// A connection is closed between the limit and the limit plus reapEvery
// after its last response. The header of a request (ReadHeaderTimeout)
// stays with net/http, which times it from its first byte.
type idleReaper struct {
	limit  uint64 // ticks
	every  time.Duration
	manual bool // tests advance the ticks themselves

	mu      sync.Mutex
	tick    uint64
	idle    map[net.Conn]uint64 // connection -> tick it became idle
	running bool
}

const reapEvery = time.Second

func newIdleReaper(limit, every time.Duration) *idleReaper {
	// One tick more than the limit: a connection that went idle just
	// before a tick must still wait the whole limit.
	return &idleReaper{limit: uint64(limit/every) + 1, every: every, idle: map[net.Conn]uint64{}}
}

// track is the http.Server's ConnState hook.
func (r *idleReaper) track(c net.Conn, st http.ConnState) {
	if st == http.StateNew {
		// Not idle yet: the first request's header is timed by net/http.
		return
	}
	r.mu.Lock()
	if st != http.StateIdle {
		delete(r.idle, c)
		r.mu.Unlock()
		return
	}
	r.idle[c] = r.tick
	start := !r.running && !r.manual
	r.running = r.running || start
	r.mu.Unlock()
	if start {
		go r.run()
	}
}

func (r *idleReaper) run() {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for range t.C {
		if !r.advance() {
			return
		}
	}
}

// advance moves one tick on, closes the connections idle for the limit
// and reports whether any connection is still idle (the goroutine stops
// otherwise; the next idle connection starts another).
func (r *idleReaper) advance() bool {
	r.mu.Lock()
	r.tick++
	var stale []net.Conn
	for c, since := range r.idle {
		if r.tick-since >= r.limit {
			stale = append(stale, c)
			delete(r.idle, c)
		}
	}
	more := len(r.idle) > 0
	if !more {
		r.running = false
	}
	r.mu.Unlock()
	for _, c := range stale {
		// The serving goroutine's wait for the next request fails, and
		// net/http closes its side and reports StateClosed.
		c.Close()
	}
	return more
}

package httplimit

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// idleReaper closes keep-alive connections that have waited IdleTimeout
// for their next request, and keeps the Limiter's connections' read
// deadlines (ReadHeaderTimeout) for them.
//
// http.Server.IdleTimeout does the same by arming a read deadline after
// every response and clearing it when the next request starts, and
// ReadHeaderTimeout arms and clears one around every header: each a clock
// read and a runtime timer added and deleted per request, about 1 us on
// a virtual machine, several percent of a cached Redfish GET. Instead a
// goroutine, running only while it watches some connection, advances a
// tick counter every reapEvery; a connection notes the tick at which
// net/http reported it idle (http.ConnState), and the goroutine closes
// those idle for the limit and fails the reads whose kept deadline has
// passed. A connection is closed between the limit and the limit plus
// reapEvery after its last response, and a header deadline is enforced
// at most reapEvery late.
//
// The Limiter's connections are watched from StateNew to StateClosed with
// atomics and their own lock, so a request costs no shared lock. Any
// other connection (a listener without a Limiter) is noted in a map
// under the reaper's lock while idle, and its deadlines stay net/http's.
type idleReaper struct {
	limit  uint64 // ticks
	every  time.Duration
	manual bool // tests advance the ticks themselves

	tick atomic.Uint64
	// wall is the wall clock (Unix ns) at the latest tick, or when the
	// goroutine started: a reading at most a tick old while it runs,
	// which SetReadDeadline compares deadlines with instead of reading
	// the clock on every request.
	wall atomic.Int64

	mu      sync.Mutex
	idle    map[net.Conn]uint64 // other connections -> tick they became idle
	watched map[*conn]struct{}  // the Limiter's, while net/http serves them
	running bool
}

const reapEvery = time.Second

func newIdleReaper(limit, every time.Duration) *idleReaper {
	// One tick more than the limit: a connection that went idle just
	// before a tick must still wait the whole limit.
	r := &idleReaper{limit: uint64(limit/every) + 1, every: every, idle: map[net.Conn]uint64{}, watched: map[*conn]struct{}{}}
	r.wall.Store(time.Now().UnixNano())
	return r
}

// track is the http.Server's ConnState hook.
func (r *idleReaper) track(c net.Conn, st http.ConnState) {
	if lc := limited(c); lc != nil {
		switch st {
		case http.StateNew:
			lc.watch(r)
			r.mu.Lock()
			r.watched[lc] = struct{}{}
			start := r.startLocked()
			r.mu.Unlock()
			if start {
				go r.run()
			}
		case http.StateIdle:
			lc.idle.Store(r.tick.Load() + 1)
		case http.StateActive:
			lc.idle.Store(0)
		case http.StateClosed, http.StateHijacked:
			lc.idle.Store(0)
			lc.unwatch()
			r.mu.Lock()
			delete(r.watched, lc)
			r.mu.Unlock()
		}
		return
	}
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
	r.idle[c] = r.tick.Load()
	start := r.startLocked()
	r.mu.Unlock()
	if start {
		go r.run()
	}
}

// startLocked reports whether the caller must start the goroutine.
func (r *idleReaper) startLocked() bool {
	start := !r.running && !r.manual
	r.running = r.running || start
	if start {
		r.wall.Store(time.Now().UnixNano())
	}
	return start
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

// advance moves one tick on, closes the connections idle for the limit,
// fails the reads whose kept deadline has passed, and reports whether
// any connection is still looked after (the goroutine stops otherwise;
// the next one starts another).
func (r *idleReaper) advance() bool {
	tick := r.tick.Add(1)
	now := time.Now().UnixNano()
	r.wall.Store(now)
	r.mu.Lock()
	var stale []net.Conn
	for c, since := range r.idle {
		if tick-since >= r.limit {
			stale = append(stale, c)
			delete(r.idle, c)
		}
	}
	watched := make([]*conn, 0, len(r.watched))
	for c := range r.watched {
		watched = append(watched, c)
	}
	more := len(r.idle) > 0 || len(r.watched) > 0
	if !more {
		r.running = false
	}
	r.mu.Unlock()
	for _, c := range watched {
		if since := c.idle.Load(); since != 0 && tick-(since-1) >= r.limit {
			stale = append(stale, c)
			continue
		}
		c.expire(now)
	}
	for _, c := range stale {
		// The serving goroutine's wait for the next request fails, and
		// net/http closes its side and reports StateClosed.
		c.Close()
	}
	return more
}

// Package httplimit bounds what an unauthenticated client can make the
// emulator hold: how many connections are open at once, in total and from
// one source address, how large a request header may grow, and how long a
// connection may sit without finishing its header or its next request.
// Every HTTP listener of the emulator (Redfish HTTP and HTTPS, the control
// API, each fleet member's) goes through it.
package httplimit

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// MaxHeaderBytes is bmcweb's request header limit (httpHeaderLimit in its
// http_connection.hpp, 8 KiB): ample for Redfish clients, whose largest
// header is a session token, and small enough that a connection stuck in
// its header costs kilobytes, not the megabyte net/http allows by default.
const MaxHeaderBytes = 8 << 10

// Server timeouts. The header must arrive within ReadHeaderTimeout; an
// idle keep-alive connection is closed after IdleTimeout. There is no
// overall read or write timeout: SSE streams (EventService) stay open for
// as long as the client listens.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// Limits are the connection caps of one Limiter.
type Limits struct {
	Total     int // connections open at once (0: no cap)
	PerSource int // from one source address (0: no cap)
}

// Defaults for one BMC: a real BMC serves a handful of consoles, but
// monitoring and CI drive dozens of connections at once, so the caps sit
// far above legitimate use and far below what exhausts memory.
var Defaults = Limits{Total: 1024, PerSource: 64}

// Limiter admits connections under Limits. A refused connection is closed
// before anything is read from it.
type Limiter struct {
	lim Limits
	log *slog.Logger

	mu    sync.Mutex
	open  int
	bySrc map[netip.Addr]int

	refused   atomic.Uint64
	lastLog   atomic.Int64 // unix nanoseconds of the last summary line
	loggedRef atomic.Uint64
}

// New returns a Limiter; log (nil: discard) gets at most one line per
// logEvery about refused connections.
func New(lim Limits, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{lim: lim, log: log, bySrc: map[netip.Addr]int{}}
}

const logEvery = 10 * time.Second

// Refused is how many connections were refused so far.
func (l *Limiter) Refused() uint64 { return l.refused.Load() }

// Admit takes c under the limits and returns it wrapped so that closing it
// releases its place, or closes c and returns false.
func (l *Limiter) Admit(c net.Conn) (net.Conn, bool) {
	src := sourceOf(c)
	l.mu.Lock()
	if (l.lim.Total > 0 && l.open >= l.lim.Total) || (l.lim.PerSource > 0 && l.bySrc[src] >= l.lim.PerSource) {
		l.mu.Unlock()
		c.Close()
		l.refuse(src)
		return nil, false
	}
	l.open++
	l.bySrc[src]++
	l.mu.Unlock()
	return &conn{Conn: c, l: l, src: src}, true
}

func (l *Limiter) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.bySrc[src] - 1; n > 0 {
		l.bySrc[src] = n
	} else {
		delete(l.bySrc, src)
	}
}

// refuse counts a refusal and logs a summary at most once per logEvery:
// a flood must not become a flood of log lines.
func (l *Limiter) refuse(src netip.Addr) {
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(logEvery) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	since := n - l.loggedRef.Swap(n)
	l.log.Warn("connections refused: over the connection limits", "refused", since, "refused_total", n,
		"last_source", src.String(), "limit_total", l.lim.Total, "limit_per_source", l.lim.PerSource)
}

func sourceOf(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// conn releases its place in the Limiter once, on Close. While a
// Server's reaper watches it (from net/http's StateNew to StateClosed),
// the reaper also keeps its read deadlines and notes when it goes idle,
// so that neither costs a runtime timer or a lock per request (see
// idleReaper).
type conn struct {
	net.Conn
	l    *Limiter
	src  netip.Addr
	once sync.Once

	// idle is the reaper's tick+1 at which net/http reported the
	// connection idle; 0 while a request is in progress.
	idle atomic.Uint64

	dmu   sync.Mutex
	r     *idleReaper // nil: deadlines go straight to the socket
	rdl   int64       // a read deadline the reaper enforces (unix ns); 0: none
	armed bool        // a read deadline is set on the socket itself
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}

// longPast is earlier than any deadline but one meant as "now": net/http
// ends its background read with time.Unix(1, 0) (aLongTimeAgo) after every
// request, and such a deadline is known to be past without reading the
// clock (time.Until reads it for a time without a monotonic reading).
var longPast = time.Unix(1e9, 0)

// SetReadDeadline keeps a deadline at least two reaper ticks away for the
// reaper, which enforces it at most one tick late: net/http arms
// ReadHeaderTimeout for every request and clears it once the header is
// in, and a runtime timer added and deleted for each costs more than the
// rest of its limits together. A nearer deadline (net/http ending its
// background read at once) and clearing one that is set go to the socket.
//
// "Two ticks away" is judged against the reaper's latest tick (at most a
// tick old while it watches this connection), so three ticks from it:
// reading the clock here would cost a vDSO call per request, as much as
// the lock.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.r == nil {
		return c.Conn.SetReadDeadline(t)
	}
	if !t.IsZero() && (t.Before(longPast) || t.UnixNano()-c.r.wall.Load() < int64(3*c.r.every)) {
		c.rdl, c.armed = 0, true
		return c.Conn.SetReadDeadline(t)
	}
	c.rdl = 0
	if !t.IsZero() {
		c.rdl = t.UnixNano()
	}
	if c.armed {
		c.armed = false
		return c.Conn.SetReadDeadline(time.Time{})
	}
	return nil
}

// SetDeadline sets both, the read one as SetReadDeadline does.
func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// watch hands the connection's read deadlines to r; unwatch takes them
// back (a hijacked connection belongs to its handler).
func (c *conn) watch(r *idleReaper) {
	c.dmu.Lock()
	c.r = r
	c.dmu.Unlock()
}

func (c *conn) unwatch() {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.r != nil && c.rdl != 0 {
		// Still pending: the socket takes it now.
		_ = c.Conn.SetReadDeadline(time.Unix(0, c.rdl))
		c.armed = true
	}
	c.r, c.rdl = nil, 0
}

// expire applies a kept read deadline that has passed: the blocked read
// fails with a timeout, as it would have at the deadline.
func (c *conn) expire(now int64) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.r != nil && c.rdl != 0 && now >= c.rdl {
		c.rdl, c.armed = 0, true
		_ = c.Conn.SetReadDeadline(time.Unix(0, 1))
	}
}

// limited finds the Limiter's connection under c (a TLS connection wraps
// it), or nil.
func limited(c net.Conn) *conn {
	switch x := c.(type) {
	case *conn:
		return x
	case interface{ NetConn() net.Conn }:
		lc, _ := x.NetConn().(*conn)
		return lc
	}
	return nil
}

// Listener admits ln's connections through l; refused ones never reach
// the server.
func (l *Limiter) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, l: l} }

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ac, ok := ln.l.Admit(c); ok {
			return ac, nil
		}
	}
}

// Server returns an http.Server for h with the header limit and timeouts
// above; errorLog receives net/http's own complaints. Its ConnState hook
// enforces IdleTimeout (see idleReaper): a caller that needs the hook too
// must call the one it finds there.
func Server(h http.Handler, errorLog *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: ReadHeaderTimeout,
		// IdleTimeout and ReadTimeout stay zero: net/http would time the
		// wait for the next request with either, per request. The reaper
		// times it, and keeps ReadHeaderTimeout's deadlines, for the
		// Limiter's connections.
		ConnState: newIdleReaper(IdleTimeout, reapEvery).track,
		ErrorLog:  slog.NewLogLogger(errorLog.Handler(), slog.LevelWarn),
	}
}

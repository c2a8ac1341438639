// Package fleet runs many emulated BMCs in one process, each a complete
// bmc.BMC on its own address (or its own ports), with membership that
// changes at run time through the control API.
package fleet

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/httplimit"
	"github.com/bmcemu/bmcemu/cmd/internal/webui"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/ipblock"
	"github.com/bmcemu/bmcemu/redfish"
)

// Options configure a Fleet.
type Options struct {
	// StateDir holds one directory per member (StateDir/<id>); "" keeps
	// nothing.
	StateDir string
	// User and Password guard the fleet's own endpoints (membership);
	// each member's surfaces use its own accounts.
	User, Password string
	Clock          clock.Clock
	FaultSeed      uint64
	Logger         *slog.Logger
	// TLS serves every member's HTTPS port; nil with an HTTPS port is an
	// error at Add.
	TLS *tls.Config
	// Seed derives the identity of members added at run time.
	Seed uint64
	// Layout places members added at run time without an address.
	Layout Layout
	// Observe, when set, gives each member its bmc.Config.Observe, and
	// Forget hears of a removed member (the metrics).
	Observe func(member string) func(surface, method string, code int, d time.Duration)
	Forget  func(member string)
	// IPMIV15 also accepts IPMI v1.5 sessions on every member.
	IPMIV15 bool
	// IPBlocking blocks source addresses that keep failing the fleet's
	// credentials; nil is ipblock.DefaultSettings (five failures in a
	// minute block the address for five minutes). It runs on the wall
	// clock, whatever Clock's speed: an attacker's pace is real.
	IPBlocking *ipblock.Settings
	// Redfish settings for every member.
	RegistryDir           string
	RequireIfMatch        bool
	EventDestinationAllow []netip.Prefix
}

// Fleet is a set of running members.
type Fleet struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	ctx       context.Context
	members   map[string]*member
	building  map[string]bool   // names reserved by an Add in progress
	endpoints map[string]string // "udp|tcp addr:port" -> the member (or reservation) holding it
	added     int               // members ever added, for the same-address port layout
	errc      chan error

	// Every member's sockets are watched by one poller (nil where the
	// system has none: then each socket gets a goroutine), and every
	// member's HTTP connections are served by one http.Server, which
	// finds the member from the connection.
	poll  *poller
	front *http.Server
	queue *connQueue
	// conns caps the connections of every member together; each member
	// also has its own caps (member.limit).
	conns *httplimit.Limiter
	// blk blocks a source address after repeated wrong fleet credentials,
	// as each member's accounts do for theirs (platform/ipblock): the
	// fleet's operator login guards membership of every member, so
	// guessing it from one address must stop at the address.
	blk *ipblock.Blocker
}

type member struct {
	spec      Member
	bmc       *bmc.BMC
	listeners []net.Listener
	watches   []*watch
	urls      []string
	stateDir  string

	connMu sync.Mutex
	conns  map[net.Conn]struct{} // open HTTP connections, closed on removal
	gone   bool
	limit  *httplimit.Limiter // this member's connection caps
}

// memberKey carries a connection's member in its context.
type memberKey struct{}

// New returns an empty fleet; Add members after Start.
func New(opts Options) *Fleet {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{opts: opts, log: log, members: map[string]*member{}, building: map[string]bool{}, endpoints: map[string]string{},
		errc: make(chan error, 1), ctx: context.Background()}
	if p, err := newPoller(); err == nil {
		f.poll = p
	} else {
		log.Info("no socket poller; one goroutine per member socket", "reason", err)
	}
	f.queue = newConnQueue()
	set := ipblock.DefaultSettings()
	if opts.IPBlocking != nil {
		set = *opts.IPBlocking
	}
	blk, err := ipblock.New(ipblock.Options{Settings: set, Logger: log.With("component", "fleet-auth")})
	if err != nil {
		log.Warn("fleet: IP blocking settings refused; using the defaults", "err", err)
		blk, _ = ipblock.New(ipblock.Options{Settings: ipblock.DefaultSettings(), Logger: log.With("component", "fleet-auth")})
	}
	f.blk = blk
	f.conns = httplimit.New(FleetLimits, log.With("component", "http"))
	f.front = httplimit.Server(http.HandlerFunc(f.serveMember), log)
	f.front.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return redfish.ConnContext(context.WithValue(ctx, memberKey{}, f.queue.owner(c)), c)
	}
	idle := f.front.ConnState // httplimit's idle timeout
	f.front.ConnState = func(c net.Conn, st http.ConnState) {
		idle(c, st)
		if st == http.StateClosed || st == http.StateHijacked {
			if m := f.queue.forget(c); m != nil {
				m.connMu.Lock()
				delete(m.conns, c)
				m.connMu.Unlock()
			}
		}
	}
	go func() {
		if err := f.front.Serve(f.queue); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.fail(fmt.Errorf("members' HTTP: %w", err))
		}
	}()
	return f
}

func (f *Fleet) fail(err error) {
	select {
	case f.errc <- err:
	default:
	}
}

// serveMember answers a request on the member whose address the
// connection was accepted on.
func (f *Fleet) serveMember(w http.ResponseWriter, r *http.Request) {
	m, _ := r.Context().Value(memberKey{}).(*member)
	if m == nil {
		http.Error(w, "this member has been removed", http.StatusServiceUnavailable)
		return
	}
	m.bmc.Handler().ServeHTTP(w, r)
}

// FleetLimits caps every member's connections together: the memory of
// one process, where each member also keeps a lone BMC's caps.
var FleetLimits = httplimit.Limits{Total: 8192}

// deliver hands an accepted connection to the shared HTTP server, if the
// fleet's and the member's connection caps admit it.
func (f *Fleet) deliver(m *member, scheme string, c net.Conn) {
	c, ok := f.conns.Admit(c)
	if !ok {
		return
	}
	if c, ok = m.limit.Admit(c); !ok {
		return
	}
	if scheme == "https" {
		c = tls.Server(c, f.opts.TLS)
	}
	m.connMu.Lock()
	if m.gone {
		m.connMu.Unlock()
		c.Close()
		return
	}
	m.conns[c] = struct{}{}
	m.connMu.Unlock()
	if !f.queue.push(c, m) {
		c.Close()
	}
}

// Start makes ctx the parent of every member's surfaces.
func (f *Fleet) Start(ctx context.Context) {
	f.mu.Lock()
	f.ctx = ctx
	f.mu.Unlock()
}

// Err reports a member surface that stopped on its own.
func (f *Fleet) Err() <-chan error { return f.errc }

// Len is the number of members.
func (f *Fleet) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.members)
}

// Add builds, binds and starts one member. A name or endpoint already in
// use is refused before anything is built.
func (f *Fleet) Add(m Member) (control.ServerInfo, error) {
	eps := m.endpoints()
	f.mu.Lock()
	if _, dup := f.members[m.Name]; dup || f.building[m.Name] {
		f.mu.Unlock()
		return control.ServerInfo{}, fmt.Errorf("%w: member %q", ErrExists, m.Name)
	}
	for _, ep := range eps {
		if owner, taken := f.endpoints[ep]; taken {
			f.mu.Unlock()
			return control.ServerInfo{}, fmt.Errorf("%w: %s is member %q's", ErrExists, ep, owner)
		}
	}
	// Reserve the name and endpoints, then boot the member without the
	// lock: listing and the other members' APIs go on meanwhile.
	f.building[m.Name] = true
	for _, ep := range eps {
		f.endpoints[ep] = m.Name
	}
	ctx := f.ctx
	f.mu.Unlock()

	mem, err := f.build(ctx, m)

	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.building, m.Name)
	if err != nil {
		for _, ep := range eps {
			delete(f.endpoints, ep)
		}
		return control.ServerInfo{}, fmt.Errorf("member %s: %w", m.Name, err)
	}
	f.members[m.Name] = mem
	f.added++
	return mem.info(), nil
}

// ErrExists: the name or an endpoint is already a member's.
var ErrExists = errors.New("already in the fleet")

// ErrNotFound: no member by that id.
var ErrNotFound = errors.New("no such member")

func (f *Fleet) build(ctx context.Context, m Member) (*member, error) {
	mem := &member{spec: m, conns: map[net.Conn]struct{}{}, limit: httplimit.New(httplimit.Defaults, f.log.With("member", m.Name))}
	if f.opts.StateDir != "" {
		mem.stateDir = filepath.Join(f.opts.StateDir, m.Name)
	}
	ok := false
	defer func() {
		if !ok {
			mem.closeSockets()
		}
	}()
	// Bind the TCP ports first: they fail fastest and cost nothing to undo.
	var schemes []string
	for _, ep := range []struct {
		scheme string
		port   int
	}{{"https", m.HTTPSPort}, {"http", m.HTTPPort}} {
		if ep.port == 0 {
			continue
		}
		if ep.scheme == "https" && f.opts.TLS == nil {
			return nil, errors.New("an HTTPS port but no TLS configuration")
		}
		addr := netip.AddrPortFrom(m.Addr, uint16(ep.port)).String()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, bindError("tcp", addr, err)
		}
		mem.listeners = append(mem.listeners, ln)
		schemes = append(schemes, ep.scheme)
		mem.urls = append(mem.urls, ep.scheme+"://"+ln.Addr().String()+"/redfish/v1")
	}
	ipmiAddr := netip.AddrPortFrom(m.Addr, uint16(m.IPMIPort)).String()
	var httpAddr, httpsAddr string
	for i, ln := range mem.listeners {
		if schemes[i] == "https" {
			httpsAddr = ln.Addr().String()
		} else {
			httpAddr = ln.Addr().String()
		}
	}
	b, err := bmc.New(bmc.Config{
		HTTPAddr: httpAddr, HTTPSAddr: httpsAddr,
		ID: m.Name, Profile: m.Profile, StateDir: mem.stateDir,
		User: m.User, Password: m.Password,
		Clock: f.opts.Clock, FaultSeed: f.opts.FaultSeed, Logger: f.log,
		IPMIAddr: ipmiAddr, PolledIPMI: f.poll != nil, Observe: f.observer(m.Name), IPMIV15: f.opts.IPMIV15,
		RegistryDir: f.opts.RegistryDir, RequireIfMatch: f.opts.RequireIfMatch,
		EventDestinationAllow: f.opts.EventDestinationAllow,
	})
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, bindError("udp", ipmiAddr, op)
		}
		return nil, err
	}
	mem.bmc = b
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	if f.poll != nil {
		rc, err := b.IPMISocket()
		if err != nil {
			return nil, err
		}
		w, err := f.poll.add(rc, func() {
			if err := b.DrainIPMI(); err != nil && !errors.Is(err, net.ErrClosed) {
				f.log.Warn("IPMI read", "member", m.Name, "err", err)
			}
		})
		if err != nil {
			return nil, err
		}
		mem.watches = append(mem.watches, w)
	}
	for i, ln := range mem.listeners {
		scheme := schemes[i]
		tl := ln.(*net.TCPListener)
		if f.poll == nil {
			go f.acceptLoop(mem, scheme, tl)
			continue
		}
		rc, err := tl.SyscallConn()
		if err != nil {
			return nil, err
		}
		w, err := f.poll.add(rc, func() { acceptReady(tl, func(c net.Conn) { f.deliver(mem, scheme, c) }) })
		if err != nil {
			return nil, err
		}
		mem.watches = append(mem.watches, w)
	}
	ok = true
	return mem, nil
}

func (f *Fleet) observer(name string) func(string, string, int, time.Duration) {
	if f.opts.Observe == nil {
		return nil
	}
	return f.opts.Observe(name)
}

// BMCs lists the members' BMCs (for the metrics, at scrape time).
func (f *Fleet) BMCs() []*bmc.BMC {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*bmc.BMC, 0, len(f.members))
	for _, m := range f.members {
		if m.bmc != nil {
			out = append(out, m.bmc)
		}
	}
	return out
}

// acceptLoop is the poller-less way: a goroutine per listener.
func (f *Fleet) acceptLoop(m *member, scheme string, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			f.fail(fmt.Errorf("member %s: accept: %w", m.spec.Name, err))
			return
		}
		f.deliver(m, scheme, c)
	}
}

// closeSockets stops watching and closes the member's listeners and open
// connections, so its addresses refuse connections at once.
func (m *member) closeSockets() {
	for _, w := range m.watches {
		w.remove()
	}
	m.watches = nil
	for _, ln := range m.listeners {
		ln.Close()
	}
	m.listeners = nil
	m.connMu.Lock()
	m.gone = true
	conns := m.conns
	m.conns = nil
	m.connMu.Unlock()
	for c := range conns {
		c.Close()
	}
	if m.bmc != nil {
		_ = m.bmc.Close()
	}
}

// bindError says what to do about the usual reasons a bind fails.
func bindError(network, addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot bind %s %s: ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep $(which bmcemu)), or choose ports above 1023 (--member-ipmi-port, --member-https-port): %w", network, addr, err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot bind %s %s: the address is already in use by another program: %w", network, addr, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot bind %s %s: no interface has this address (127.0.0.0/8 needs no setup on Linux; elsewhere add the address to the loopback interface): %w", network, addr, err)
	}
	return fmt.Errorf("cannot bind %s %s: %w", network, addr, err)
}

// Remove stops a member, closes its endpoints and frees its state in
// memory; its state directory stays unless purge.
func (f *Fleet) Remove(name string, purge bool) error {
	mem, ok := f.member(name)
	f.mu.Lock()
	if ok && f.members[mem.spec.Name] == mem {
		delete(f.members, mem.spec.Name)
		for _, ep := range mem.spec.endpoints() {
			delete(f.endpoints, ep)
		}
	} else {
		ok = false
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	err := mem.close()
	if f.opts.Forget != nil {
		f.opts.Forget(mem.spec.Name)
	}
	if purge && mem.stateDir != "" {
		if e := os.RemoveAll(mem.stateDir); e != nil {
			err = errors.Join(err, fmt.Errorf("purge %s: %w", mem.stateDir, e))
		}
	}
	f.log.Info("member removed", "member", mem.spec.Name, "purged", purge && mem.stateDir != "")
	return err
}

func (m *member) close() error {
	for _, w := range m.watches {
		w.remove()
	}
	m.watches = nil
	b := m.bmc
	m.bmc = nil
	m.closeSockets()
	if b == nil {
		return nil
	}
	return b.Close()
}

// Close stops every member.
func (f *Fleet) Close() error {
	f.mu.Lock()
	ms := f.members
	f.members = map[string]*member{}
	f.mu.Unlock()
	var errs []error
	for _, m := range ms {
		if err := m.close(); err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", m.spec.Name, err))
		}
	}
	f.queue.close()
	_ = f.front.Close()
	if f.poll != nil {
		f.poll.close()
	}
	return errors.Join(errs...)
}

// List describes the members in address order.
func (f *Fleet) List() []control.ServerInfo {
	f.mu.Lock()
	out := make([]control.ServerInfo, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, m.info())
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *member) info() control.ServerInfo {
	return control.ServerInfo{
		ID: m.spec.Name, Profile: m.spec.ProfileName, Serial: m.spec.Profile.System.SerialNumber,
		Address: m.spec.Addr.String(),
		IPMI:    m.bmc.IPMIAddr().String(), Redfish: m.urls, User: m.spec.User, Password: m.spec.Password, StateDir: m.stateDir,
	}
}

// member finds a member by id, or by its address when the address is
// its own (not shared with other members on other ports).
func (f *Fleet) member(name string) (*member, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.members[name]; ok {
		return m, true
	}
	a, err := netip.ParseAddr(name)
	if err != nil {
		return nil, false
	}
	var found *member
	for _, m := range f.members {
		if m.spec.Addr == a {
			if found != nil {
				return nil, false // ambiguous: members share the address
			}
			found = m
		}
	}
	return found, found != nil
}

// nextLayout places a member added at run time: after every member's
// address, or on the next ports of the shared address.
func (f *Fleet) nextLayout() Layout {
	f.mu.Lock()
	defer f.mu.Unlock()
	lay := f.opts.Layout
	lay.BuiltinOnly = true
	if lay.SamePorts {
		// Past every member on the shared address: a shard's members do
		// not start at offset 0, and removed members leave gaps.
		off := f.added
		for _, m := range f.members {
			if m.spec.Addr == lay.First && m.spec.IPMIPort >= lay.IPMIPort {
				off = max(off, m.spec.IPMIPort-lay.IPMIPort+1)
			}
		}
		bump := func(p int) int {
			if p == 0 {
				return 0
			}
			return p + off
		}
		lay.IPMIPort, lay.HTTPSPort, lay.HTTPPort = bump(lay.IPMIPort), bump(lay.HTTPSPort), bump(lay.HTTPPort)
		return lay
	}
	for _, m := range f.members {
		if m.spec.Addr.Is4() == lay.First.Is4() && !m.spec.Addr.Less(lay.First) {
			lay.First = m.spec.Addr.Next()
		}
	}
	return lay
}

// Handler serves the fleet's control endpoints (see package control's
// resource list): membership, and each member's control API by id.
func (f *Fleet) Handler() http.Handler {
	mux := http.NewServeMux()
	// The grid of members lives here, not on the members: only this
	// listener knows every member, and reading their health in process
	// costs a member nothing while no browser watches.
	grid, err := webui.NewFleet(webui.FleetConfig{Members: f.uiMembers, Authorized: f.authorized, Logger: f.log.With("component", "webui")})
	if err != nil {
		panic(err) // both functions are set above: a programming error
	}
	mux.Handle(webui.Prefix, grid)
	mux.Handle(webui.Prefix+"/", grid)
	mux.HandleFunc("GET "+control.Prefix+"/servers", f.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.List())
	}))
	mux.HandleFunc("POST "+control.Prefix+"/servers", f.auth(f.addHTTP))
	mux.HandleFunc("GET "+control.Prefix+"/servers/{id}", f.auth(func(w http.ResponseWriter, r *http.Request) {
		m, ok := f.member(r.PathValue("id"))
		if !ok {
			fail(w, http.StatusNotFound, "NotFound", "no member "+strconv.Quote(r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, m.info())
	}))
	mux.HandleFunc("DELETE "+control.Prefix+"/servers/{id}", f.auth(func(w http.ResponseWriter, r *http.Request) {
		purge := r.URL.Query().Get("purge") == "true"
		if err := f.Remove(r.PathValue("id"), purge); err != nil {
			if errors.Is(err, ErrNotFound) {
				fail(w, http.StatusNotFound, "NotFound", err.Error())
				return
			}
			fail(w, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	// A member's own control API authenticates with the member's accounts.
	mux.HandleFunc(control.Prefix+"/servers/{id}/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		m, ok := f.member(r.PathValue("id"))
		if !ok {
			// Which ids exist is the fleet's to tell, to its operator only.
			f.auth(func(w http.ResponseWriter, r *http.Request) {
				fail(w, http.StatusNotFound, "NotFound", "no member "+strconv.Quote(r.PathValue("id")))
			})(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = control.Prefix + "/" + r.PathValue("rest")
		if r.PathValue("rest") == "" {
			r2.URL.Path = control.Prefix
		}
		r2.URL.RawPath = ""
		m.bmc.Handler().ServeHTTP(w, r2)
	})
	mux.HandleFunc(control.Prefix, f.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"servers": control.Prefix + "/servers"})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "NotFound", "no such resource: "+r.URL.Path+" (a fleet's Redfish is served at each member's address; see "+control.Prefix+"/servers)")
	})
	return mux
}

// authorized checks the fleet's own credentials (HTTP Basic).
func (f *Fleet) authorized(r *http.Request) bool {
	u, pw, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(f.opts.User))&subtle.ConstantTimeCompare([]byte(pw), []byte(f.opts.Password)) == 1
}

// uiMembers lists the members for the web UI's grid, in id order.
func (f *Fleet) uiMembers() []webui.Member {
	f.mu.Lock()
	out := make([]webui.Member, 0, len(f.members))
	for _, m := range f.members {
		ui := make([]string, len(m.urls))
		for i, u := range m.urls {
			ui[i] = strings.TrimSuffix(u, "/redfish/v1") + webui.Prefix + "/"
		}
		out = append(out, webui.Member{ID: m.spec.Name, Address: m.spec.Addr.String(), UI: ui, Board: m.bmc.Platform()})
	}
	f.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// auth guards a fleet endpoint with the fleet's credentials. A source
// address that failed FailCount times within FailWindow is refused for
// Penalty before its credentials are looked at (503 with Retry-After, as
// the members' Redfish does), and only that address: the operator's
// login from elsewhere still works.
func (f *Fleet) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		src := remoteAddr(r)
		if until, blocked := f.blk.Refuse(src); blocked {
			secs := max(int64(time.Until(until)+time.Second-1)/int64(time.Second), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			fail(w, http.StatusServiceUnavailable, "AddressBlocked",
				"login attempts from this address are refused for a while after repeated failed logins")
			return
		}
		if !f.authorized(r) {
			// A request without credentials is a client asking which
			// scheme to use (browsers do), not a guess.
			if r.Header.Get("Authorization") != "" {
				f.blk.Fail(src)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="bmcemu fleet"`)
			fail(w, http.StatusUnauthorized, "Unauthorized", "the fleet's credentials are required (HTTP Basic: serve --user/--password)")
			return
		}
		h(w, r)
	}
}

// remoteAddr is the request's source address (invalid if unparsable).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// addHTTP takes one member entry of a fleet file, as JSON.
func (f *Fleet) addHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		fail(w, http.StatusBadRequest, "BadRequest", "read body: "+err.Error())
		return
	}
	if len(body) > 64<<10 {
		fail(w, http.StatusRequestEntityTooLarge, "TooLarge", "a member entry is at most 64 KiB")
		return
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		fail(w, http.StatusBadRequest, "MalformedJSON", "body: want a JSON object: "+err.Error())
		return
	}
	// JSON is YAML: the entry goes through the fleet file's own parser,
	// so the rules (names, ports, overrides, identity) are one set. One
	// line, so that it sits inside the members list.
	var flat bytes.Buffer
	if err := json.Compact(&flat, body); err != nil {
		fail(w, http.StatusBadRequest, "MalformedJSON", "body: "+err.Error())
		return
	}
	src := fmt.Sprintf("seed: %d\nmembers:\n  - %s\n", f.opts.Seed, flat.Bytes())
	ms, _, err := Parse("request body", []byte(src), f.nextLayout())
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidMember", err.Error())
		return
	}
	var infos []control.ServerInfo
	for _, m := range ms {
		info, err := f.Add(m)
		if err != nil {
			// All or nothing: a group that cannot be added whole is not
			// added in part.
			for _, done := range infos {
				_ = f.Remove(done.ID, false)
			}
			code, status := "AddFailed", http.StatusBadRequest
			if errors.Is(err, ErrExists) {
				code, status = "Conflict", http.StatusConflict
			}
			fail(w, status, code, err.Error())
			return
		}
		infos = append(infos, info)
	}
	if len(infos) == 1 {
		w.Header().Set("Location", control.Prefix+"/servers/"+infos[0].ID)
		writeJSON(w, http.StatusCreated, infos[0])
		return
	}
	writeJSON(w, http.StatusCreated, infos)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	var e control.Error
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

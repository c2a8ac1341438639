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
	"sync"
	"syscall"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
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
	// Redfish settings for every member.
	RegistryDir           string
	RequireIfMatch        bool
	EventDestinationAllow []netip.Prefix
}

// Fleet is a set of running members.
type Fleet struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	members map[string]*member
	added   int // members ever added, for the same-address port layout
	errc    chan error
}

type member struct {
	spec     Member
	bmc      *bmc.BMC
	servers  []*http.Server
	urls     []string
	stateDir string
}

// New returns an empty fleet; Add members after Start.
func New(opts Options) *Fleet {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fleet{opts: opts, log: log, members: map[string]*member{}, errc: make(chan error, 1), ctx: context.Background()}
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
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.members[m.Name]; dup {
		return control.ServerInfo{}, fmt.Errorf("%w: member %q", ErrExists, m.Name)
	}
	for _, o := range f.members {
		for _, a := range o.spec.endpoints() {
			for _, b := range m.endpoints() {
				if a == b {
					return control.ServerInfo{}, fmt.Errorf("%w: %s is member %q's", ErrExists, a, o.spec.Name)
				}
			}
		}
	}
	mem, err := f.build(m)
	if err != nil {
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

func (f *Fleet) build(m Member) (*member, error) {
	mem := &member{spec: m}
	if f.opts.StateDir != "" {
		mem.stateDir = filepath.Join(f.opts.StateDir, m.Name)
	}
	// Bind the TCP ports first: they fail fastest and cost nothing to undo.
	type bound struct {
		scheme string
		ln     net.Listener
	}
	var lns []bound
	undo := func() {
		for _, b := range lns {
			b.ln.Close()
		}
	}
	for _, ep := range []struct {
		scheme string
		port   int
	}{{"https", m.HTTPSPort}, {"http", m.HTTPPort}} {
		if ep.port == 0 {
			continue
		}
		addr := netip.AddrPortFrom(m.Addr, uint16(ep.port)).String()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			undo()
			return nil, bindError("tcp", addr, err)
		}
		if ep.scheme == "https" {
			if f.opts.TLS == nil {
				ln.Close()
				undo()
				return nil, errors.New("an HTTPS port but no TLS configuration")
			}
			ln = tls.NewListener(ln, f.opts.TLS)
		}
		lns = append(lns, bound{ep.scheme, ln})
	}
	ipmiAddr := netip.AddrPortFrom(m.Addr, uint16(m.IPMIPort)).String()
	b, err := bmc.New(bmc.Config{
		ID: m.Name, Profile: m.Profile, StateDir: mem.stateDir,
		User: m.User, Password: m.Password,
		Clock: f.opts.Clock, FaultSeed: f.opts.FaultSeed, Logger: f.log,
		IPMIAddr:    ipmiAddr,
		RegistryDir: f.opts.RegistryDir, RequireIfMatch: f.opts.RequireIfMatch,
		EventDestinationAllow: f.opts.EventDestinationAllow,
	})
	if err != nil {
		undo()
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, bindError("udp", ipmiAddr, op)
		}
		return nil, err
	}
	if err := b.Start(f.ctx); err != nil {
		undo()
		_ = b.Close()
		return nil, err
	}
	mem.bmc = b
	errLog := slog.NewLogLogger(f.log.With("member", m.Name).Handler(), slog.LevelWarn)
	for _, l := range lns {
		srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		mem.servers = append(mem.servers, srv)
		mem.urls = append(mem.urls, l.scheme+"://"+l.ln.Addr().String()+"/redfish/v1")
		go func(srv *http.Server, ln net.Listener) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				select {
				case f.errc <- fmt.Errorf("member %s: %w", m.Name, err):
				default:
				}
			}
		}(srv, l.ln)
	}
	return mem, nil
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
	f.mu.Lock()
	f.mu.Unlock()
	mem, ok := f.member(name)
	f.mu.Lock()
	if ok && f.members[mem.spec.Name] == mem {
		delete(f.members, mem.spec.Name)
	} else {
		ok = false
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	err := mem.close()
	if purge && mem.stateDir != "" {
		if e := os.RemoveAll(mem.stateDir); e != nil {
			err = errors.Join(err, fmt.Errorf("purge %s: %w", mem.stateDir, e))
		}
	}
	f.log.Info("member removed", "member", mem.spec.Name, "purged", purge && mem.stateDir != "")
	return err
}

func (m *member) close() error {
	var errs []error
	for _, s := range m.servers {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.bmc.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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
	if lay.SamePorts {
		bump := func(p int) int {
			if p == 0 {
				return 0
			}
			return p + f.added
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
			fail(w, http.StatusNotFound, "NotFound", "no member "+strconv.Quote(r.PathValue("id")))
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

func (f *Fleet) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, pw, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(f.opts.User))&subtle.ConstantTimeCompare([]byte(pw), []byte(f.opts.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="bmcemu fleet"`)
			fail(w, http.StatusUnauthorized, "Unauthorized", "the fleet's credentials are required (HTTP Basic: serve --user/--password)")
			return
		}
		h(w, r)
	}
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

// Package bmc is the composition root of one emulated BMC: the simulated
// server (platform), the state the management controller keeps for itself
// (accounts, SEL) and the surfaces bound to them (IPMI over LAN, Redfish,
// the control API). A single `bmcemu serve` builds one; a fleet builds many.
//
// It only wires: every behaviour lives in platform/, ipmi/ and redfish/.
// The BMC-owned stores are opened here, below both surfaces, and handed to
// each, so that neither surface owns what the other reads.
package bmc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/webui"
	"github.com/bmcemu/bmcemu/ipmi"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/netfault"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/sel"
	"github.com/bmcemu/bmcemu/redfish"
)

// Config describes one BMC. Profile, User, Password and IPMIAddr are
// required.
type Config struct {
	// ID names the BMC in logs and in a fleet; "" for a lone server.
	ID      string
	Profile *profile.Profile
	// StateDir keeps what a real BMC keeps across restarts (inventory,
	// accounts, SEL, LAN alert destinations, event subscriptions); ""
	// keeps nothing.
	StateDir string
	// User and Password seed the administrator account on first start.
	User, Password string
	// Clock drives the hardware steps and the IPMI watchdog; nil is
	// real-hardware pace (clock.Real{Speed: 1}).
	Clock     clock.Clock
	FaultSeed uint64
	Logger    *slog.Logger // nil discards

	// IPMIAddr is the UDP address of IPMI over LAN (RMCP+).
	IPMIAddr string
	// IPMIV15 also accepts IPMI v1.5 sessions (see ipmi.Config.AllowV15).
	IPMIV15 bool
	// HTTPAddr and HTTPSAddr are where the caller's listeners serve
	// Handler ("" for none), as the Manager's NetworkProtocol reports.
	HTTPAddr, HTTPSAddr string
	// Observe, when set, hears of every HTTP request the BMC answers
	// (surface is "redfish", "control" or "ui"): the emulator's metrics.
	Observe func(surface, method string, code int, d time.Duration)
	// PolledIPMI leaves the IPMI socket to the caller's poller, which
	// calls DrainIPMI when IPMISocket is readable; otherwise Start reads
	// it on a goroutine of its own.
	PolledIPMI bool
	// Redfish settings (see redfish.Config).
	RegistryDir           string
	RequireIfMatch        bool
	EventDestinationAllow []netip.Prefix
}

// BMC is one emulated server and its management controller. Its HTTP
// surfaces are a handler (Handler), so listeners can be owned by whoever
// binds addresses: one per server, or shared by a fleet.
type BMC struct {
	id       string
	log      *slog.Logger
	plat     *platform.Platform
	accounts *accounts.Store
	sel      *sel.SEL
	ipmi     *ipmi.Server
	redfish  http.Handler
	handler  http.Handler
	faults   *netfault.Injector

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errc    chan error
	closed  bool
	polled  bool
	logger  *events.Handler // platform events to the log, from Start

	kindMu sync.Mutex
	kinds  map[string]uint64 // platform events by kind
}

// New builds the BMC: boots the simulated server (restoring its saved
// inventory), opens the BMC's stores and binds the IPMI socket. Nothing
// answers until Start. On error everything opened so far is released.
func New(cfg Config) (_ *BMC, err error) {
	if cfg.Profile == nil {
		return nil, errors.New("bmc: no profile")
	}
	if cfg.User == "" || cfg.Password == "" {
		return nil, errors.New("bmc: the administrator's user name and password must not be empty")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{Speed: 1}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ID != "" {
		log = log.With("member", cfg.ID)
	}
	b := &BMC{id: cfg.ID, log: log, errc: make(chan error, 1), polled: cfg.PolledIPMI}
	var closers []io.Closer
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i].Close()
			}
		}
	}()

	popts := platform.Options{Logger: log.With("component", "platform"), Clock: cfg.Clock, FaultSeed: cfg.FaultSeed}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		popts.Store = platform.NewFileInventory(filepath.Join(cfg.StateDir, "inventory.json"))
	}
	if b.plat, err = platform.New(cfg.Profile, popts); err != nil {
		return nil, err
	}

	aopts := accounts.Options{Seed: []accounts.New{{UserName: cfg.User, Password: cfg.Password, Role: accounts.RoleAdministrator, Enabled: true}},
		Logger: log.With("component", "accounts")} // per-address blocking notices and refusal summaries
	if cfg.StateDir != "" {
		aopts.Path = filepath.Join(cfg.StateDir, "accounts.json") // sealing key beside it in accounts.json.key
	}
	if b.accounts, err = accounts.Open(aopts); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}

	// One SEL, two views: IPMI appends and serves it, Redfish presents it
	// as Systems/1/LogServices/SEL.
	selPath := ""
	if cfg.StateDir != "" {
		selPath = filepath.Join(cfg.StateDir, sel.FileName)
	}
	if b.sel, err = sel.Open(sel.Options{Path: selPath, Logger: log.With("log", "SEL")}); err != nil {
		return nil, fmt.Errorf("SEL: %w", err)
	}
	closers = append(closers, b.sel)

	// Protocol faults are the management controller's misbehaviour, one
	// set of rules below both surfaces; a cold reset takes both down.
	b.faults = netfault.New(netfault.Options{Seed: cfg.FaultSeed, Logger: log.With("component", "protocol-faults")})

	b.ipmi, err = ipmi.New(ipmi.Config{
		Addr: cfg.IPMIAddr,
		// Live view of the shared accounts: changes through Redfish apply
		// to the next IPMI session, and IPMI login failures count to
		// lockout.
		Accounts: b.accounts,
		SEL:      b.sel,
		StateDir: cfg.StateDir, // LAN alert destinations
		Logger:   log.With("component", "ipmi"),
		Clock:    cfg.Clock, // the watchdog counts down at the hardware's pace
		AllowV15: cfg.IPMIV15,
		Faults:   b.faults,
	}, b.plat)
	if err != nil {
		return nil, err
	}
	closers = append(closers, b.ipmi)

	rf, err := redfish.New(redfish.Config{
		AccountStore:          b.accounts,
		Logger:                log.With("component", "redfish"),
		SEL:                   b.sel,
		RegistryDir:           cfg.RegistryDir,
		RequireIfMatch:        cfg.RequireIfMatch,
		EventDestinationAllow: cfg.EventDestinationAllow, // nil: loopback only
		StateDir:              cfg.StateDir,              // event subscriptions
		Network:               redfish.NetworkConfig{IPMI: b.ipmi.Addr().String(), HTTP: cfg.HTTPAddr, HTTPS: cfg.HTTPSAddr},
		Faults:                b.faults,
		Observe:               surfaceObserver(cfg.Observe, "redfish"),
	}, b.plat)
	if err != nil {
		return nil, fmt.Errorf("redfish: %w", err)
	}
	b.redfish = rf

	// Only administrators may touch the physical world.
	authenticate := func(src netip.Addr, u, pw string) bool {
		a, err := b.accounts.AuthenticateFrom(src, u, pw)
		return err == nil && a.Role == accounts.RoleAdministrator
	}
	ctl, err := control.New(control.Config{Authenticate: authenticate, Logger: log.With("component", "control"), ProtocolFaults: b.faults}, b.plat)
	if err != nil {
		if c, ok := rf.(io.Closer); ok {
			_ = c.Close()
		}
		return nil, err
	}
	// The web UI logs in through Redfish's sessions and account store
	// and hands its board requests to this same control API.
	ui, err := webui.New(webui.Config{
		Authenticate: func(r *http.Request) (redfish.Principal, error) { return redfish.Authenticate(rf, r) },
		Control:      ctl, Board: b.plat, Events: b.plat, SEL: b.sel, CXL: b.plat,
		Logger: log.With("component", "webui"),
	})
	if err != nil {
		if c, ok := rf.(io.Closer); ok {
			_ = c.Close()
		}
		return nil, err
	}
	// Redfish reports its own requests (Observe above); the control API
	// and the web UI are counted by a wrapper that records the status.
	b.handler = Route(observe(ctl, "control", cfg.Observe), observe(ui, "ui", cfg.Observe), rf)
	return b, nil
}

// Route sends the control API and the web UI their prefixes and
// everything else to Redfish. Each routes, cleans and authenticates its
// own paths; an http.ServeMux in front cost about 3% of a Redfish GET's
// CPU under load for a choice between a few prefixes.
func Route(ctl, ui, rf http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == control.Prefix || strings.HasPrefix(p, control.Prefix+"/"):
			ctl.ServeHTTP(w, r)
		case p == webui.Prefix || strings.HasPrefix(p, webui.Prefix+"/"):
			ui.ServeHTTP(w, r)
		default:
			rf.ServeHTTP(w, r)
		}
	})
}

// ID is the BMC's name in a fleet ("" for a lone server).
func (b *BMC) ID() string { return b.id }

// Handler serves Redfish and the control API.
func (b *BMC) Handler() http.Handler { return b.handler }

// Platform is the simulated server.
func (b *BMC) Platform() *platform.Platform { return b.plat }

// IPMIAddr is the bound IPMI UDP address.
func (b *BMC) IPMIAddr() net.Addr { return b.ipmi.Addr() }

// IPMISocket is the IPMI socket, for a poller (Config.PolledIPMI).
func (b *BMC) IPMISocket() (syscall.RawConn, error) { return b.ipmi.SyscallConn() }

// DrainIPMI answers the IPMI datagrams waiting on the socket without
// blocking (Config.PolledIPMI).
func (b *BMC) DrainIPMI() error { return b.ipmi.Drain() }

// Err reports a surface that stopped on its own after Start.
func (b *BMC) Err() <-chan error { return b.errc }

// Start writes the platform's events to the log and, unless the IPMI
// socket is polled, answers IPMI on a goroutine. It returns at once; Close
// stops both.
func (b *BMC) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("bmc: start after close")
	}
	if b.started {
		return errors.New("bmc: started twice")
	}
	b.started = true
	ctx, b.cancel = context.WithCancel(ctx)
	b.logger = b.plat.Handle("log", 1024, b.logEvent)
	if b.polled {
		return nil
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.ipmi.Serve(ctx); err != nil {
			select {
			case b.errc <- fmt.Errorf("ipmi: %w", err):
			default:
			}
		}
	}()
	return nil
}

// Close stops the surfaces and closes the BMC's stores. Everything
// acknowledged is already on disk; Close only releases. Safe to call more
// than once.
func (b *BMC) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
	var errs []error
	if err := b.ipmi.Close(); err != nil {
		errs = append(errs, err)
	}
	b.wg.Wait()
	if b.logger != nil {
		b.logger.Close()
	}
	if c, ok := b.redfish.(io.Closer); ok {
		if err := c.Close(); err != nil { // stops event delivery and SSE streams
			errs = append(errs, fmt.Errorf("redfish: %w", err))
		}
	}
	if err := b.sel.Close(); err != nil {
		errs = append(errs, fmt.Errorf("SEL: %w", err))
	}
	return errors.Join(errs...)
}

// logEvent writes a platform event to the log, the operator's view of
// what happened inside the server independent of either BMC surface, and
// counts it by kind for the metrics.
func (b *BMC) logEvent(r events.Record) {
	b.log.Info("platform event", "seq", r.Seq, "kind", r.Event.Kind(), "event", r.Event)
	b.kindMu.Lock()
	if b.kinds == nil {
		b.kinds = map[string]uint64{}
	}
	b.kinds[r.Event.Kind()]++
	b.kindMu.Unlock()
}

// Stats is what the metrics read of one BMC at scrape time.
type Stats struct {
	IPMI    ipmi.Stats
	Redfish redfish.Stats
	SEL     sel.Info
	// InstalledBytes is the memory seated; OnlineBytes the OS's MemTotal.
	InstalledBytes, OnlineBytes uint64
	// Events counts platform events by kind since Start.
	Events map[string]uint64
	// ProtocolFaults counts injected protocol faults by surface and kind;
	// ColdResets the BMC's cold resets by cause (command, fault).
	ProtocolFaults []netfault.Counter
	ColdResets     map[string]uint64
}

// Stats reads the BMC's counters and levels.
func (b *BMC) Stats() Stats {
	snap := b.plat.Snapshot()
	st := Stats{IPMI: b.ipmi.Stats(), SEL: b.sel.Info(),
		InstalledBytes: snap.InstalledMiB() << 20, OnlineBytes: snap.Kernel.TotalRAMBytes}
	st.Redfish, _ = redfish.StatsOf(b.redfish)
	st.ProtocolFaults, st.ColdResets = b.faults.Totals()
	b.kindMu.Lock()
	st.Events = make(map[string]uint64, len(b.kinds))
	for k, v := range b.kinds {
		st.Events[k] = v
	}
	b.kindMu.Unlock()
	return st
}

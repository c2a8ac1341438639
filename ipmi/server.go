// Package ipmi is the IPMI-over-LAN (RMCP+) face of one emulated server. It
// embeds go-ipmi's reference BMC and backs it with a HAL that reads the
// platform's snapshots at request time: chassis power, FRU inventory (the
// board plus one FRU per seated DIMM), an SDR repository with one Memory
// sensor per slot, and the sensor commands go-ipmi lacks.
//
// By default only IPMI v2.0 sessions with cipher suites 3 and 17 are
// accepted: v1.5 sessions and cipher suite 0 authenticate weakly or not at
// all and carry commands in clear, which no modern BMC should offer by
// default. Config.AllowV15 opts in to v1.5 sessions with MD5
// authentication for older management tools (ipmitool -I lan); cipher
// suite 0 stays off.
package ipmi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/transport"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// Platform is what the IPMI surface needs from the simulated server.
type Platform interface {
	Snapshot() *platform.Snapshot
	SetPower(on bool) error
	HostReset() error
	SetBootOverride(platform.BootOverride) error
}

// User is one BMC account. Privilege is "administrator", "operator" or "user".
type User struct {
	Name, Password string
	Privilege      string
}

// Config configures New. Only Addr and Users are required.
type Config struct {
	Addr   string // UDP listen address, e.g. "127.0.0.1:6230"
	Users  []User
	Logger *slog.Logger // nil discards logs

	// SEL is the BMC's System Event Log, owned by the caller (the BMC
	// keeps it below both surfaces: Redfish reads the same log) and not
	// closed by Close. Nil opens one from StateDir, SELCapacity and
	// SELPolicy that the server owns.
	SEL *sel.SEL
	// StateDir holds the durable SEL (sel.journal) when SEL is nil, and
	// the LAN alert destinations; "" keeps them in memory, lost at exit.
	StateDir string
	// SELCapacity is the SEL size in entries; 0 is sel.DefaultCapacity
	// (3,639 entries of 16 bytes).
	SELCapacity int
	// SELPolicy is what a full SEL does with a new entry: "wrap" (default)
	// overwrites the oldest, "stop" refuses it. Both set the overflow flag.
	SELPolicy string
	// PETPort is the UDP port PET alerts are sent to; 0 is 162.
	PETPort int
	// Accounts, when set, replaces Users: IPMI authenticates against the
	// shared account store live (see Accounts), and failed logins count
	// towards its lockout. If it also implements AccountWriter, ipmitool
	// user set name/password/priv and user enable/disable write back.
	Accounts Accounts
	// Clock times the watchdog and handshake bookkeeping; nil is the real
	// clock.
	Clock clock.Clock
	// AllowV15 accepts IPMI v1.5 LAN sessions (ipmitool -I lan) with MD5
	// authentication, for older management tools. Off by default: v1.5
	// keys its MD5 AuthCode with the bare password (an eavesdropper can
	// test guesses offline against any captured packet), offers no
	// encryption, and carries only 16-byte passwords, so accounts with
	// longer ones cannot use it (IPMI v2.0 section 22.30). Straight
	// password and "none" authentication are never offered.
	AllowV15 bool
	// Faults is the BMC's protocol fault injector; nil injects nothing
	// and Cold Reset is refused as an invalid command (C1h).
	Faults Faults
	// ColdReset is how long a Cold Reset command keeps the BMC silent;
	// 0 is 10 s.
	ColdReset time.Duration
}

// maxSessions is how many RMCP+ sessions may be open at once.
const maxSessions = 32

// openSEL opens the SEL journal at path ("" keeps it in memory) with the
// given capacity (0: sel.DefaultCapacity) and full-log policy ("wrap" or
// "stop"; "" is wrap).
func openSEL(path string, capacity int, policy string, log *slog.Logger) (*sel.SEL, error) {
	pol, err := sel.ParsePolicy(policy)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return sel.Open(sel.Options{Path: path, Capacity: capacity, Policy: pol, Logger: log.With("log", "SEL")})
}

// Server is one IPMI LAN endpoint.
type Server struct {
	log     *slog.Logger
	conn    *net.UDPConn
	sc      *sessionConn
	m       *machine
	ownSEL  bool            // Close closes the SEL
	events  *events.Handler // nil: the platform publishes no events
	serving atomic.Bool
}

// lanChannel is the channel go-ipmi's default channel store gives the LAN.
const lanChannel = 1

// cipherSuites are the RMCP+ suites offered: HMAC-SHA1/AES-128 and
// HMAC-SHA256/AES-128. Suite 0 (no authentication) is deliberately absent.
var cipherSuites = []types.CipherSuiteID{types.CipherSuiteID3, types.CipherSuiteID17}

// New validates cfg, binds the UDP socket and prepares the BMC. Call Serve to
// start answering.
func New(cfg Config, p Platform) (*Server, error) {
	if p == nil {
		return nil, errors.New("ipmi: platform is nil")
	}
	if cfg.Addr == "" {
		return nil, errors.New("ipmi: config: Addr is empty (want host:port, e.g. 127.0.0.1:623)")
	}
	var users []validUser
	if cfg.Accounts == nil {
		var err error
		if users, err = validateUsers(cfg.Users); err != nil {
			return nil, fmt.Errorf("ipmi: config: %w", err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("surface", "ipmi")

	selPath := "(owned by the BMC)"
	if cfg.SEL == nil {
		selPath = ""
		if cfg.StateDir != "" {
			selPath = filepath.Join(cfg.StateDir, sel.FileName)
		}
	}
	var clk clock.Clock = clock.Real{}
	if cfg.Clock != nil {
		clk = cfg.Clock
	}
	m := newMachine(p, log)
	m.setClock(clk)
	m.pef.port = cmp.Or(cfg.PETPort, defaultPETPort)
	m.faults, m.coldReset = cfg.Faults, cmp.Or(cfg.ColdReset, defaultColdReset)
	if cfg.StateDir != "" {
		if err := m.pef.load(filepath.Join(cfg.StateDir, pefFile)); err != nil {
			return nil, fmt.Errorf("ipmi: %w", err)
		}
	}
	ownSEL := cfg.SEL == nil
	if ownSEL {
		var err error
		if m.sel, err = openSEL(selPath, cfg.SELCapacity, cfg.SELPolicy, log); err != nil {
			return nil, fmt.Errorf("ipmi: %w", err)
		}
	} else {
		m.sel = cfg.SEL
	}
	ok := false
	defer func() {
		if !ok && ownSEL {
			_ = m.sel.Close()
		}
	}()
	snap := p.Snapshot()
	if n := len(snap.Slots); n > maxSlots {
		log.Warn("board has more DIMM slots than IPMI entity instances allow; the extra slots get no sensor or FRU",
			"slots", n, "described", maxSlots)
	}

	b, err := newBMC(m, users, cfg.AllowV15)
	if err != nil {
		return nil, err
	}
	if cfg.AllowV15 {
		log.Warn("IPMI v1.5 sessions enabled (MD5 authentication): the password-keyed MD5 AuthCode can be attacked offline from captured packets and commands travel unencrypted; use only on a trusted network")
	}
	var live *liveUsers
	var extra []command
	if cfg.Accounts != nil {
		b.Users = bmc.NewUserStore(bmc.WithMaxUsers(accountUsers))
		live = newLiveUsers(cfg.Accounts, b.Users, clk, log)
		live.v15 = cfg.AllowV15
		live.sync(true)
		w, _ := cfg.Accounts.(AccountWriter)
		extra = userCommands(live, w, log)
	}

	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ipmi: resolve %q: %w", cfg.Addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("ipmi: listen on %s: %w", cfg.Addr, err)
	}
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	m.lan = newLANInfo(la, snap)

	reg := newRegistry(m, log, extra...)
	var pc transport.PacketConn = conn
	var inbound func([]byte, net.Addr) ([]byte, bool)
	if live != nil {
		pc, inbound = tapConn{UDPConn: conn, live: live}, live.inbound
	}
	s := &Server{
		log:    log,
		conn:   conn,
		sc:     newSessionConn(conn, pc, inbound, b, reg),
		m:      m,
		ownSEL: ownSEL,
	}
	if cfg.Faults != nil {
		s.sc.faults = cfg.Faults
		cfg.Faults.OnReset(s.sc.resetSessions)
	}
	// Subscribe now, so that no event between the seeding below and the
	// first packet is missed; the pump waits for the seeding.
	pump := &selPump{m: m, ready: make(chan struct{})}
	if src, isSource := p.(eventSource); isSource {
		s.events = src.Handle("ipmi-sel", 4096, pump.handle)
	}
	// After subscribing: what is already true at start-up is not news.
	m.states.seed(p.Snapshot())
	m.logBootRAS(p.Snapshot())
	close(pump.ready)
	info := m.sel.Info()
	log.Info("IPMI LAN listening", "addr", conn.LocalAddr().String(), "users", b.Users.CountEnabled()-1, "live_accounts", cfg.Accounts != nil,
		"sel", cmp.Or(selPath, "(in memory)"), "sel_entries", info.Entries, "sel_capacity", info.Capacity, "sel_policy", info.Policy)
	ok = true
	return s, nil
}

// Addr is the bound UDP address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Serve answers packets until ctx is done or Close is called, reading the
// socket on the calling goroutine. A clean shutdown returns nil. A server
// is either Served or Drained by a poller, not both.
func (s *Server) Serve(ctx context.Context) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("ipmi: Serve called twice, or after Drain")
	}
	// The reader blocks in the socket and notices ctx only when the
	// socket is closed.
	stop := context.AfterFunc(ctx, func() { _ = s.sc.Close() })
	defer stop()
	if err := s.sc.serve(); err != nil {
		return fmt.Errorf("ipmi: serve: %w", err)
	}
	return nil
}

// SyscallConn is the socket, for a poller that watches many servers'
// sockets with one goroutine and calls Drain when one is readable.
func (s *Server) SyscallConn() (syscall.RawConn, error) { return s.conn.SyscallConn() }

// Drain answers every datagram waiting on the socket and returns without
// blocking: with a poller, a server costs no goroutine while it is idle.
// Calls must not overlap with each other or with Serve.
func (s *Server) Drain() error {
	s.serving.Store(true) // Serve would now compete for the socket
	for {
		n, err := s.sc.readBatch(msgDontWait)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Like a blocking reader, step over a transient error (an
			// ICMP-reported unreachable peer, say).
			continue
		}
		// A short batch emptied the socket, as far as a further read could
		// tell: skip the read that would only say EAGAIN. The poller's
		// level-triggered re-arm reports anything that came meanwhile.
		if n < readBatch {
			return nil
		}
	}
}

// Close stops the server and releases the socket. It is safe to call more
// than once and before Serve.
func (s *Server) Close() error {
	if s.events != nil {
		s.events.Close()
	}
	if err := s.sc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ipmi: close: %w", err)
	}
	s.m.stopWatchdog()
	s.m.pef.close()
	if !s.ownSEL {
		return nil
	}
	if err := s.m.sel.Close(); err != nil {
		return fmt.Errorf("ipmi: close SEL: %w", err)
	}
	return nil
}

// Stats are the server's counters and levels, read by the emulator's
// metrics at scrape time.
type Stats struct {
	Packets    uint64 // datagrams read
	Commands   uint64 // in-session commands answered
	Handshakes uint64 // datagrams for go-ipmi's loop: session set-up, pre-session commands, SOL
	Sessions   int    // open RMCP+ sessions
}

// Stats reads the server's Stats.
func (s *Server) Stats() Stats {
	return Stats{Packets: s.sc.packets.Load(), Commands: s.sc.answered.Load(), Handshakes: s.sc.slowPackets.Load(),
		Sessions: s.sc.b.Sessions.Count()}
}

// SEL is the server's System Event Log, for surfaces that present it (the
// Redfish LogService reads it through sel.Log).
func (s *Server) SEL() *sel.SEL { return s.m.sel }

// newBMC builds go-ipmi's BMC state over m with the configured accounts,
// and IPMI v1.5 sessions (MD5 only) when allowV15.
func newBMC(m *machine, users []validUser, allowV15 bool) (*bmc.BMC, error) {
	v15 := bmc.WithV15Disabled()
	if allowV15 {
		v15 = bmc.WithV15AuthTypes([]bmc.V15AuthType{bmc.V15AuthTypeMD5})
	}
	b := bmc.New(deviceInfo(m.p.Snapshot()), deviceGUID(m.p.Snapshot()), m,
		bmc.WithCipherSuites(cipherSuites), v15)
	// go-ipmi allows the spec minimum of 4 sessions; monitoring fleets and
	// the throughput benchmark open more.
	b.Sessions = bmc.NewSessionStoreWithOptions(b.Clock(), bmc.WithMaxSessions(maxSessions))
	b.Sessions.SetOnRemove(b.SOL.DeactivateBySession)
	for i, u := range users {
		// ID 1 is the anonymous user in IPMI; named accounts start at 2.
		bu, err := b.Users.Add(uint8(i+2), u.Name)
		if err != nil {
			return nil, fmt.Errorf("ipmi: add user %q: %w", u.Name, err)
		}
		bu.SetPassword([]byte(u.Password))
		bu.Enabled = true
		bu.ChannelAccess[lanChannel] = bmc.UserChannelAccess{MaxPrivilege: u.priv, Enabled: true}
	}
	return b, nil
}

type validUser struct {
	User
	priv bmc.PrivilegeLevel
}

var privileges = map[string]bmc.PrivilegeLevel{
	"administrator": bmc.PrivilegeLevelAdministrator,
	"operator":      bmc.PrivilegeLevelOperator,
	"user":          bmc.PrivilegeLevelUser,
}

// validateUsers enforces the limits the IPMI wire format imposes, so a bad
// account fails at start-up rather than as an obscure RAKP error later.
func validateUsers(users []User) ([]validUser, error) {
	if len(users) == 0 {
		return nil, errors.New("no users: IPMI over LAN needs at least one account")
	}
	if len(users) > bmc.MaxUsers-1 {
		return nil, fmt.Errorf("%d users: at most %d fit in the user table", len(users), bmc.MaxUsers-1)
	}
	seen := map[string]bool{}
	out := make([]validUser, 0, len(users))
	for i, u := range users {
		switch {
		case u.Name == "":
			return nil, fmt.Errorf("users[%d]: name is empty", i)
		case len(u.Name) > bmc.MaxUserNameLen:
			return nil, fmt.Errorf("users[%d]: name %q is %d bytes (IPMI allows %d)", i, u.Name, len(u.Name), bmc.MaxUserNameLen)
		case !printableASCII(u.Name):
			return nil, fmt.Errorf("users[%d]: name %q must be printable ASCII", i, u.Name)
		case seen[u.Name]:
			return nil, fmt.Errorf("users[%d]: duplicate name %q", i, u.Name)
		case u.Password == "":
			return nil, fmt.Errorf("users[%d] (%s): password is empty", i, u.Name)
		case len(u.Password) > bmc.MaxPasswordLen:
			return nil, fmt.Errorf("users[%d] (%s): password is %d bytes (IPMI 2.0 allows %d)", i, u.Name, len(u.Password), bmc.MaxPasswordLen)
		}
		priv, ok := privileges[strings.ToLower(u.Privilege)]
		if !ok {
			return nil, fmt.Errorf("users[%d] (%s): privilege %q (want administrator, operator or user)", i, u.Name, u.Privilege)
		}
		seen[u.Name] = true
		out = append(out, validUser{User: u, priv: priv})
	}
	return out, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bmcemu/bmcemu/ipmi"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/redfish"
)

type serveOptions struct {
	profileFile string
	redfishAddr string
	ipmiAddr    string
	user        string
	password    string
	stateDir    string
	ephemeral   bool
	logLevel    string
	logFormat   string
	tlsAddr     string
	tlsCert     string
	tlsKey      string
	speed       float64
	faultSeed   uint64
	eventAllow  []string
	registryDir string
	// requireIfMatch makes an unconditional PATCH fail with 428, as BMCs
	// that guard against lost updates do; off by default because most
	// clients (redfishtool, Ansible) PATCH without If-Match.
	requireIfMatch bool
}

// route sends the control API its prefix and everything else to Redfish.
// Each side routes, cleans and authenticates its own paths; an
// http.ServeMux in front cost about 3% of a Redfish GET's CPU under load
// for a choice between two prefixes.
func route(ctl, rf http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == control.Prefix || strings.HasPrefix(p, control.Prefix+"/") {
			ctl.ServeHTTP(w, r)
			return
		}
		rf.ServeHTTP(w, r)
	})
}

func defaultStateDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "bmcemu")
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "bmcemu")
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run one emulated server: Redfish + control API over HTTP, IPMI over LAN (RMCP+)",
		Long: `Run one emulated server. With no flags it boots the embedded default
profile (2 sockets x 8 channels x 2 slots, 16 x 32 GiB DDR5 RDIMMs) with
Redfish and the control API on http://127.0.0.1:8000 and IPMI lanplus on
UDP 127.0.0.1:6230, account admin / password.

Every flag can also be set through the environment as BMCEMU_<FLAG>, with
dashes as underscores (BMCEMU_IPMI_ADDR=127.0.0.1:623).`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return flagsFromEnv(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profileFile, "profile", "", "server profile: a YAML file, or a built-in name (default, mirror, sparing, raid5)")
	f.StringVar(&o.redfishAddr, "redfish-addr", "127.0.0.1:8000", "HTTP listen address for Redfish and the control API (empty: off)")
	f.StringVar(&o.tlsAddr, "redfish-tls-addr", "127.0.0.1:8443", "HTTPS listen address for Redfish and the control API (empty: off)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate for HTTPS (default: a self-signed one kept in the state directory)")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key matching --tls-cert")
	f.StringSliceVar(&o.eventAllow, "event-destination-allow", nil, "networks (CIDR) Redfish event subscriptions may deliver to (default: loopback only)")
	f.StringVar(&o.registryDir, "redfish-registry-dir", "", "folder of DMTF message registries to serve under /redfish/v1/Registries (default: link to dmtf.org)")
	f.BoolVar(&o.requireIfMatch, "redfish-require-if-match", false, "refuse a Redfish PATCH without If-Match (428 PreconditionRequired)")
	f.StringVar(&o.ipmiAddr, "ipmi-addr", "127.0.0.1:6230", "UDP listen address for IPMI over LAN (RMCP+)")
	f.StringVar(&o.user, "user", "admin", "administrator account created on first start (Redfish, IPMI, control API; at most 16 characters)")
	f.StringVar(&o.password, "password", "password", "its password (at most 20 bytes); later starts keep the saved accounts")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir(), "directory for durable state (a subdirectory per profile)")
	f.BoolVar(&o.ephemeral, "ephemeral", false, "keep no state on disk: every start is a fresh server")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.Float64Var(&o.speed, "speed", 1, "virtual clock speed for hardware steps: 1 is real-hardware pace (a DIMM hot-add takes seconds), 1000 runs them a thousand times faster")
	f.Uint64Var(&o.faultSeed, "fault-seed", 0, "seed for injected faults' random details (which lane, which bit, how much bus noise)")
	return cmd
}

// flagsFromEnv fills flags the user did not set from BMCEMU_* variables, so
// fleets can be configured without building argument lists.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if err != nil || fl.Changed {
			return
		}
		key := "BMCEMU_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := fs.Set(fl.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", key, v, e)
			}
		}
	})
	return err
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func serve(ctx context.Context, o *serveOptions, stdout, stderr io.Writer) error {
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	if o.user == "" || o.password == "" {
		return errors.New("--user and --password must not be empty")
	}
	prof := profile.Default()
	if o.profileFile != "" {
		if prof, err = loadProfile(o.profileFile); err != nil {
			return err
		}
	}

	if !(o.speed > 0) {
		return fmt.Errorf("--speed %v: must be greater than 0", o.speed)
	}
	clk := clock.Real{Speed: o.speed}
	opts := platform.Options{Logger: log.With("component", "platform"), Clock: clk, FaultSeed: o.faultSeed}
	stateDir := "(none: --ephemeral)"
	if !o.ephemeral {
		stateDir = filepath.Join(o.stateDir, prof.Name)
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		opts.Store = platform.NewFileInventory(filepath.Join(stateDir, "inventory.json"))
	}
	plat, err := platform.New(prof, opts)
	if err != nil {
		return err
	}

	acctOpts := accounts.Options{Seed: []accounts.New{{UserName: o.user, Password: o.password, Role: accounts.RoleAdministrator, Enabled: true}}}
	if !o.ephemeral {
		acctOpts.Path = filepath.Join(stateDir, "accounts.json") // sealing key beside it in accounts.json.key
	}
	acctStore, err := accounts.Open(acctOpts)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	// Only administrators may touch the physical world.
	authenticate := func(u, pw string) bool {
		a, err := acctStore.Authenticate(u, pw)
		return err == nil && a.Role == accounts.RoleAdministrator
	}
	ctl, err := control.New(control.Config{Authenticate: authenticate, Logger: log.With("component", "control")}, plat)
	if err != nil {
		return err
	}
	var allow []netip.Prefix
	for _, a := range o.eventAllow {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			return fmt.Errorf("--event-destination-allow %q: %w", a, err)
		}
		allow = append(allow, pfx)
	}

	if o.redfishAddr == "" && o.tlsAddr == "" {
		return errors.New("--redfish-addr and --redfish-tls-addr are both empty: nothing would serve Redfish")
	}
	// Bind everything before announcing anything, so a port clash fails the
	// start instead of half-starting.
	var listeners []*httpListener
	defer func() {
		for _, l := range listeners {
			l.ln.Close()
		}
	}()
	if o.redfishAddr != "" {
		ln, err := net.Listen("tcp", o.redfishAddr)
		if err != nil {
			return fmt.Errorf("redfish listener: %w", err)
		}
		listeners = append(listeners, &httpListener{scheme: "http", ln: ln})
	}
	if o.tlsAddr != "" {
		certDir := stateDir
		if o.ephemeral {
			if certDir, err = os.MkdirTemp("", "bmcemu-tls-"); err != nil {
				return fmt.Errorf("https certificate: %w", err)
			}
			defer os.RemoveAll(certDir)
		}
		cfg, err := tlsConfig(o.tlsCert, o.tlsKey, certDir)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", o.tlsAddr)
		if err != nil {
			return fmt.Errorf("https listener: %w", err)
		}
		listeners = append(listeners, &httpListener{scheme: "https", ln: tls.NewListener(ln, cfg)})
	}
	ipmiCfg := ipmi.Config{
		Addr: o.ipmiAddr,
		// Live view of the shared accounts: changes through Redfish apply to
		// the next IPMI session, and IPMI login failures count to lockout.
		Accounts: acctStore,
		Logger:   log.With("component", "ipmi"),
		Clock:    clk, // the watchdog counts down at the same --speed as the hardware
	}
	if !o.ephemeral {
		ipmiCfg.StateDir = stateDir // the SEL journal lives beside the inventory
	}
	ipmiSrv, err := ipmi.New(ipmiCfg, plat)
	if err != nil {
		return fmt.Errorf("ipmi: %w", err)
	}
	// Redfish reads the SEL IPMI keeps: one log, two views.
	rfCfg := redfish.Config{
		AccountStore:          acctStore,
		Logger:                log.With("component", "redfish"),
		SEL:                   ipmiSrv.SEL(),
		RegistryDir:           o.registryDir,
		RequireIfMatch:        o.requireIfMatch,
		EventDestinationAllow: allow, // nil: loopback only
	}
	if !o.ephemeral {
		rfCfg.StateDir = stateDir // event subscriptions
	}
	rf, err := redfish.New(rfCfg, plat)
	if err != nil {
		ipmiSrv.Close()
		return fmt.Errorf("redfish: %w", err)
	}
	if c, ok := rf.(io.Closer); ok {
		defer c.Close() // stops event delivery and SSE streams
	}
	mux := route(ctl, rf)

	errc := make(chan error, len(listeners)+1)
	for _, l := range listeners {
		l.srv = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func(l *httpListener) {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", l.scheme, err)
			}
		}(l)
	}
	go func() {
		if err := ipmiSrv.Serve(ctx); err != nil {
			errc <- fmt.Errorf("ipmi: %w", err)
		}
	}()
	go logEvents(ctx, plat, log)

	snap := plat.Snapshot()
	pw := "(as given)"
	if o.password == "password" {
		pw = "password"
	}
	fmt.Fprintf(stdout, "bmcemu %s: serving profile %q: %d slots, %d populated, %d GiB installed\n",
		version, prof.Name, len(snap.Slots), snap.Populated(), snap.InstalledMiB()/1024)
	for _, l := range listeners {
		base := l.scheme + "://" + l.ln.Addr().String()
		fmt.Fprintf(stdout, "  Redfish  %s/redfish/v1\n", base)
		fmt.Fprintf(stdout, "  Control  %s%s   (bmcemu ctl --server %s ...)\n", base, control.Prefix, base)
	}
	fmt.Fprintf(stdout, "  IPMI     lanplus udp %s   (ipmitool -I lanplus -H %s -p %s -U %s -P %s mc info)\n",
		ipmiSrv.Addr(), hostOf(ipmiSrv.Addr().String()), portOf(ipmiSrv.Addr().String()), o.user, pw)
	fmt.Fprintf(stdout, "  Account  %s / %s   (created on first start; later starts keep saved accounts)\n", o.user, pw)
	fmt.Fprintf(stdout, "  State    %s\n", stateDir)
	fmt.Fprintln(stdout, "ready")

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("listener failed; shutting down", "err", runErr)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range listeners {
		if err := l.srv.Shutdown(shutCtx); err != nil {
			log.Warn(l.scheme+" shutdown", "err", err)
		}
	}
	listeners = nil
	if err := ipmiSrv.Close(); err != nil {
		log.Warn("ipmi shutdown", "err", err)
	}
	return runErr
}

type httpListener struct {
	scheme string
	ln     net.Listener
	srv    *http.Server
}

// tlsConfig uses the operator's certificate when given, otherwise a
// self-signed one generated once and kept in dir.
func tlsConfig(certFile, keyFile, dir string) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case certFile != "" && keyFile != "":
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	case certFile != "" || keyFile != "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	default:
		cert, err = redfish.LoadOrCreateCertificate(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("https certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}

// logEvents writes every platform event to the log: the operator's view of
// what happened inside the server, independent of either BMC surface.
func logEvents(ctx context.Context, p *platform.Platform, log *slog.Logger) {
	sub := p.Subscribe("log", 1024)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case r, ok := <-sub.C:
			if !ok {
				return
			}
			log.Info("platform event", "seq", r.Seq, "kind", r.Event.Kind(), "event", r.Event)
		}
	}
}

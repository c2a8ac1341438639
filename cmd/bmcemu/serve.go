package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/gcfloor"
	"github.com/bmcemu/bmcemu/cmd/internal/httplimit"
	"github.com/bmcemu/bmcemu/cmd/internal/metrics"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/redfish"
)

type serveOptions struct {
	// progress: standard error is a terminal that may show a bar (fleet
	// start); term is that terminal once serve has wrapped it.
	progress    bool
	term        *termLog
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
	ipmiV15        bool

	// A fleet: --fleet N or --fleet-file FILE.
	fleetN         int
	fleetFile      string
	fleetSeed      uint64
	fleetAddr      string
	fleetSamePorts bool
	controlAddr    string
	memberIPMI     int
	memberHTTPS    int
	memberHTTP     int
	shard          string
	metrics        bool
	pprof          bool
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
			o.progress = progressWanted(cmd)
			return serve(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profileFile, "profile", "", "server profile: a YAML file, or a built-in name ("+strings.Join(profile.BuiltinNames(), ", ")+")")
	f.StringVar(&o.redfishAddr, "redfish-addr", "127.0.0.1:8000", "HTTP listen address for Redfish and the control API (empty: off)")
	f.StringVar(&o.tlsAddr, "redfish-tls-addr", "127.0.0.1:8443", "HTTPS listen address for Redfish and the control API (empty: off)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate for HTTPS (default: a self-signed one kept in the state directory)")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key matching --tls-cert")
	f.StringSliceVar(&o.eventAllow, "event-destination-allow", nil, "networks (CIDR) Redfish event subscriptions may deliver to (default: loopback only)")
	f.StringVar(&o.registryDir, "redfish-registry-dir", "", "folder of DMTF message registries to serve under /redfish/v1/Registries (default: link to dmtf.org)")
	f.BoolVar(&o.requireIfMatch, "redfish-require-if-match", false, "refuse a Redfish PATCH without If-Match (428 PreconditionRequired)")
	f.StringVar(&o.ipmiAddr, "ipmi-addr", "127.0.0.1:6230", "UDP listen address for IPMI over LAN (RMCP+)")
	f.BoolVar(&o.ipmiV15, "ipmi-v15", false, "also accept IPMI v1.5 sessions with MD5 (ipmitool -I lan) for older tools; weak, off by default")
	f.StringVar(&o.user, "user", "admin", "administrator account created on first start (Redfish, IPMI, control API; at most 16 characters)")
	f.StringVar(&o.password, "password", "password", "its password (at most 20 bytes); later starts keep the saved accounts")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir(), "directory for durable state (a subdirectory per profile)")
	f.BoolVar(&o.ephemeral, "ephemeral", false, "keep no state on disk: every start is a fresh server")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.Float64Var(&o.speed, "speed", 1, "virtual clock speed for hardware steps: 1 is real-hardware pace (a DIMM hot-add takes seconds), 1000 runs them a thousand times faster")
	f.Uint64Var(&o.faultSeed, "fault-seed", 0, "seed for injected faults' random details (which lane, which bit, how much bus noise)")

	f.IntVar(&o.fleetN, "fleet", 0, "run a fleet of N members of --profile (bmc-001 ...), each a complete BMC on its own address from --fleet-addr")
	f.StringVar(&o.fleetFile, "fleet-file", "", "run the fleet a YAML fleet file describes (members, profiles, overrides, addresses)")
	f.Uint64Var(&o.fleetSeed, "fleet-seed", 1, "seed every member's identity (serial numbers, UUIDs, GUIDs, MACs, SPD serials) derives from; a fleet file's seed wins")
	f.StringVar(&o.fleetAddr, "fleet-addr", "127.0.1.1", "first member's address; each next member takes the next address (127.0.0.0/8 needs no setup on Linux)")
	f.BoolVar(&o.fleetSamePorts, "fleet-same-address", false, "put every member on --fleet-addr, on consecutive ports from the --member-*-port ones")
	f.StringVar(&o.controlAddr, "control-addr", "127.0.0.1:8000", "fleet: HTTP address of the control API (membership, and each member's API under /emulator/v1/servers/{id})")
	f.IntVar(&o.memberIPMI, "member-ipmi-port", 623, "fleet: each member's IPMI UDP port")
	f.IntVar(&o.memberHTTPS, "member-https-port", 443, "fleet: each member's Redfish HTTPS port (0: none)")
	f.IntVar(&o.memberHTTP, "member-http-port", 0, "fleet: each member's Redfish HTTP port (0: none)")
	f.BoolVar(&o.metrics, "metrics", true, "serve Prometheus metrics at /metrics (unauthenticated, read-only; the fleet's control listener, or the Redfish listeners of a lone server)")
	f.BoolVar(&o.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ beside /metrics (unauthenticated: only on trusted addresses)")
	f.StringVar(&o.shard, "shard", "", "fleet: run only the INDEX-th of COUNT contiguous member ranges (INDEX/COUNT; auto/COUNT takes INDEX from a StatefulSet pod's hostname)")
	_ = cmd.RegisterFlagCompletionFunc("profile", builtinProfiles)
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
	if o.progress {
		o.term = &termLog{w: stderr}
		stderr = o.term
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	if o.user == "" || o.password == "" {
		return errors.New("--user and --password must not be empty")
	}
	if !(o.speed > 0) {
		return fmt.Errorf("--speed %v: must be greater than 0", o.speed)
	}
	var allow []netip.Prefix
	for _, a := range o.eventAllow {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			return fmt.Errorf("--event-destination-allow %q: %w", a, err)
		}
		allow = append(allow, pfx)
	}
	// A server's live heap is small next to what its requests allocate:
	// see gcfloor.
	defer gcfloor.Start()()
	if o.fleetN != 0 || o.fleetFile != "" {
		return serveFleet(ctx, o, allow, log, stdout)
	}
	prof := profile.Default()
	if o.profileFile != "" {
		if prof, err = profile.Open(o.profileFile); err != nil {
			return err
		}
	}
	stateDir := ""
	if !o.ephemeral {
		stateDir = filepath.Join(o.stateDir, prof.Name)
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
	// One set of connection caps for both listeners: they share the
	// process's memory.
	limit := httplimit.New(httplimit.Defaults, log.With("component", "http"))
	if o.redfishAddr != "" {
		ln, err := net.Listen("tcp", o.redfishAddr)
		if err != nil {
			return fmt.Errorf("redfish listener: %w", err)
		}
		listeners = append(listeners, &httpListener{scheme: "http", ln: limit.Listener(ln)})
	}
	if o.tlsAddr != "" {
		cfg, cleanup, err := serverTLS(o, stateDir)
		if err != nil {
			return err
		}
		defer cleanup()
		ln, err := net.Listen("tcp", o.tlsAddr)
		if err != nil {
			return fmt.Errorf("https listener: %w", err)
		}
		listeners = append(listeners, &httpListener{scheme: "https", ln: tls.NewListener(limit.Listener(ln), cfg)})
	}
	var b *bmc.BMC
	var mx *metrics.Metrics
	var observe func(string, string, int, time.Duration)
	if o.metrics {
		mx = metrics.New(func() []*bmc.BMC { return []*bmc.BMC{b} })
		observe = mx.Observer("bmc")
	}
	var httpAddr, httpsAddr string
	for _, l := range listeners {
		if l.scheme == "https" {
			httpsAddr = l.ln.Addr().String()
		} else {
			httpAddr = l.ln.Addr().String()
		}
	}
	b, err = bmc.New(bmc.Config{
		Observe: observe, HTTPAddr: httpAddr, HTTPSAddr: httpsAddr,
		Profile: prof, StateDir: stateDir, User: o.user, Password: o.password,
		Clock: clock.Real{Speed: o.speed}, FaultSeed: o.faultSeed, Logger: log,
		IPMIAddr:    o.ipmiAddr,
		IPMIV15:     o.ipmiV15,
		RegistryDir: o.registryDir, RequireIfMatch: o.requireIfMatch, EventDestinationAllow: allow,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Start(ctx); err != nil {
		return err
	}

	errc := make(chan error, len(listeners)+1)
	for _, l := range listeners {
		l.srv = httplimit.Server(withDiagnostics(b.Handler(), mx, o.pprof), log)
		l.srv.ConnContext = redfish.ConnContext
		go func(l *httpListener) {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", l.scheme, err)
			}
		}(l)
	}

	snap := b.Platform().Snapshot()
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
	ipmiAddr := b.IPMIAddr().String()
	fmt.Fprintf(stdout, "  IPMI     lanplus udp %s   (ipmitool -I lanplus -H %s -p %s -U %s -P %s mc info)\n",
		ipmiAddr, hostOf(ipmiAddr), portOf(ipmiAddr), o.user, pw)
	fmt.Fprintf(stdout, "  Account  %s / %s   (created on first start; later starts keep saved accounts)\n", o.user, pw)
	fmt.Fprintf(stdout, "  State    %s\n", cmp.Or(stateDir, "(none: --ephemeral)"))
	fmt.Fprintln(stdout, "ready")

	runErr := waitStop(ctx, log, errc, b.Err())
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range listeners {
		if err := l.srv.Shutdown(shutCtx); err != nil {
			log.Warn(l.scheme+" shutdown", "err", err)
		}
	}
	listeners = nil
	if err := b.Close(); err != nil {
		log.Warn("BMC shutdown", "err", err)
	}
	return runErr
}

// serverTLS is the HTTPS configuration: the operator's certificate, or a
// self-signed one kept in stateDir (a temporary folder when ephemeral,
// removed by cleanup).
func serverTLS(o *serveOptions, stateDir string) (_ *tls.Config, cleanup func(), err error) {
	cleanup = func() {}
	certDir := stateDir
	if certDir == "" {
		if certDir, err = os.MkdirTemp("", "bmcemu-tls-"); err != nil {
			return nil, nil, fmt.Errorf("https certificate: %w", err)
		}
		cleanup = func() { os.RemoveAll(certDir) }
	} else if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("state directory: %w", err)
	}
	cfg, err := tlsConfig(o.tlsCert, o.tlsKey, certDir)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return cfg, cleanup, nil
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

// withDiagnostics serves /metrics (when mx is set) and /debug/pprof/ (when
// pprof) in front of h.
func withDiagnostics(h http.Handler, mx *metrics.Metrics, pprofOn bool) http.Handler {
	if mx == nil && !pprofOn {
		return h
	}
	var mh http.Handler
	if mx != nil {
		mh = mx.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/metrics" && mh != nil:
			mh.ServeHTTP(w, r)
		case pprofOn && strings.HasPrefix(p, "/debug/pprof/"):
			servePprof(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

// waitStop blocks until ctx ends (a signal: a clean stop, nil) or a
// listener or surface fails (that error), and says which in the log.
func waitStop(ctx context.Context, log *slog.Logger, errs ...<-chan error) error {
	failed := make(chan error, 1)
	for _, c := range errs {
		go func() {
			select {
			case err := <-c:
				select {
				case failed <- err:
				default:
				}
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-failed:
		log.Error("shutting down after a failure", "err", err)
		return err
	}
}

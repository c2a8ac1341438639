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
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/fleet"
	"github.com/bmcemu/bmcemu/cmd/internal/httplimit"
	"github.com/bmcemu/bmcemu/cmd/internal/metrics"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
)

// serveFleet runs --fleet N or --fleet-file: every member a complete BMC on
// its own address, and one control listener for membership and for each
// member's control API.
func serveFleet(ctx context.Context, o *serveOptions, allow []netip.Prefix, log *slog.Logger, stdout io.Writer) error {
	if o.fleetN != 0 && o.fleetFile != "" {
		return errors.New("--fleet and --fleet-file: give one")
	}
	first, err := netip.ParseAddr(o.fleetAddr)
	if err != nil {
		return fmt.Errorf("--fleet-addr %q: not an IP address", o.fleetAddr)
	}
	for name, p := range map[string]int{"--member-ipmi-port": o.memberIPMI, "--member-https-port": o.memberHTTPS, "--member-http-port": o.memberHTTP} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%s %d: want 0-65535", name, p)
		}
	}
	lay := fleet.Layout{
		First: first, SamePorts: o.fleetSamePorts,
		IPMIPort: o.memberIPMI, HTTPSPort: o.memberHTTPS, HTTPPort: o.memberHTTP,
		Profile: o.profileFile, User: o.user, Password: o.password,
	}
	var members []fleet.Member
	seed := o.fleetSeed
	if o.fleetFile != "" {
		members, seed, err = fleet.Load(o.fleetFile, lay)
	} else {
		members, err = fleet.Generate(o.fleetN, seed, lay)
	}
	if err != nil {
		return err
	}
	if o.shard != "" {
		host, _ := os.Hostname()
		idx, count, err := fleet.ParseShard(o.shard, host)
		if err != nil {
			return err
		}
		if members, err = fleet.Shard(members, idx, count); err != nil {
			return err
		}
		log.Info("fleet shard", "index", idx, "count", count, "members", len(members), "first", members[0].Name)
	}
	if err := fleet.CheckCapacity(members); err != nil {
		return err
	}
	stateDir := ""
	if !o.ephemeral {
		stateDir = filepath.Join(o.stateDir, "fleet")
	}
	// Each member address gets its own certificate from the fleet's CA,
	// unless the operator gives one certificate for all.
	var tlsCfg *tls.Config
	caPath := ""
	if o.tlsCert != "" || o.tlsKey != "" {
		cfg, cleanup, err := serverTLS(o, stateDir)
		if err != nil {
			return err
		}
		defer cleanup()
		tlsCfg = cfg
	} else {
		caDir := stateDir
		if caDir == "" {
			// Ephemeral: the CA lives for this run, its certificate in a
			// temporary file so that clients can be pointed at it.
			if caDir, err = os.MkdirTemp("", "bmcemu-fleet-ca-"); err != nil {
				return fmt.Errorf("fleet CA: %w", err)
			}
			defer os.RemoveAll(caDir)
		}
		ca, err := fleet.LoadOrCreateCA(caDir)
		if err != nil {
			return err
		}
		tlsCfg, caPath = ca.TLSConfig(), filepath.Join(caDir, fleet.CACertFile)
	}

	ln, err := net.Listen("tcp", o.controlAddr)
	if err != nil {
		return fmt.Errorf("control listener: %w", err)
	}
	var fl *fleet.Fleet
	var mx *metrics.Metrics
	fopts := fleet.Options{
		StateDir: stateDir, User: o.user, Password: o.password,
		Clock: clock.Real{Speed: o.speed}, FaultSeed: o.faultSeed, Logger: log,
		TLS: tlsCfg, Seed: seed, Layout: lay, IPMIV15: o.ipmiV15,
		RegistryDir: o.registryDir, RequireIfMatch: o.requireIfMatch, EventDestinationAllow: allow,
	}
	if o.metrics {
		mx = metrics.New(func() []*bmc.BMC { return fl.BMCs() })
		fopts.Observe, fopts.Forget = mx.Observer, mx.Forget
	}
	fl = fleet.New(fopts)
	fl.Start(ctx)
	defer fl.Close()
	start := time.Now()
	bar := o.term.start(int64(len(members)), "starting fleet members")
	for _, m := range members {
		if _, err := fl.Add(m); err != nil {
			o.term.stop(false)
			ln.Close()
			return err
		}
		bar.Add(1)
	}
	o.term.stop(true)
	srv := httplimit.Server(withDiagnostics(fl.Handler(), mx, o.pprof), log)
	ln = httplimit.New(httplimit.Defaults, log.With("component", "control")).Listener(ln)
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("control listener: %w", err)
		}
	}()

	list := fl.List()
	fmt.Fprintf(stdout, "bmcemu %s: serving a fleet of %d members (seed %d), started in %s\n", version, len(list), seed, time.Since(start).Round(time.Millisecond))
	const shown = 5
	for i, m := range list {
		if i == shown && len(list) > shown+1 {
			fmt.Fprintf(stdout, "  ... %d more: bmcemu ctl servers list\n", len(list)-i-1)
			m = list[len(list)-1]
		} else if i > shown && i < len(list)-1 {
			continue
		}
		fmt.Fprintf(stdout, "  %-12s %-10s IPMI udp %-18s Redfish %v\n", m.ID, m.Serial, m.IPMI, m.Redfish)
		if i == shown {
			break
		}
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "  Control  %s%s/servers   (bmcemu ctl --server %s --server-id %s slots)\n", base, control.Prefix, base, list[0].ID)
	if mx != nil {
		fmt.Fprintf(stdout, "  Metrics  %s/metrics\n", base)
	}
	if caPath != "" {
		fmt.Fprintf(stdout, "  CA       %s   (each member's HTTPS certificate is issued for its address: curl --cacert %s %s)\n", caPath, caPath, list[0].Redfish[0])
	}
	fmt.Fprintf(stdout, "  State    %s\n", cmp.Or(stateDir, "(none: --ephemeral)"))
	fmt.Fprintln(stdout, "ready")

	runErr := waitStop(ctx, log, errc, fl.Err())
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("control shutdown", "err", err)
	}
	return runErr
}

// Package inprocess builds the BMC a scenario runs against by default: one
// emulated server in this process, on ephemeral loopback ports, keeping no
// state, on a clock the scenario engine steps. It is the scenario engine's
// only tie to the whole emulator (cmd/internal/bmc), kept apart so that
// the engine and its file format build without it.
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/scenario"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// Config describes an in-process BMC.
type Config struct {
	// Profile is a built-in profile name.
	Profile   string
	FaultSeed uint64
	Logger    *slog.Logger // nil discards
}

// user and password are the in-process BMC's administrator's.
const user, password = "admin", "password"

// bootLimit bounds the simulated time an in-process host may take to
// boot its OS before the scenario starts.
const bootLimit = 30 * time.Minute

// New builds a BMC in this process from a built-in profile, on
// ephemeral loopback ports, keeping no state, on a clock the scenario
// steps: its Redfish and control API over HTTP and IPMI over LAN are the
// real ones, so the scenario drives it as it would a remote server. It
// returns once the host's OS runs.
func New(ctx context.Context, cfg Config) (_ *scenario.Target, err error) {
	prof, err := profile.Builtin(cfg.Profile)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("in-process BMC: %w", err)
	}
	// The epoch is now, so that SEL and event timestamps read as today's.
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Second))
	b, err := bmc.New(bmc.Config{Profile: prof, User: user, Password: password, Clock: clk, FaultSeed: cfg.FaultSeed,
		Logger: log, IPMIAddr: "127.0.0.1:0", HTTPAddr: ln.Addr().String()})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("in-process BMC: %w", err)
	}
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(srv.Shutdown(sctx), b.Close())
	}
	defer func() {
		if err != nil {
			_ = stop()
		}
	}()
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	ipmiAddr := b.IPMIAddr().(*net.UDPAddr)
	t := &scenario.Target{
		Control: &control.Client{BaseURL: base, User: user, Password: password},
		Redfish: &scenario.Redfish{BaseURL: base, User: user, Password: password},
		SEL:     &scenario.IPMISEL{Host: "127.0.0.1", Port: ipmiAddr.Port, User: user, Password: password},
		Profile: prof.Name,
		OnClose: stop,
	}
	// Let the host boot: POST and the OS take simulated time.
	for elapsed := time.Duration(0); ; elapsed += 100 * time.Millisecond {
		h, err := t.Control.Host(ctx)
		if err != nil {
			return nil, fmt.Errorf("in-process BMC: %w", err)
		}
		if h.OSRunning && !h.ShuttingDown {
			break
		}
		if elapsed > bootLimit {
			return nil, fmt.Errorf("in-process BMC: the host's OS did not boot within %s of simulated time (%s: %s)", bootLimit, h.BootProgress, h.Reason)
		}
		clk.Advance(100 * time.Millisecond)
	}
	t.Clock = scenario.NewSteppedClock(clk)
	return t, nil
}

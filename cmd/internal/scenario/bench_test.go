package scenario_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/scenario"
	"github.com/bmcemu/bmcemu/cmd/internal/scenario/inprocess"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// BenchmarkScenarioClock runs builtin:hot-add and builtin:mirror-failover
// on the engine's stepped clock and, as the baseline, on a BMC whose clock
// runs by itself at serve --speed 1000 (what --target drives), and reports
// simulated seconds per wall-clock second for each:
//
//	go test ./cmd/internal/scenario -run '^$' -bench ScenarioClock -benchtime 20x
func BenchmarkScenarioClock(b *testing.B) {
	for _, name := range []string{"hot-add", "mirror-failover"} {
		b.Run(name, func(b *testing.B) { benchScenario(b, name) })
	}
}

func benchScenario(b *testing.B, name string) {
	f, src, err := scenario.Load(scenario.BuiltinPrefix + name)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, newTarget func() *scenario.Target) {
		var sim, wall time.Duration
		for b.Loop() {
			b.StopTimer()
			tg := newTarget()
			b.StartTimer()
			res := scenario.Run(ctx, f, src, tg, scenario.Options{})
			b.StopTimer()
			if !res.OK() {
				b.Fatalf("%s did not pass: %+v", f.Name, res.Steps)
			}
			sim += res.Simulated
			wall += res.Wall
			tg.Close()
			b.StartTimer()
		}
		b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim-s/wall-s")
	}
	b.Run("stepped", func(b *testing.B) {
		run(b, func() *scenario.Target {
			tg, err := inprocess.New(ctx, inprocess.Config{Profile: f.Profile})
			if err != nil {
				b.Fatal(err)
			}
			return tg
		})
	})
	b.Run("speed-1000", func(b *testing.B) {
		run(b, func() *scenario.Target { return pacedTarget(b, f.Profile, 1000) })
	})
}

// pacedTarget serves a BMC on a clock of its own at speed, reached as a
// remote target.
func pacedTarget(b *testing.B, name string, speed float64) *scenario.Target {
	prof, err := profile.Builtin(name)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bm, err := bmc.New(bmc.Config{Profile: prof, User: "admin", Password: "password", Clock: clock.Real{Speed: speed},
		IPMIAddr: "127.0.0.1:0", HTTPAddr: ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: bm.Handler()}
	go func() { _ = srv.Serve(ln) }()
	if err := bm.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	tg, err := scenario.NewRemote(context.Background(), scenario.RemoteConfig{URL: "http://" + ln.Addr().String(), User: "admin", Password: "password", Speed: speed})
	if err != nil {
		b.Fatal(err)
	}
	inner := tg.OnClose
	tg.OnClose = func() error {
		_ = srv.Close()
		_ = bm.Close()
		if inner != nil {
			return inner()
		}
		return nil
	}
	// Let the host boot on its own clock before the scenario starts.
	for {
		h, err := tg.Control.Host(context.Background())
		if err == nil && h.OSRunning {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return tg
}

package ipmi

import (
	"context"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/storage"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/ipmi/sel"
)

// BenchmarkLANCommands measures IPMI-over-LAN throughput with go-ipmi's
// client: 1 and 16 concurrent lanplus sessions (cipher suite 3) issuing
// Get SEL Entry (first record) and Get Sensor Reading alternately, one
// round trip each. It reports commands/s and the p99 round trip.
//
// By default it serves a fresh bmcemu; BMCEMU_BENCH_TARGET=host:port points
// it at another BMC (ipmi/bench/run.sh uses this for OpenIPMI's ipmi_sim),
// with BMCEMU_BENCH_USER / _PASSWORD / _SENSOR (defaults admin, password, 1).
func BenchmarkLANCommands(b *testing.B) {
	host, port := benchTarget(b)
	user := envOr("BMCEMU_BENCH_USER", "admin")
	pass := envOr("BMCEMU_BENCH_PASSWORD", "password")
	sensor, _ := strconv.Atoi(envOr("BMCEMU_BENCH_SENSOR", "1"))
	for _, sessions := range []int{1, 16} {
		b.Run("sessions="+strconv.Itoa(sessions), func(b *testing.B) {
			ctx := context.Background()
			clients := make([]*client.Client, sessions)
			for i := range clients {
				c, err := client.NewClient(host, port, user, pass)
				if err != nil {
					b.Fatal(err)
				}
				c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3)
				c.WithTimeout(5 * time.Second)
				if err := c.Connect(ctx); err != nil {
					b.Fatalf("session %d: %v", i, err)
				}
				clients[i] = c
				defer c.Close(ctx)
			}
			var next, failed atomic.Int64
			lat := make([][]time.Duration, sessions)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						t0 := time.Now()
						var err error
						if n%2 == 0 {
							// Not c.GetSELEntry: it sends Get SEL Info first,
							// two round trips per counted command.
							err = c.Exchange(ctx, &storage.GetSELEntryRequest{RecordID: 0x0000, ReadBytes: 0xFF}, &storage.GetSELEntryResponse{})
						} else {
							_, err = c.GetSensorReading(ctx, uint8(sensor))
						}
						lat[i] = append(lat[i], time.Since(t0))
						if err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cmds/s")
			b.ReportMetric(float64(failed.Load())/float64(b.N), "errors/op")
		})
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// benchTarget is BMCEMU_BENCH_TARGET, or a bmcemu served for the benchmark
// with one SEL record so Get SEL Entry finds something.
func benchTarget(b *testing.B) (string, int) {
	if t := os.Getenv("BMCEMU_BENCH_TARGET"); t != "" {
		h, p, err := net.SplitHostPort(t)
		if err != nil {
			b.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		return h, port
	}
	s, err := New(Config{Addr: "127.0.0.1:0", Users: testUsers}, newPlatform(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx) }()
	b.Cleanup(func() { cancel(); <-done; _ = s.Close() })
	if _, err := s.SEL().Add(sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: sensorTypeMemory,
		SensorNumber: 1, EventType: readingTypeSensorSpecial, Data: [3]byte{memData1 | memCorrectableECC, 0xFF, 0}}.Record()); err != nil {
		b.Fatal(err)
	}
	return "127.0.0.1", s.Addr().(*net.UDPAddr).Port
}

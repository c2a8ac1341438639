package ipmi

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/storage"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/sel"
)

// BenchmarkLANCommands measures IPMI-over-LAN throughput: 1 and 16
// concurrent lanplus sessions (cipher suite 3) issuing Get SEL Entry (first
// record) and Get Sensor Reading alternately, one round trip each. It
// reports commands/s and the p99 round trip.
//
// The load generator is leanConsole, not go-ipmi's client: that client
// costs several times what a server does per command (see leanConsole), so
// it measured itself. BMCEMU_BENCH_CLIENT=goipmi drives the same load with
// go-ipmi's client, to compare.
//
// By default it serves a fresh bmcemu in this process; BMCEMU_BENCH_TARGET=
// host:port points it at another BMC in its own process (ipmi/bench/run.sh
// uses this for both bmcemu serve and OpenIPMI's ipmi_sim), with
// BMCEMU_BENCH_USER / _PASSWORD / _SENSOR (defaults admin, password, 1).
// BMCEMU_BENCH_SERVER_PID names that BMC's process, to report its CPU time
// per command next to the load generator's. A comma-separated list of
// targets spreads the sessions over them round-robin (a fleet's members),
// and BMCEMU_BENCH_SESSIONS (default "1,16") lists the session counts.
func BenchmarkLANCommands(b *testing.B) {
	targets := benchTargets(b)
	user := envOr("BMCEMU_BENCH_USER", "admin")
	pass := envOr("BMCEMU_BENCH_PASSWORD", "password")
	sensor, _ := strconv.Atoi(envOr("BMCEMU_BENCH_SENSOR", "1"))
	serverPID, _ := strconv.Atoi(os.Getenv("BMCEMU_BENCH_SERVER_PID"))
	dial := dialLeanRunner
	if os.Getenv("BMCEMU_BENCH_CLIENT") == "goipmi" {
		dial = dialGoIPMIRunner
	}
	var counts []int
	for _, f := range strings.Split(envOr("BMCEMU_BENCH_SESSIONS", "1,16"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("BMCEMU_BENCH_SESSIONS: %q is not a session count", f)
		}
		counts = append(counts, n)
	}
	for _, sessions := range counts {
		b.Run("sessions="+strconv.Itoa(sessions), func(b *testing.B) {
			runners := make([]benchRunner, sessions)
			for i := range runners {
				t := targets[i%len(targets)]
				r, err := dial(t.host, t.port, user, pass, uint8(sensor))
				if err != nil {
					b.Fatalf("session %d: %v", i, err)
				}
				runners[i] = r
				defer func() { _ = r.close() }()
			}
			var next, failed atomic.Int64
			lat := make([][]time.Duration, sessions)
			var wg sync.WaitGroup
			cpu0, srv0 := processCPU(0), processCPU(serverPID)
			b.ResetTimer()
			start := time.Now()
			for i, r := range runners {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						t0 := time.Now()
						err := r.command(n%2 == 0)
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
			// CPU per command says who the limit is: the load generator
			// (this process, with the server in it when no target is set)
			// or a server in its own process.
			b.ReportMetric(float64((processCPU(0)-cpu0).Microseconds())/float64(b.N), "client-cpu-µs/cmd")
			if serverPID != 0 {
				b.ReportMetric(float64((processCPU(serverPID)-srv0).Microseconds())/float64(b.N), "server-cpu-µs/cmd")
			}
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

// benchRunner is one session of the benchmark's load: command issues Get
// SEL Entry (sel) or Get Sensor Reading and fails on a transport error or
// a non-zero completion code.
type benchRunner struct {
	command func(sel bool) error
	close   func() error
}

// getSELEntry0 is Get SEL Entry's request data: no reservation, the first
// record, from offset 0, the whole record.
var getSELEntry0 = []byte{0, 0, 0, 0, 0, 0xFF}

func dialLeanRunner(host string, port int, user, pass string, sensor uint8) (benchRunner, error) {
	c, err := dialLean(net.JoinHostPort(host, strconv.Itoa(port)), user, pass, 5*time.Second)
	if err != nil {
		return benchRunner{}, err
	}
	sensorReq := []byte{sensor}
	return benchRunner{
		command: func(sel bool) error {
			var cc byte
			var err error
			if sel {
				cc, _, err = c.Command(0x0A, 0x43, getSELEntry0)
			} else {
				cc, _, err = c.Command(0x04, 0x2D, sensorReq)
			}
			if err == nil && cc != 0 {
				err = fmt.Errorf("completion code %#02x", cc)
			}
			return err
		},
		close: c.Close,
	}, nil
}

func dialGoIPMIRunner(host string, port int, user, pass string, sensor uint8) (benchRunner, error) {
	ctx := context.Background()
	c, err := client.NewClient(host, port, user, pass)
	if err != nil {
		return benchRunner{}, err
	}
	c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3)
	c.WithTimeout(5 * time.Second)
	if err := c.Connect(ctx); err != nil {
		return benchRunner{}, err
	}
	return benchRunner{
		command: func(sel bool) error {
			if sel {
				// Not c.GetSELEntry: it sends Get SEL Info first, two
				// round trips per counted command.
				return c.Exchange(ctx, &storage.GetSELEntryRequest{RecordID: 0x0000, ReadBytes: 0xFF}, &storage.GetSELEntryResponse{})
			}
			_, err := c.GetSensorReading(ctx, sensor)
			return err
		},
		close: func() error { return c.Close(ctx) },
	}, nil
}

// processCPU is the user+system CPU time of process pid (0: this one), from
// /proc/<pid>/stat; 0 where that is unavailable.
func processCPU(pid int) time.Duration {
	p := "self"
	if pid != 0 {
		p = strconv.Itoa(pid)
	}
	stat, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields overall, in clock ticks (USER_HZ, 100 on Linux).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type benchAddr struct {
	host string
	port int
}

// benchTargets is BMCEMU_BENCH_TARGET (one host:port or several, comma
// separated), or a bmcemu served for the benchmark with one SEL record so
// Get SEL Entry finds something.
func benchTargets(b *testing.B) []benchAddr {
	if t := os.Getenv("BMCEMU_BENCH_TARGET"); t != "" {
		var out []benchAddr
		for _, hp := range strings.Split(t, ",") {
			h, p, err := net.SplitHostPort(strings.TrimSpace(hp))
			if err != nil {
				b.Fatal(err)
			}
			port, _ := strconv.Atoi(p)
			out = append(out, benchAddr{h, port})
		}
		return out
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
	return []benchAddr{{"127.0.0.1", s.Addr().(*net.UDPAddr).Port}}
}

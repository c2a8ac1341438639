// Command storm measures issue 14's performance item against a real
// `bmcemu serve`: a correctable-error storm of RATE events per second for
// SECONDS seconds, its delivery latency to a Redfish push subscriber, to a
// Redfish SSE stream and to the web view's stream, and the server's
// memory before, right after and 30 s after the storm with all three open.
//
// The server runs at --speed 1, so simulated time is wall time and the
// platform's record times are wall-clock. Each storm error is one
// MemoryCorrectableError platform record (its time, to the nanosecond, is
// the origin) and exactly one Redfish ResourceErrorsCorrected event: the
// profile raises the CE threshold and logging limit above the storm's
// size, so neither suppresses nor adds events. Redfish's EventTimestamp
// has whole seconds only, so a Redfish event's origin is the time of the
// platform record it was translated from: the hub translates records in
// order, so the k-th ResourceErrorsCorrected is the k-th
// MemoryCorrectableError (the program checks the counts match before
// joining them; the web stream carries the records).
//
// The baseline, measured in the same run against the same receiver: a
// bare Go HTTP POST of a payload of the same size from a goroutine (the
// push transport's floor), and a bare net/http SSE handler writing the
// same payloads to the same reader code (SSE's floor), both paced at RATE.
//
// Run it through storm.sh, which builds the binary.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/redfish/sse"
)

var (
	binPath = flag.String("bmcemu", "bmcemu", "the bmcemu binary")
	seconds = flag.Int("seconds", 60, "storm length in seconds")
	rate    = flag.Int("rate", 500, "storm rate, events per second")
	after   = flag.Duration("after", 30*time.Second, "how long after the storm to take the last memory sample")
	slot    = flag.String("slot", "CPU0_DIMM_A1", "the module that storms")
	keep    = flag.Bool("keep-logs", false, "print the server's standard error at the end")
	reply   = flag.String("reply", "", "the push receiver's answer body, with 200 OK (default: 204 No Content, no body)")
	logFile = flag.String("server-log", "", "also write the server's standard error to this file")
	cpuProf = flag.String("cpuprofile", "", "write a CPU profile of the server over up to 10 s of the storm, from 5 s in, to this file")
)

const (
	user, pass = "admin", "password"
	ceRecord   = "MemoryCorrectableError"
	ceMessage  = "ResourceErrorsCorrected"
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "storm:", err)
		os.Exit(1)
	}
}

// arrival is one event seen by a client.
type arrival struct {
	id      uint64 // Redfish EventId or platform Seq
	msg     string // MessageId or record kind
	origin  time.Time
	arrived time.Time
}

// sink collects arrivals from one path.
type sink struct {
	mu   sync.Mutex
	name string
	evs  []arrival
	reco int // reconnections
	open bool
}

func (s *sink) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

func (s *sink) add(a arrival) {
	s.mu.Lock()
	s.evs = append(s.evs, a)
	s.mu.Unlock()
}

func (s *sink) snapshot() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.evs)
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load0 := loadavg()

	tmp, err := os.MkdirTemp("", "bmcemu-storm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	prof, err := stormProfile(tmp)
	if err != nil {
		return err
	}

	// The push receiver: arrival is taken as the request reaches the handler.
	push := &sink{name: "push"}
	floor := &sink{name: "post-floor"}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	recv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.Now()
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/floor" {
			var f struct{ Origin int64 }
			if json.Unmarshal(body, &f) == nil {
				floor.add(arrival{origin: time.Unix(0, f.Origin), arrived: t})
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var ev struct {
			Events []struct{ EventId, MessageId string }
		}
		if json.Unmarshal(body, &ev) == nil {
			for _, e := range ev.Events {
				id, _ := strconv.ParseUint(e.EventId, 10, 64)
				push.add(arrival{id: id, msg: e.MessageId, arrived: t})
			}
		}
		if *reply != "" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, *reply)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	// Connections the receiver accepted: the baselines' and bmcemu's.
	conns := &countingListener{Listener: rln}
	go func() { _ = recv.Serve(conns) }()
	defer recv.Close()
	recvURL := "http://" + rln.Addr().String()

	// The server.
	srv, err := startServer(ctx, tmp, prof)
	if err != nil {
		return err
	}
	defer srv.stop()
	base := srv.base
	c := &client{base: base, hc: &http.Client{Timeout: 30 * time.Second}}

	// Sample payload for the baselines: a real event body.
	var sample []byte

	// Subscribe, then open SSE and the web stream.
	if err := c.json(http.MethodPost, "/redfish/v1/EventService/Subscriptions", map[string]any{
		"Destination": recvURL + "/events", "Protocol": "Redfish", "EventFormatType": "Event", "Context": "storm",
	}, nil, http.StatusCreated); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	sse := &sink{name: "sse"}
	go follow(ctx, sse, func(last string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/redfish/v1/EventService/SSE", nil)
		if err == nil {
			req.SetBasicAuth(user, pass)
			if last != "" {
				req.Header.Set("Last-Event-ID", last)
			}
		}
		return req, err
	}, func(id, event string, data []byte, t time.Time) {
		if sample == nil {
			sample = slices.Clone(data)
		}
		var ev struct {
			Events []struct{ EventId, MessageId string }
		}
		if json.Unmarshal(data, &ev) == nil {
			for _, e := range ev.Events {
				n, _ := strconv.ParseUint(e.EventId, 10, 64)
				sse.add(arrival{id: n, msg: e.MessageId, arrived: t})
			}
		}
	})
	token, err := c.login()
	if err != nil {
		return err
	}
	web := &sink{name: "web"}
	var resyncs int
	var webMu sync.Mutex
	go follow(ctx, web, func(last string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ui/api/stream", nil)
		if err == nil {
			req.Header.Set("X-Auth-Token", token)
			if last != "" {
				req.Header.Set("Last-Event-ID", last)
			}
		}
		return req, err
	}, func(id, event string, data []byte, t time.Time) {
		switch event {
		case "resync":
			webMu.Lock()
			resyncs++
			webMu.Unlock()
		case "platform":
			var r struct {
				Seq  uint64    `json:"seq"`
				Time time.Time `json:"time"`
				Kind string    `json:"kind"`
			}
			if json.Unmarshal(data, &r) == nil {
				web.add(arrival{id: r.Seq, msg: r.Kind, origin: r.Time, arrived: t})
			}
		}
	})

	if !waitFor(10*time.Second, func() bool { return sse.isOpen() && web.isOpen() }) {
		return errors.New("the SSE or web stream did not open")
	}
	// One event through every path before measuring: it proves the paths
	// and gives the baselines a real payload's size.
	if err := c.json(http.MethodPost, "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent",
		map[string]any{"MessageId": "ResourceEvent.1.4.3.TestMessage"}, nil, http.StatusNoContent); err != nil {
		return fmt.Errorf("test event: %w", err)
	}
	if !waitFor(10*time.Second, func() bool { return push.count() >= 1 && sse.count() >= 1 }) {
		return fmt.Errorf("the test event reached push %d, SSE %d times: paths not open", push.count(), sse.count())
	}

	// Baselines, paced like the storm.
	n := min(*rate*5, 2500)
	if err := postFloor(recvURL+"/floor", sample, n, *rate, 1); err != nil {
		return err
	}
	postPaced := floor.snapshot()
	floor.mu.Lock()
	floor.evs = nil
	floor.mu.Unlock()
	if err := postFloor(recvURL+"/floor", sample, n, *rate, *rate); err != nil {
		return err
	}
	postBurst := floor.snapshot()
	sseFloor, err := sseFloorRun(ctx, sample, n, *rate, 1)
	if err != nil {
		return err
	}
	sseBurst, err := sseFloorRun(ctx, sample, n, *rate, *rate)
	if err != nil {
		return err
	}

	connsBefore := conns.n.Load()
	settle := 3 * time.Second
	time.Sleep(settle)
	mem0, err := srv.memory(c)
	if err != nil {
		return err
	}
	before, err := c.metrics()
	if err != nil {
		return err
	}

	// The storm: the platform's rated errors (PUT /emulator/v1/ras/rates,
	// the step error_rate and `ctl ras storm` use).
	fmt.Fprintf(os.Stderr, "storm: %d CE/s on %s for %d s\n", *rate, *slot, *seconds)
	rateBody := func(r int) map[string]any { return map[string]any{"slot": *slot, "rank": 0, "ce_per_sec": r} }
	var series []memSample
	stormStart := time.Now()
	if err := c.json(http.MethodPut, "/emulator/v1/ras/rates", rateBody(*rate), nil, http.StatusOK); err != nil {
		return err
	}
	profDone := make(chan error, 1)
	if d := min(10, *seconds-5); *cpuProf != "" && d > 0 {
		go func() {
			time.Sleep(5 * time.Second)
			profDone <- fetchTo(c, fmt.Sprintf("/debug/pprof/profile?seconds=%d", d), *cpuProf)
		}()
	} else {
		profDone <- nil
	}
	tick := time.NewTicker(5 * time.Second)
	end := time.After(time.Duration(*seconds) * time.Second)
	for storming := true; storming; {
		select {
		case <-tick.C:
			if m, err := srv.memory(c); err == nil {
				series = append(series, m)
			}
		case <-end:
			storming = false
		}
	}
	tick.Stop()
	if err := c.json(http.MethodPut, "/emulator/v1/ras/rates", rateBody(0), nil, http.StatusOK); err != nil {
		return err
	}
	stormEnd := time.Now()
	if err := <-profDone; err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	mem1, err := srv.memory(c)
	if err != nil {
		return err
	}
	time.Sleep(*after)
	mem2, err := srv.memory(c)
	if err != nil {
		return err
	}
	afterM, err := c.metrics()
	if err != nil {
		return err
	}
	var lifetime struct {
		LifeTime struct{ CorrectableECCErrorCount int }
	}
	if err := c.json(http.MethodGet, "/redfish/v1/Systems/1/Memory/"+*slot+"/MemoryMetrics", nil, &lifetime, http.StatusOK); err != nil {
		return err
	}
	cancel()
	load1 := loadavg()

	// Produced: the module's lifetime CE count, and the platform's own
	// record counter.
	produced := lifetime.LifeTime.CorrectableECCErrorCount
	recKey := `bmcemu_platform_events_total{kind="` + ceRecord + `",member="bmc"}`
	platformRecs := int(afterM[recKey] - before[recKey])

	webRecs := filter(web.snapshot(), func(a arrival) bool { return a.msg == ceRecord })
	pushEvs := filter(push.snapshot(), func(a arrival) bool { return strings.HasSuffix(a.msg, "."+ceMessage) })
	sseEvs := filter(sse.snapshot(), func(a arrival) bool { return strings.HasSuffix(a.msg, "."+ceMessage) })
	slices.SortFunc(webRecs, func(a, b arrival) int { return cmpU(a.id, b.id) })
	webRecs = dedup(webRecs)
	pushEvs, pushDup := dedupByID(pushEvs)
	sseEvs, sseDup := dedupByID(sseEvs)

	fmt.Printf("bmcemu storm: %d events/s for %d s on %s, --speed 1 (simulated time = wall time); load average %s before, %s after (%d CPUs)\n",
		*rate, *seconds, *slot, load0, load1, runtime.NumCPU())
	fmt.Printf("storm wall time %.1f s; produced %d CEs (MemoryMetrics lifetime), %d platform records (bmcemu_platform_events_total)\n",
		stormEnd.Sub(stormStart).Seconds(), produced, platformRecs)
	var counters []string
	for _, k := range []string{"bmcemu_event_deliveries_total", "bmcemu_event_delivery_failures_total", "bmcemu_event_dropped_total"} {
		k += `{member="bmc"}`
		counters = append(counters, fmt.Sprintf("%s +%.0f", k, afterM[k]-before[k]))
	}
	fmt.Printf("server counters over the storm: %s\n", strings.Join(counters, ", "))
	fmt.Printf("push receiver: %d TCP connections accepted during the storm (answering %s)\n",
		conns.n.Load()-connsBefore, map[bool]string{true: "200 with a body", false: "204"}[*reply != ""])
	// The platform delivers rated errors once a simulated second: how
	// long publishing one second's burst takes.
	var spans []time.Duration
	for i := 0; i < len(webRecs); {
		j := i
		for j+1 < len(webRecs) && webRecs[j+1].origin.Sub(webRecs[j].origin) < 200*time.Millisecond {
			j++
		}
		spans = append(spans, webRecs[j].origin.Sub(webRecs[i].origin))
		i = j + 1
	}
	if len(spans) > 0 {
		p := percentiles(spans)
		fmt.Printf("the platform published %d bursts (one per rate tick); first to last record of a burst: p50 %s, max %s\n",
			len(spans), ms(p[0]), ms(p[2]))
	}
	fmt.Printf("%-28s %9s %6s %6s %9s %9s %9s\n", "path", "delivered", "dups", "reconn", "p50", "p99", "max")

	// Join: the k-th Redfish CE event is the k-th CE record.
	origin := func(evs []arrival) ([]time.Duration, error) {
		if len(webRecs) != produced {
			return nil, fmt.Errorf("web stream has %d CE records of %d produced (%d resyncs): cannot join", len(webRecs), produced, resyncs)
		}
		if len(evs) > len(webRecs) {
			return nil, fmt.Errorf("%d events for %d records", len(evs), len(webRecs))
		}
		// The storm's first EventId: the lowest any Redfish path saw (SSE
		// replays what a reconnect missed, push drops do not come back).
		first := uint64(0)
		for _, p := range [][]arrival{pushEvs, sseEvs} {
			if len(p) > 0 && (first == 0 || p[0].id < first) {
				first = p[0].id
			}
		}
		var out []time.Duration
		for _, e := range evs {
			k := int(e.id - first)
			if k < 0 || k >= len(webRecs) {
				return nil, fmt.Errorf("EventId %d outside the storm's records", e.id)
			}
			d := e.arrived.Sub(webRecs[k].origin)
			if d < 0 {
				return nil, fmt.Errorf("EventId %d arrived %v before its record: the join is off", e.id, -d)
			}
			out = append(out, d)
		}
		return out, nil
	}
	var pushLat, sseLat []time.Duration
	row := func(name string, delivered, dups, reconn int, lat []time.Duration, err error) {
		if err != nil {
			fmt.Printf("%-28s %9d %6d %6d  (%v)\n", name, delivered, dups, reconn, err)
			return
		}
		p := percentiles(lat)
		fmt.Printf("%-28s %9d %6d %6d %9s %9s %9s\n", name, delivered, dups, reconn, ms(p[0]), ms(p[1]), ms(p[2]))
	}
	// EventIds are consecutive only when the push/SSE path lost none; the
	// join needs the first one to be the storm's first.
	for _, p := range []struct {
		name string
		evs  []arrival
	}{{"push", pushEvs}, {"SSE", sseEvs}} {
		if len(p.evs) != produced {
			fmt.Printf("%s is missing %d of %d events; missing EventIds: %s\n", p.name, produced-len(p.evs), produced, missing(p.evs))
		}
	}
	pushLat, err = origin(pushEvs)
	row("redfish push", len(pushEvs), pushDup, 0, pushLat, err)
	sseLat, err = origin(sseEvs)
	row("redfish SSE", len(sseEvs), sseDup, sse.reco, sseLat, err)
	var webLat []time.Duration
	for _, r := range webRecs {
		webLat = append(webLat, r.arrived.Sub(r.origin))
	}
	row("web view /ui/api/stream", len(webRecs), 0, web.reco, webLat, nil)
	if resyncs > 0 {
		fmt.Printf("web view resyncs: %d\n", resyncs)
	}
	lat := func(in []arrival) []time.Duration {
		var out []time.Duration
		for _, a := range in {
			out = append(out, a.arrived.Sub(a.origin))
		}
		return out
	}
	floorLat, burstLat := lat(postPaced), lat(postBurst)
	row("bare POST, paced", len(floorLat), 0, 0, floorLat, nil)
	row(fmt.Sprintf("bare POST, bursts of %d", *rate), len(burstLat), 0, 0, burstLat, nil)
	row("bare SSE, paced", len(sseFloor), 0, 0, sseFloor, nil)
	row(fmt.Sprintf("bare SSE, bursts of %d", *rate), len(sseBurst), 0, 0, sseBurst, nil)

	ratio := func(name string, a, b []time.Duration) {
		if len(a) == 0 || len(b) == 0 {
			return
		}
		pa, pb := percentiles(a), percentiles(b)
		fmt.Printf("ratio %-30s p50 %6.1fx  p99 %6.1fx\n", name, div(pa[0], pb[0]), div(pa[1], pb[1]))
	}
	ratio("push / bare POST paced", pushLat, floorLat)
	ratio("push / bare POST bursts", pushLat, burstLat)
	ratio("SSE / bare SSE paced", sseLat, sseFloor)
	ratio("SSE / bare SSE bursts", sseLat, sseBurst)
	ratio("web stream / bare SSE bursts", webLat, sseBurst)

	fmt.Printf("memory (live heap after a forced GC; RSS from /proc):\n")
	fmt.Printf("  %-26s %10s %10s %10s\n", "", "RSS MiB", "heap MiB", "goroutines")
	show := func(name string, m memSample) {
		fmt.Printf("  %-26s %10.1f %10.1f %10d\n", name, mib(m.rss), mib(m.heap), m.goroutines)
	}
	show("before the storm", mem0)
	for i, m := range series {
		show(fmt.Sprintf("storm +%ds", 5*(i+1)), m)
	}
	show("right after", mem1)
	show(fmt.Sprintf("%s after", *after), mem2)
	// Flat: 30 s after the storm, neither RSS nor the live heap is more
	// than 10% or 8 MiB (the larger) above right after it, and the live
	// heap is less than 8 MiB above where it was before the storm (the
	// event rings, 4096 platform records and 1000 Redfish events, are
	// full after any storm and stay so).
	flat := grew(mem1.rss, mem2.rss) && grew(mem1.heap, mem2.heap) && mem2.heap-mem0.heap < 8<<20
	fmt.Printf("memory flat (after - right after <= max(10%%, 8 MiB) for RSS and heap; heap - before < 8 MiB): %v\n", flat)
	if *logFile != "" {
		if err := os.WriteFile(*logFile, srv.stderr.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *keep {
		fmt.Fprint(os.Stderr, srv.stderr.String())
	} else if l := logSummary(srv.stderr.String()); l != "" {
		fmt.Printf("server log lines (-keep-logs prints them):\n%s", l)
	}
	return nil
}

// missing names the EventIds absent between the first and last seen, as
// ranges.
func missing(evs []arrival) string {
	var out []string
	for i := 1; i < len(evs); i++ {
		if a, b := evs[i-1].id, evs[i].id; b > a+1 {
			if b == a+2 {
				out = append(out, strconv.FormatUint(a+1, 10))
			} else {
				out = append(out, fmt.Sprintf("%d-%d", a+1, b-1))
			}
		}
	}
	if len(out) == 0 {
		return "none between the first and last seen"
	}
	return strings.Join(out, " ")
}

var msgRE = regexp.MustCompile(`level=(\w+) msg="([^"]*)"`)

// logSummary counts the server's log lines by level and message.
func logSummary(log string) string {
	n := map[string]int{}
	var keys []string
	for _, l := range strings.Split(log, "\n") {
		if m := msgRE.FindStringSubmatch(l); m != nil {
			k := m[1] + " " + m[2]
			if n[k] == 0 {
				keys = append(keys, k)
			}
			n[k]++
		}
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %6d x %s\n", n[k], k)
	}
	return b.String()
}

func grew(a, b uint64) bool {
	lim := max(a/10, 8<<20)
	return b <= a+lim
}

func div(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func filter(in []arrival, keep func(arrival) bool) []arrival {
	var out []arrival
	for _, a := range in {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

func dedup(in []arrival) []arrival {
	return slices.CompactFunc(in, func(a, b arrival) bool { return a.id == b.id })
}

// dedupByID keeps each EventId's first arrival and counts the rest.
func dedupByID(in []arrival) ([]arrival, int) {
	seen := map[uint64]bool{}
	var out []arrival
	for _, a := range in {
		if seen[a.id] {
			continue
		}
		seen[a.id] = true
		out = append(out, a)
	}
	dups := len(in) - len(out)
	slices.SortFunc(out, func(a, b arrival) int { return cmpU(a.id, b.id) })
	return out, dups
}

// percentiles returns p50, p99 and max (nearest rank).
func percentiles(d []time.Duration) [3]time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return [3]time.Duration{at(0.50), at(0.99), s[len(s)-1]}
}

func waitFor(d time.Duration, ok func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// stormProfile writes the default profile with the CE threshold and
// logging limit above any storm this program makes, so each error is one
// Redfish event.
func stormProfile(dir string) (string, error) {
	out, err := exec.Command(*binPath, "profile", "show", "default").Output()
	if err != nil {
		return "", fmt.Errorf("bmcemu profile show default: %w", err)
	}
	if bytes.Contains(out, []byte("\nras:")) {
		return "", errors.New("the default profile has a ras section now: merge the storm's limits into it")
	}
	if *rate**seconds >= 65535 {
		return "", fmt.Errorf("%d errors exceed the highest CE logging limit (65535)", *rate**seconds)
	}
	out = append(out, "\nras: {ce_threshold: 65535, ce_log_limit: 65535}\n"...)
	p := dir + "/storm.yaml"
	return p, os.WriteFile(p, out, 0o600)
}

type server struct {
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
}

var baseRE = regexp.MustCompile(`Redfish\s+(http://127\.0\.0\.1:\d+)/redfish/v1`)

func startServer(ctx context.Context, dir, prof string) (*server, error) {
	cmd := exec.CommandContext(ctx, *binPath, "serve", "--ephemeral", "--profile", prof, "--speed", "1",
		"--redfish-addr", "127.0.0.1:0", "--redfish-tls-addr", "", "--ipmi-addr", "127.0.0.1:0",
		"--log-level", "warn", "--pprof")
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := baseRE.FindStringSubmatch(sc.Text()); m != nil {
			s.base = m[1]
		}
		if sc.Text() == "ready" {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if s.base == "" {
		s.stop()
		return nil, fmt.Errorf("bmcemu serve did not start: %s", s.stderr.String())
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

type memSample struct {
	rss, heap  uint64
	goroutines int
}

// memory forces a GC through pprof (?gc=1), then reads the live heap from
// /metrics and VmRSS from /proc.
func (s *server) memory(c *client) (memSample, error) {
	resp, err := c.hc.Get(c.base + "/debug/pprof/heap?gc=1")
	if err != nil {
		return memSample{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	m, err := c.metrics()
	if err != nil {
		return memSample{}, err
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return memSample{}, err
	}
	var rss uint64
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return memSample{rss: rss, heap: uint64(m["go_memstats_heap_alloc_bytes"]), goroutines: int(m["go_goroutines"])}, nil
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// fetchTo writes a GET's body to a file.
func fetchTo(c *client, path, file string) error {
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type client struct {
	base string
	hc   *http.Client
}

func (c *client) json(method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c *client) login() (string, error) {
	b, _ := json.Marshal(map[string]string{"UserName": user, "Password": pass})
	resp, err := c.hc.Post(c.base+"/redfish/v1/SessionService/Sessions", "application/json", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	tok := resp.Header.Get("X-Auth-Token")
	if resp.StatusCode != http.StatusCreated || tok == "" {
		return "", fmt.Errorf("login: %s", resp.Status)
	}
	return tok, nil
}

func (c *client) metrics() (map[string]float64, error) {
	resp, err := c.hc.Get(c.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			out[l[:i]] = v
		}
	}
	return out, sc.Err()
}

// follow reads a text/event-stream, reconnecting with Last-Event-ID until
// ctx ends; each event is handed over with the time it was read (its
// ending blank line, written with its data in one frame).
func follow(ctx context.Context, s *sink, open func(last string) (*http.Request, error), on func(id, event string, data []byte, t time.Time)) {
	last := ""
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			s.mu.Lock()
			s.reco++
			s.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
		req, err := open(last)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			continue
		}
		s.mu.Lock()
		s.open = true
		s.mu.Unlock()
		readSSE(resp.Body, func(id, event string, data []byte, t time.Time) {
			if id != "" {
				last = id
			}
			on(id, event, data, t)
		})
		resp.Body.Close()
	}
}

// readSSE hands each event of a text/event-stream to on with the time it
// was read, until the stream ends.
func readSSE(r io.Reader, on func(id, event string, data []byte, t time.Time)) {
	_ = sse.Read(r, func(e sse.Event) bool {
		on(e.ID, e.Type, []byte(e.Data), time.Now())
		return true
	})
}

// postFloor POSTs n payloads of the sample's size to the receiver from one
// goroutine, perSec a second: one at a time at even intervals (burst 1),
// or in bursts of `burst` once every burst/perSec seconds, each carrying
// the time its burst began, as the platform's rated errors are published
// (so the k-th of a burst waits for the k-1 before it, as a subscriber's
// queue does).
func postFloor(url string, sample []byte, n, perSec, burst int) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	pad := strings.Repeat("x", max(0, len(sample)-40))
	tick := time.NewTicker(time.Second * time.Duration(burst) / time.Duration(perSec))
	defer tick.Stop()
	for i := 0; i < n; {
		<-tick.C
		t := time.Now()
		for j := 0; j < burst && i < n; j, i = j+1, i+1 {
			if burst == 1 {
				t = time.Now()
			}
			b := fmt.Appendf(nil, `{"Origin":%d,"Pad":%q}`, t.UnixNano(), pad)
			resp, err := hc.Post(url, "application/json", bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("baseline POST: %w", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	return nil
}

// sseFloorRun serves n payloads of the sample's size from a bare net/http
// SSE handler at the given rate, one at a time or in bursts as postFloor,
// and reads them with the same reader.
func sseFloorRun(ctx context.Context, sample []byte, n, perSec, burst int) ([]time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	pad := strings.Repeat("x", max(0, len(sample)-40))
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		tick := time.NewTicker(time.Second * time.Duration(burst) / time.Duration(perSec))
		defer tick.Stop()
		for i := 0; i < n; {
			<-tick.C
			t := time.Now()
			for j := 0; j < burst && i < n; j, i = j+1, i+1 {
				if burst == 1 {
					t = time.Now()
				}
				b, _ := json.Marshal(struct {
					Origin int64
					Pad    string
				}{t.UnixNano(), pad})
				if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", i+1, b); err != nil {
					return
				}
				_ = rc.Flush()
			}
		}
	})}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []time.Duration
	readSSE(resp.Body, func(_, _ string, data []byte, t time.Time) {
		var f struct{ Origin int64 }
		if json.Unmarshal(data, &f) == nil {
			out = append(out, t.Sub(time.Unix(0, f.Origin)))
		}
	})
	if len(out) != n {
		return out, fmt.Errorf("bare SSE baseline: %d of %d events", len(out), n)
	}
	return out, nil
}

// Package metrics exposes a fleet (or a lone BMC) to Prometheus: request
// counters and latencies observed as they happen, and everything else read
// from each member's state at scrape time, so an idle member costs nothing
// between scrapes. The only per-member label is the member id, which the
// fleet validates (lower-case letters, digits, dashes): never a free string.
package metrics

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
)

// Label is the member label of b: its fleet id, or "bmc" for a lone
// server.
func Label(b *bmc.BMC) string {
	if id := b.ID(); id != "" {
		return id
	}
	return "bmc"
}

// Metrics is one registry with the emulator's collectors.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New registers the collectors; members lists the BMCs at scrape time.
func New(members func() []*bmc.BMC) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bmcemu_http_requests_total",
		Help: "HTTP requests a member answered, by surface (redfish, control, ui), method and status code.",
	}, []string{"member", "surface", "method", "code"})
	// Latency is fleet-wide: a histogram per member would multiply the
	// series by the bucket count for every member of a large fleet.
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bmcemu_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, over every member, by surface and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"surface", "method"})
	m.reg.MustRegister(m.requests, m.latency, &memberCollector{members: members},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observer returns the bmc.Config.Observe function for member id.
//
// Every request lands in one counter and one histogram. Looking them up
// by label values hashes six strings and formats the status code on every
// request, so the observer keeps the series it has used, indexed by
// surface and method and then found by status code in a short list (the
// few codes a route answers). After Forget the kept counters are detached
// from the registry: a request still in flight for a removed member counts
// nowhere instead of bringing its series back.
func (m *Metrics) Observer(id string) func(surface, method string, code int, d time.Duration) {
	o := &observer{m: m, id: id}
	return o.observe
}

// surfaces and methods are the label values the observer indexes; any
// other method counts as OTHER, and any other surface goes to the vectors.
var (
	surfaces = [...]string{"redfish", "control", "ui"}
	methods  = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch,
		http.MethodPut, http.MethodDelete, http.MethodOptions, "OTHER"}
)

func surfaceIndex(s string) int {
	for i, v := range surfaces {
		if v == s {
			return i
		}
	}
	return -1
}

func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPatch:
		return 3
	case http.MethodPut:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return 7
}

type series struct {
	code     int
	requests prometheus.Counter
	latency  prometheus.Observer
}

// maxCodes bounds the codes kept per surface and method; the handlers
// answer a handful, and past it lookups go to the vectors.
const maxCodes = 32

type observer struct {
	m  *Metrics
	id string
	mu sync.Mutex // serialises additions
	// kept lists, per surface and method, the series used so far; a list
	// is replaced on addition, never modified.
	kept [len(surfaces)][len(methods)]atomic.Pointer[[]series]
}

func (o *observer) observe(surface, method string, code int, d time.Duration) {
	si, mi := surfaceIndex(surface), methodIndex(method)
	if si < 0 {
		o.m.requests.WithLabelValues(o.id, surface, methods[mi], strconv.Itoa(code)).Inc()
		o.m.latency.WithLabelValues(surface, methods[mi]).Observe(d.Seconds())
		return
	}
	s := o.find(si, mi, code)
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
}

func (o *observer) find(si, mi, code int) series {
	slot := &o.kept[si][mi]
	if kept := slot.Load(); kept != nil {
		for _, s := range *kept {
			if s.code == code {
				return s
			}
		}
	}
	s := series{code: code,
		requests: o.m.requests.WithLabelValues(o.id, surfaces[si], methods[mi], strconv.Itoa(code)),
		latency:  o.m.latency.WithLabelValues(surfaces[si], methods[mi])}
	o.mu.Lock()
	defer o.mu.Unlock()
	var next []series
	if old := slot.Load(); old != nil {
		for _, k := range *old {
			if k.code == code {
				return k // added by a request that got here first
			}
		}
		if len(*old) >= maxCodes {
			return s
		}
		next = slices.Clone(*old)
	}
	next = append(next, s)
	slot.Store(&next)
	return s
}

// Forget drops a removed member's request series.
func (m *Metrics) Forget(id string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"member": id})
}

// Handler serves the text exposition format at /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var (
	descMembers = prometheus.NewDesc("bmcemu_fleet_members", "Members running in this process.", nil, nil)
	descSess    = prometheus.NewDesc("bmcemu_sessions", "Open sessions by surface (redfish, ipmi).", []string{"member", "surface"}, nil)
	descSEL     = prometheus.NewDesc("bmcemu_sel_entries", "Entries in the System Event Log.", []string{"member"}, nil)
	descSELCap  = prometheus.NewDesc("bmcemu_sel_capacity_entries", "Entries the System Event Log holds.", []string{"member"}, nil)
	descSELFill = prometheus.NewDesc("bmcemu_sel_fill_ratio", "Fraction of the System Event Log in use.", []string{"member"}, nil)
	descSELOver = prometheus.NewDesc("bmcemu_sel_overflow", "1 when the System Event Log has overflowed (IPMI Get SEL Info).", []string{"member"}, nil)
	descInst    = prometheus.NewDesc("bmcemu_memory_installed_bytes", "Memory seated in the simulated server.", []string{"member"}, nil)
	descOnline  = prometheus.NewDesc("bmcemu_memory_os_total_bytes", "Memory the in-band OS accounts (MemTotal).", []string{"member"}, nil)
	descIPMIPk  = prometheus.NewDesc("bmcemu_ipmi_packets_total", "IPMI datagrams read.", []string{"member"}, nil)
	descIPMICmd = prometheus.NewDesc("bmcemu_ipmi_commands_total", "In-session IPMI commands answered.", []string{"member"}, nil)
	descIPMIHs  = prometheus.NewDesc("bmcemu_ipmi_handshake_packets_total", "IPMI datagrams outside a session's commands (session set-up, pre-session commands, SOL).", []string{"member"}, nil)
	descSubs    = prometheus.NewDesc("bmcemu_event_subscriptions", "Redfish push event subscriptions.", []string{"member"}, nil)
	descSSE     = prometheus.NewDesc("bmcemu_event_sse_clients", "Open Redfish SSE streams.", []string{"member"}, nil)
	descQueue   = prometheus.NewDesc("bmcemu_event_queue_depth", "Events waiting in push subscribers' queues.", []string{"member"}, nil)
	descDeliv   = prometheus.NewDesc("bmcemu_event_deliveries_total", "Event pushes a destination accepted.", []string{"member"}, nil)
	descFail    = prometheus.NewDesc("bmcemu_event_delivery_failures_total", "Event push attempts that failed; every retry counts.", []string{"member"}, nil)
	descDrop    = prometheus.NewDesc("bmcemu_event_dropped_total", "Events a full subscriber queue dropped.", []string{"member"}, nil)
	descTerm    = prometheus.NewDesc("bmcemu_event_subscriptions_terminated_total", "Subscriptions their retry policy ended.", []string{"member"}, nil)
	descFaults  = prometheus.NewDesc("bmcemu_protocol_faults_injected_total", "Protocol faults the BMC injected by its rules (platform/netfault), by surface and kind.", []string{"member", "surface", "kind"}, nil)
	descResets  = prometheus.NewDesc("bmcemu_bmc_cold_resets_total", "BMC cold resets by cause: command (IPMI Cold Reset) or fault (a protocol fault rule).", []string{"member", "cause"}, nil)
	descPlat    = prometheus.NewDesc("bmcemu_platform_events_total", "Events of the simulated server (hot-plug stages, RAS, power...) by kind.", []string{"member", "kind"}, nil)
)

// memberCollector reads every member at scrape time.
type memberCollector struct{ members func() []*bmc.BMC }

func (c *memberCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMembers, descSess, descSEL, descSELCap, descSELFill, descSELOver, descInst, descOnline,
		descIPMIPk, descIPMICmd, descIPMIHs, descSubs, descSSE, descQueue, descDeliv, descFail, descDrop, descTerm, descPlat, descFaults, descResets} {
		ch <- d
	}
}

func (c *memberCollector) Collect(ch chan<- prometheus.Metric) {
	ms := c.members()
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(len(ms)))
	for _, b := range ms {
		st, id := b.Stats(), Label(b)
		g := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{id}, labels...)...)
		}
		n := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{id}, labels...)...)
		}
		g(descSess, float64(st.Redfish.Sessions), "redfish")
		g(descSess, float64(st.IPMI.Sessions), "ipmi")
		g(descSEL, float64(st.SEL.Entries))
		g(descSELCap, float64(st.SEL.Capacity))
		if st.SEL.Capacity > 0 {
			g(descSELFill, float64(st.SEL.Entries)/float64(st.SEL.Capacity))
		}
		over := 0.0
		if st.SEL.Overflow {
			over = 1
		}
		g(descSELOver, over)
		g(descInst, float64(st.InstalledBytes))
		g(descOnline, float64(st.OnlineBytes))
		n(descIPMIPk, st.IPMI.Packets)
		n(descIPMICmd, st.IPMI.Commands)
		n(descIPMIHs, st.IPMI.Handshakes)
		g(descSubs, float64(st.Redfish.Subscriptions))
		g(descSSE, float64(st.Redfish.SSEClients))
		g(descQueue, float64(st.Redfish.EventsQueued))
		n(descDeliv, st.Redfish.EventsDelivered)
		n(descFail, st.Redfish.DeliveryFailures)
		n(descDrop, st.Redfish.EventsDropped)
		n(descTerm, st.Redfish.SubsTerminated)
		// Only kinds that struck: fifteen zero series per member would
		// outnumber the rest in a large fleet that never uses them.
		for _, f := range st.ProtocolFaults {
			if f.Injected > 0 {
				n(descFaults, f.Injected, string(f.Surface), string(f.Kind))
			}
		}
		for _, cause := range []string{"command", "fault"} {
			if v := st.ColdResets[cause]; v > 0 {
				n(descResets, v, cause)
			}
		}
		kinds := make([]string, 0, len(st.Events))
		for k := range st.Events {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			n(descPlat, st.Events[k], k)
		}
	}
}

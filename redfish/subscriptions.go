package redfish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
	"github.com/bmcemu/bmcemu/platform/ratelog"
	"github.com/bmcemu/bmcemu/platform/store"
)

// Delivery defaults; Config overrides them.
const (
	defaultRetryAttempts  = 3
	defaultRetryInterval  = 30 * time.Second
	defaultMaxPushSubs    = 20
	defaultMaxSSEClients  = 10
	subscriberQueueDepth  = 1024
	subscriptionsFileName = "redfish-subscriptions.json"
	maxBackoff            = 10 * time.Minute
	// maxDrainedReply bounds how much of a destination's answer is read
	// to keep its connection: a longer one costs a new connection.
	maxDrainedReply = 64 << 10
)

// defaultDestinationAllow keeps the emulator from being an SSRF tool: only
// loopback destinations unless the operator widens it.
var defaultDestinationAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// subscription is one EventDestination: a push subscription, whose
// exported fields persist, or the member an SSE stream owns (sse), which
// lives only as long as its connection and is never saved.
type subscription struct {
	ID                  string            `json:"id"`
	Owner               string            `json:"owner"`
	Destination         string            `json:"destination"`
	Context             string            `json:"context"`
	Protocol            string            `json:"protocol"`
	SubscriptionType    string            `json:"subscription_type"`
	EventFormatType     string            `json:"event_format_type"`
	RegistryPrefixes    []string          `json:"registry_prefixes,omitempty"`
	MessageIDs          []string          `json:"message_ids,omitempty"`
	ResourceTypes       []string          `json:"resource_types,omitempty"`
	OriginResources     []string          `json:"origin_resources,omitempty"`
	Headers             map[string]string `json:"headers,omitempty"`
	DeliveryRetryPolicy string            `json:"delivery_retry_policy"`
	Suspended           bool              `json:"suspended"`

	sse     bool
	q       chan rfEvent
	resume  chan struct{}
	stop    chan struct{} // closed once, by whoever removes the member from subs
	done    chan struct{}
	dropped uint64
}

// subscriptions owns the push subscribers: one bounded queue and one
// delivery goroutine each, so a slow or dead destination only ever delays
// itself.
type subscriptions struct {
	// Counters for Stats, over the service's life.
	delivered, failedAttempts, dropped, terminatedN atomic.Uint64

	mu       sync.Mutex
	subs     map[string]*subscription
	nextID   int
	log      *slog.Logger
	client   *http.Client
	attempts int
	interval time.Duration
	retrySet bool // attempts and interval came from a PATCH: save them
	max      int
	allow    []netip.Prefix
	file     *store.JSON
	closed   bool
	faults   Faults // nil: no protocol faults on deliveries
	// dropLog holds a storm's "queue full" warnings to one line per
	// subscription per second, with the count; the drops of the storm's
	// last second are logged when that second ends.
	dropLog *ratelog.Limiter[string]
	// terminated hears of a subscription the retry policy ended, after
	// it is gone (the service announces it as ResourceRemoved). Set and
	// read under mu: delivery loops may already run when it is set.
	terminated func(id string)
}

type persistedSubs struct {
	NextID int             `json:"next_id"`
	Subs   []*subscription `json:"subscriptions"`
	// The EventService's retry settings once a client has PATCHed them;
	// absent, the configured defaults apply.
	RetryAttempts        *int `json:"retry_attempts,omitempty"`
	RetryIntervalSeconds *int `json:"retry_interval_seconds,omitempty"`
}

func newSubscriptions(cfg Config, log *slog.Logger) (*subscriptions, error) {
	m := &subscriptions{subs: map[string]*subscription{}, nextID: 1, log: log, client: cfg.EventHTTPClient,
		attempts: cfg.DeliveryRetryAttempts, interval: cfg.DeliveryRetryInterval, max: cfg.MaxEventSubscriptions,
		allow: cfg.EventDestinationAllow, faults: cfg.Faults}
	m.dropLog = ratelog.NewFlushing(time.Second, nil, m.dropsHeldBack)
	if m.client == nil {
		// Never follow a redirect: it could lead outside the allow-list.
		m.client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if m.attempts <= 0 {
		m.attempts = defaultRetryAttempts
	}
	if m.interval <= 0 {
		m.interval = defaultRetryInterval
	}
	if m.max <= 0 {
		m.max = defaultMaxPushSubs
	}
	if m.allow == nil {
		m.allow = defaultDestinationAllow
	}
	if cfg.StateDir != "" {
		m.file = &store.JSON{Path: filepath.Join(cfg.StateDir, subscriptionsFileName)}
		// An interrupted save leaves a temporary file; the document is
		// still the last acknowledged set.
		removed, err := m.file.RemoveStaleTemps()
		if err != nil {
			return nil, fmt.Errorf("redfish: subscriptions: %w", err)
		}
		if len(removed) > 0 {
			log.Warn("removed temporary files an interrupted save left", "files", removed)
		}
		var saved persistedSubs
		if err := m.file.Load(&saved); err != nil && !errors.Is(err, store.ErrNotExist) {
			return nil, fmt.Errorf("redfish: subscriptions: %w", err)
		}
		m.nextID = max(saved.NextID, 1)
		if saved.RetryAttempts != nil {
			m.attempts, m.retrySet = *saved.RetryAttempts, true
		}
		if saved.RetryIntervalSeconds != nil {
			m.interval, m.retrySet = time.Duration(*saved.RetryIntervalSeconds)*time.Second, true
		}
		for _, s := range saved.Subs {
			m.start(s)
		}
	}
	return m, nil
}

func (m *subscriptions) start(s *subscription) {
	s.q = make(chan rfEvent, subscriberQueueDepth)
	s.resume = make(chan struct{}, 1)
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	m.subs[s.ID] = s
	go m.deliverLoop(s)
}

// saveLocked persists the push subscriptions; the caller holds m.mu. SSE
// members are left out: their stream cannot survive a restart, so a saved
// copy would come back as a member nothing delivers to.
func (m *subscriptions) saveLocked() {
	if m.file == nil {
		return
	}
	out := persistedSubs{NextID: m.nextID, Subs: m.pushLocked()}
	if m.retrySet {
		secs := int(m.interval / time.Second)
		out.RetryAttempts, out.RetryIntervalSeconds = &m.attempts, &secs
	}
	if err := m.file.Save(out); err != nil {
		m.log.Error("redfish: save subscriptions", "err", err)
	}
}

func (m *subscriptions) sortedLocked() []*subscription {
	out := make([]*subscription, 0, len(m.subs))
	for _, s := range m.subs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].ID)
		b, _ := strconv.Atoi(out[j].ID)
		return a < b
	})
	return out
}

// pushLocked is sortedLocked without the SSE members.
func (m *subscriptions) pushLocked() []*subscription {
	return slices.DeleteFunc(m.sortedLocked(), func(s *subscription) bool { return s.sse })
}

// retry returns the EventService's DeliveryRetryAttempts and interval.
func (m *subscriptions) retry() (int, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts, m.interval
}

// setRetry changes the retry settings for every subscription, including
// a delivery already waiting to retry (it reads them again each attempt),
// and saves them. nil leaves a setting as it is.
func (m *subscriptions) setRetry(attempts *int, interval *time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if attempts != nil {
		m.attempts = *attempts
	}
	if interval != nil {
		m.interval = *interval
	}
	m.retrySet = true
	m.saveLocked()
}

// onTerminated sets the hook for subscriptions the retry policy ends.
func (m *subscriptions) onTerminated(f func(id string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.terminated = f
}

func (m *subscriptions) list() []*subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sortedLocked()
}

func (m *subscriptions) get(id string) (*subscription, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	return s, ok
}

// view is a copy safe to render while deliveries run.
func (m *subscriptions) view(s *subscription) subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	return subscription{ID: s.ID, Owner: s.Owner, Destination: s.Destination, Context: s.Context, Protocol: s.Protocol,
		SubscriptionType: s.SubscriptionType, EventFormatType: s.EventFormatType, RegistryPrefixes: s.RegistryPrefixes,
		MessageIDs: s.MessageIDs, ResourceTypes: s.ResourceTypes, OriginResources: s.OriginResources,
		DeliveryRetryPolicy: s.DeliveryRetryPolicy, Suspended: s.Suspended}
}

var errSubscriptionLimit = errors.New("subscription limit")

func (m *subscriptions) add(s *subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// SSE members count against the SSE client limit instead.
	if len(m.pushLocked()) >= m.max {
		return errSubscriptionLimit
	}
	s.ID = strconv.Itoa(m.nextID)
	m.nextID++
	m.start(s)
	m.saveLocked()
	return nil
}

var errSubscriptionsClosed = errors.New("subscriptions closed")

// addSSE registers the member of an SSE stream. It takes an Id from the
// same sequence as push subscriptions so a URI never names two members
// over the service's life, but it has no delivery goroutine (the stream's
// handler writes the events) and is not saved. Its stop channel closes
// when it is deleted, which ends the stream.
func (m *subscriptions) addSSE(s *subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errSubscriptionsClosed
	}
	s.sse = true
	s.ID = strconv.Itoa(m.nextID)
	m.nextID++
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	close(s.done) // nothing to wait for in close()
	m.subs[s.ID] = s
	return nil
}

func (m *subscriptions) remove(id string) bool {
	m.mu.Lock()
	s, ok := m.subs[id]
	if ok {
		delete(m.subs, id)
		m.dropLog.Forget(id)
		if !s.sse {
			m.saveLocked()
		}
	}
	m.mu.Unlock()
	if ok {
		close(s.stop)
	}
	return ok
}

func (m *subscriptions) resumeSub(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	if !ok {
		return false
	}
	if s.sse {
		// A stream is never suspended; nothing to resume.
		return true
	}
	if s.Suspended {
		s.Suspended = false
		m.saveLocked()
	}
	select {
	case s.resume <- struct{}{}:
	default:
	}
	return true
}

// dispatch queues ev for every matching subscriber without blocking: a
// full queue counts and logs the loss.
func (m *subscriptions) dispatch(ev rfEvent) { m.dispatchExcept(ev, "") }

// dispatchExcept is dispatch without the subscription skip: a destination
// learns of its own creation from the 201, not from an event about itself
// that it has no reason to expect first.
func (m *subscriptions) dispatchExcept(ev rfEvent, skip string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if s.sse || (skip != "" && s.ID == skip) || !s.matches(ev) {
			continue
		}
		select {
		case s.q <- ev:
		default:
			s.dropped++
			m.dropped.Add(1)
			if n, ok := m.dropLog.Note(s.ID); ok {
				m.log.Warn(msgSubscriberDrop, "subscription", s.ID,
					"destination", s.Destination, "event_id", ev.ID, "since_last_line", n, "dropped_total", s.dropped)
			}
		}
	}
}

const msgSubscriberDrop = "redfish: subscriber queue full; events dropped"

// dropsHeldBack logs the drops the rate limit held back in an interval
// that no further drop ended.
func (m *subscriptions) dropsHeldBack(id string, n uint64) {
	m.log.Warn(msgSubscriberDrop, "subscription", id, "since_last_line", n)
}

func (m *subscriptions) close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	subs := m.sortedLocked()
	m.subs = map[string]*subscription{}
	m.closed = true
	m.mu.Unlock()
	for _, s := range subs {
		close(s.stop)
		<-s.done
	}
}

// matches applies the subscription's filters; an empty filter passes all.
func (s *subscription) matches(ev rfEvent) bool {
	if len(s.RegistryPrefixes) > 0 && !slices.Contains(s.RegistryPrefixes, ev.registryPrefix()) {
		return false
	}
	if len(s.MessageIDs) > 0 && !slices.ContainsFunc(s.MessageIDs, func(id string) bool { return messageIDMatches(id, ev.MessageID) }) {
		return false
	}
	if len(s.ResourceTypes) > 0 && !slices.Contains(s.ResourceTypes, ev.resourceType()) {
		return false
	}
	if len(s.OriginResources) > 0 && !slices.Contains(s.OriginResources, ev.Origin) {
		return false
	}
	return true
}

// messageIDMatches compares a filter MessageId with an event's: the full
// id, or the registry prefix and key whatever the version
// ("ResourceEvent.ResourceStateChanged", "ResourceEvent.1.0.ResourceStateChanged").
func messageIDMatches(filter, id string) bool {
	if filter == id {
		return true
	}
	fp, fk := splitMessageID(filter)
	ip, ik := splitMessageID(id)
	return fp == ip && fk == ik && fk != ""
}

func splitMessageID(id string) (prefix, key string) {
	parts := strings.Split(id, ".")
	if len(parts) < 2 {
		return "", ""
	}
	return parts[0], parts[len(parts)-1]
}

// deliverLoop sends the subscriber's events in order, one at a time,
// unless a protocol fault rule (faults.go) drops, delays, duplicates or
// reorders one.
func (m *subscriptions) deliverLoop(s *subscription) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	var held []rfEvent // an event a reorder holds back
	var release <-chan time.Time
	for {
		var out []rfEvent
		select {
		case <-s.stop:
			return
		case <-release:
			out, held, release = held, nil, nil
		case ev := <-s.q:
			out, held, release = m.faultEvent(s, ev, held, release)
		}
		for _, ev := range out {
			if !m.deliverWithRetries(ctx, s, ev) {
				return
			}
		}
	}
}

// faultEvent applies the events surface's rules to ev, the next event for
// s: it returns what to push now, in order, and what stays held back. A
// rule that strikes is counted and logged with the EventId, so every Id
// a receiver misses twice or out of order is accounted for.
func (m *subscriptions) faultEvent(s *subscription, ev rfEvent, held []rfEvent, release <-chan time.Time) ([]rfEvent, []rfEvent, <-chan time.Time) {
	f := m.faults
	if f == nil || !f.Active(netfault.Events) {
		return append([]rfEvent{ev}, held...), nil, nil
	}
	subject := "EventId " + strconv.FormatUint(ev.ID, 10) + " to subscription " + s.ID + " (" + s.Destination + ")"
	if _, ok := f.Decide(netfault.Events, netfault.Drop, subject); ok {
		return nil, held, release
	}
	if r, ok := f.Decide(netfault.Events, netfault.Delay, subject); ok {
		t := time.NewTimer(r.Delay)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
		}
	}
	if held == nil {
		if r, ok := f.Decide(netfault.Events, netfault.Reorder, subject); ok {
			return nil, []rfEvent{ev}, time.After(r.Delay)
		}
	}
	out := []rfEvent{ev}
	if _, ok := f.Decide(netfault.Events, netfault.Duplicate, subject); ok {
		out = append(out, ev)
	}
	return append(out, held...), nil, nil
}

// deliverWithRetries posts ev, retrying per the subscription's policy. It
// returns false when the subscription ended.
func (m *subscriptions) deliverWithRetries(ctx context.Context, s *subscription, ev rfEvent) bool {
	for {
		m.mu.Lock()
		suspended := s.Suspended
		m.mu.Unlock()
		if suspended {
			// Wait for ResumeSubscription, then try this event again.
			select {
			case <-s.stop:
				return false
			case <-s.resume:
			}
		}
		for attempt := 0; ; attempt++ {
			err := m.post(ctx, s, ev)
			if err == nil {
				m.delivered.Add(1)
				return true
			}
			if ctx.Err() != nil {
				return false
			}
			m.failedAttempts.Add(1)
			m.mu.Lock()
			policy, attempts, interval := s.DeliveryRetryPolicy, m.attempts, m.interval
			m.mu.Unlock()
			m.log.Warn("redfish: event delivery failed", "subscription", s.ID, "destination", s.Destination,
				"event_id", ev.ID, "attempt", attempt+1, "err", err)
			forever := policy == "RetryForever" || policy == "RetryForeverWithBackoff"
			if attempt >= attempts && !forever {
				if policy == "SuspendRetries" {
					m.mu.Lock()
					s.Suspended = true
					m.saveLocked()
					m.mu.Unlock()
					m.log.Warn("redfish: subscription suspended after retries", "subscription", s.ID)
					break
				}
				m.log.Warn("redfish: subscription terminated after retries", "subscription", s.ID)
				m.terminatedN.Add(1)
				m.mu.Lock()
				var tell func(string)
				if m.subs[s.ID] == s {
					delete(m.subs, s.ID)
					m.dropLog.Forget(s.ID)
					m.saveLocked()
					tell = m.terminated
				}
				m.mu.Unlock()
				if tell != nil {
					tell(s.ID)
				}
				return false
			}
			wait := interval
			if policy != "RetryForever" {
				// Back-off doubles from the interval, capped.
				for i := 0; i < attempt && wait < maxBackoff; i++ {
					wait *= 2
				}
				wait = min(wait, maxBackoff)
			}
			t := time.NewTimer(wait)
			select {
			case <-s.stop:
				t.Stop()
				return false
			case <-t.C:
			}
		}
	}
}

func (m *subscriptions) post(ctx context.Context, s *subscription, ev rfEvent) error {
	body, err := json.Marshal(eventPayload(ev, s.Context))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Destination, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	// Read (a bounded part of) the answer before closing it: a body left
	// unread makes the transport drop the connection, and every push to
	// a receiver that answers 200 with a body would open a new one.
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrainedReply)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("destination answered %s", resp.Status)
	}
	return nil
}

// checkDestination enforces http(s) and the allow-list of networks. Host
// names are resolved and every address must be allowed.
func (m *subscriptions) checkDestination(dest string) error {
	u, err := url.Parse(dest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return propErr(http.StatusBadRequest, "PropertyValueFormatError", "Destination", dest, "Destination")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return m.refuse(dest)
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				addrs = append(addrs, a)
			}
		}
	}
	for _, a := range addrs {
		a = a.Unmap()
		if !slices.ContainsFunc(m.allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return m.refuse(dest)
		}
	}
	return nil
}

func (m *subscriptions) refuse(dest string) error {
	nets := make([]string, len(m.allow))
	for i, p := range m.allow {
		nets[i] = p.String()
	}
	e := propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Destination", "Destination", dest)
	e.detail = fmt.Sprintf("Destination %s is outside the networks event subscriptions may reach (setting EventDestinationAllow: %s).",
		dest, strings.Join(nets, ", "))
	return e
}

// update applies a PATCH: nil leaves a property as it is. Push
// subscriptions are saved; an SSE member's change lives with its stream.
func (m *subscriptions) update(s *subscription, context, policy *string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if context != nil {
		s.Context = *context
	}
	if policy != nil {
		s.DeliveryRetryPolicy = *policy
	}
	if _, live := m.subs[s.ID]; live && !s.sse {
		m.saveLocked()
	}
}

// contextOf is the Context events carry, read under the lock because a
// PATCH may change it while the stream runs.
func (m *subscriptions) contextOf(s *subscription) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return s.Context
}

// queued is how many events wait in push subscribers' queues.
func (m *subscriptions) queued() (subs, events int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		if !s.sse {
			subs++
			events += len(s.q)
		}
	}
	return subs, events
}

// Package redfish serves the Redfish view (DSP0266, DSP8010 2025.4) of one
// emulated server. It holds no state of its own beyond accounts: every
// response is rendered from the platform snapshot current when the request
// arrives, so hot-plug shows up without any notification plumbing.
package redfish

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	pathpkg "path"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/events"
)

// Platform is what the service needs of the emulated server. A platform
// that also implements SetLocationIndicator(slot string, on bool) error
// (as *platform.Platform does) gets a writable Memory.LocationIndicatorActive.
type Platform interface {
	Snapshot() *platform.Snapshot
}

type indicatorSetter interface {
	SetLocationIndicator(slot string, on bool) error
}

// errorCountClearer starts a new error counting period for a module
// (MemoryMetrics.ClearCurrentPeriod).
type errorCountClearer interface {
	ClearMemoryErrorCounts(slot string) error
}

// Account is a local user allowed to authenticate. Role is one of
// Administrator, Operator or ReadOnly.
type Account struct {
	UserName string
	Password string
	Role     string
}

// Config configures New. Every field is optional.
type Config struct {
	// Accounts seeds an in-memory account store when AccountStore is nil.
	Accounts []Account
	// AccountStore is the BMC's user database, shared with IPMI. When set,
	// Accounts is ignored and AccountService changes persist through it.
	AccountStore *accounts.Store
	// Logger receives request and error logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for session timeouts; nil means time.Now.
	Now func() time.Time
	// RequireIfMatch makes PATCH without If-Match fail with 428
	// PreconditionRequired. Off by default because common clients
	// (python-sushy, Ansible) PATCH without it.
	RequireIfMatch bool

	// SEL is the IPMI System Event Log (ipmi.Server.SEL()), served as
	// Systems/1/LogServices/SEL; nil leaves only the Event log.
	SEL SELLog
	// SensorResolver maps a SEL record's sensor to its slot for
	// OriginOfCondition; nil uses bmcemu's IPMI numbering (Memory sensor
	// = slot ordinal + 1, Slot/Connector sensor = 60h + ordinal).
	SensorResolver SensorResolver
	// Events is the platform's event stream for the Event log, SSE and
	// push subscriptions; nil uses the Platform when it implements
	// EventSource (as *platform.Platform does). Call the handler's Close
	// method to stop consuming it.
	Events EventSource
	// EventBuffer is how many events the Event log and the SSE replay
	// buffer (Last-Event-ID) keep; 0 is 1000.
	EventBuffer int

	// EventDestinationAllow lists the networks push subscriptions may
	// send to; nil is loopback only (127.0.0.0/8, ::1). A Destination
	// outside them is refused with 400.
	EventDestinationAllow []netip.Prefix
	// StateDir keeps the subscriptions (redfish-subscriptions.json) across
	// restarts; "" keeps them in memory.
	StateDir string
	// DeliveryRetryAttempts (0: 3) and DeliveryRetryInterval (0: 30s) are
	// the EventService's retry settings; back-off doubles the interval.
	DeliveryRetryAttempts int
	DeliveryRetryInterval time.Duration
	// MaxEventSubscriptions bounds push subscriptions (0: 20) and
	// MaxSSEClients concurrent SSE streams (0: 10).
	MaxEventSubscriptions int
	MaxSSEClients         int
	// EventHTTPClient delivers push events; nil is a client with a 10 s
	// timeout that follows no redirects.
	EventHTTPClient *http.Client
	// Network is where the BMC's services listen, for the Manager's
	// NetworkProtocol and EthernetInterface; zero: not reported.
	Network NetworkConfig
	// ImageSourceAllow lists the networks virtual media and firmware
	// images may be fetched from; nil takes EventDestinationAllow's
	// (loopback unless configured). MaxImageBytes bounds an image (0:
	// 64 MiB); ImageHTTPClient fetches them (nil: no redirects, 60 s).
	ImageSourceAllow []netip.Prefix
	MaxImageBytes    int64
	ImageHTTPClient  *http.Client
	// RegistryDir holds DMTF message registries (Base.1.22.1.json, ...)
	// to serve under /redfish/v1/Registries; without it they are listed
	// with their DMTF publication URI only. The OEM registry is built in.
	RegistryDir string
	// Faults is the BMC's protocol fault injector; nil injects nothing.
	Faults Faults
	// Observe, when set, hears of every request the service answers: its
	// method, the status sent and the time from the service's first
	// middleware to its handlers' return (gin's routing before it is not
	// counted). A request whose connection a protocol fault dropped
	// unanswered is not reported. The service calls it itself, from
	// gin's record of the status, so that a caller counting requests
	// need not wrap every response writer (an allocation and three
	// indirect calls per response).
	Observe func(method string, code int, d time.Duration)
}

type service struct {
	platform       Platform
	accounts       *accounts.Store
	sessions       *sessionTable
	log            *slog.Logger
	now            func() time.Time
	requireIfMatch bool
	resources      []*resource

	sel            SELLog
	sensorResolver SensorResolver
	hub            *eventHub
	subs           *subscriptions
	pumpDropped    uint64
	events         *events.Handler // nil: no event source
	sseClients     atomic.Int64
	maxSSE         int
	sseStop        chan struct{}
	closeOnce      sync.Once
	registryDir    string
	renders        renderCache
	tasks          taskStore
	network        NetworkConfig
	auditLog       auditLog    // the Manager's log (auditlog.go)
	media          mediaConfig // how images are fetched (virtualmedia.go)
	faults         Faults      // nil: no protocol faults (faults.go)
	observe        func(method string, code int, d time.Duration)
}

// New returns the handler for /redfish and everything under /redfish/.
// Each call builds an independent service, so several emulated servers can
// share one process.
func New(cfg Config, p Platform) (http.Handler, error) {
	if p == nil {
		return nil, errors.New("redfish: nil platform")
	}
	s := &service{platform: p, log: cfg.Logger, now: cfg.Now, requireIfMatch: cfg.RequireIfMatch,
		sel: cfg.SEL, sensorResolver: cfg.SensorResolver, registryDir: cfg.RegistryDir, network: cfg.Network,
		media: newMediaConfig(cfg), faults: cfg.Faults, observe: cfg.Observe}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.hub = newEventHub(cfg.EventBuffer, s.log)
	s.maxSSE, s.sseStop = cfg.MaxSSEClients, make(chan struct{})
	if s.maxSSE <= 0 {
		s.maxSSE = defaultMaxSSEClients
	}
	subs, err := newSubscriptions(cfg, s.log)
	if err != nil {
		return nil, err
	}
	s.subs = subs
	if s.now == nil {
		s.now = time.Now
	}
	// A subscription its retry policy ended is removed as surely as one
	// a client deleted, and announced the same way.
	subs.onTerminated(func(id string) { s.publishLifecycle("ResourceRemoved", subscriptionPath(id), "") })
	s.accounts = cfg.AccountStore
	if s.accounts == nil {
		seed := make([]accounts.New, len(cfg.Accounts))
		for i, a := range cfg.Accounts {
			seed[i] = accounts.New{UserName: a.UserName, Password: a.Password, Role: a.Role, Enabled: true}
		}
		st, err := accounts.Open(accounts.Options{Seed: seed, Now: s.now})
		if err != nil {
			return nil, fmt.Errorf("redfish: %w: %w", errBadAccount, err)
		}
		s.accounts = st
	}
	s.sessions = newSessionTable(cfg.Now)
	s.hookFaults()
	if len(s.accounts.List()) == 0 {
		s.log.Warn("redfish: no accounts configured; only public resources are reachable")
	}

	// gin's mode is process-wide; leave it alone unless it is still the
	// default, whose route dump and warnings would bypass slog.
	if gin.Mode() == gin.DebugMode {
		gin.SetMode(gin.ReleaseMode)
	}
	e := gin.New()
	// Trailing slashes are tolerated by normalising the path in ServeHTTP,
	// not by redirecting: clients such as curl do not resend credentials
	// or bodies across redirects.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	// Route on the path as sent so an escaped "/" inside a segment stays
	// inside it (and 404s) instead of silently naming another resource.
	e.UseRawPath = true
	e.UnescapePathValues = true
	s.routes(e)
	h := &handler{engine: e, svc: s}
	src := cfg.Events
	if src == nil {
		src, _ = p.(EventSource)
	}
	if src != nil {
		s.events = src.Handle("redfish", 4096, s.pump)
	}
	return h, nil
}

// Close stops the event pump and the deliveries of push subscriptions.
// The handler keeps serving requests.
func (h *handler) Close() error {
	s := h.svc
	s.closeOnce.Do(func() {
		if s.events != nil {
			s.events.Close()
		}
		close(s.sseStop)
		s.subs.close()
	})
	return nil
}

// routes is the URI map of the service.
func (s *service) routes(e *gin.Engine) {
	e.Use(s.front)
	e.NoRoute(s.notFound)
	e.NoMethod(s.methodNotAllowed)

	s.handle(e, pathRedfish, resource{entity: "ServiceRoot", public: true, get: s.getVersions})
	s.handle(e, pathRoot, resource{entity: "ServiceRoot", public: true, get: s.getServiceRoot})
	s.handle(e, pathODataDoc, resource{entity: "ServiceRoot", public: true, get: s.getODataDocument})
	s.handle(e, pathMetadata, resource{entity: "ServiceRoot", public: true, raw: s.getMetadata})

	s.handle(e, pathSystems, resource{entity: "ComputerSystemCollection", get: s.getSystems})
	s.handle(e, pathSystems+"/:system", resource{entity: "ComputerSystem", get: s.getSystem, patch: s.patchSystem})
	s.handle(e, pathSystems+"/:system/Actions/ComputerSystem.Reset", resource{entity: "ComputerSystem", post: s.postReset})
	s.hostRoutes(e)
	s.handle(e, pathSystems+"/:system/LogServices", resource{entity: "LogServiceCollection", under: "ComputerSystem", get: s.getLogServices})
	s.handle(e, pathSystems+"/:system/LogServices/:log", resource{entity: "LogService", under: "ComputerSystem/LogServiceCollection", get: s.getLogService})
	s.handle(e, pathSystems+"/:system/LogServices/:log/Actions/LogService.ClearLog", resource{entity: "LogService", under: "ComputerSystem/LogServiceCollection", post: s.postClearLog})
	s.handle(e, pathSystems+"/:system/LogServices/:log/Entries", resource{entity: "LogEntryCollection", under: "ComputerSystem/LogServiceCollection/LogService", get: s.getLogEntries})
	s.handle(e, pathSystems+"/:system/LogServices/:log/Entries/:entry", resource{entity: "LogEntry", under: "ComputerSystem/LogServiceCollection/LogService/LogEntryCollection", get: s.getLogEntry})
	s.handle(e, pathSystems+"/:system/Memory", resource{entity: "MemoryCollection", get: s.getMemoryCollection, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/Memory/:memory", resource{entity: "Memory", get: s.getMemory, patch: s.patchMemory, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/Memory/:memory/MemoryMetrics", resource{entity: "MemoryMetrics", get: s.getMemoryMetrics, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/Memory/:memory/MemoryMetrics/Actions/MemoryMetrics.ClearCurrentPeriod", resource{entity: "MemoryMetrics", post: s.postClearCurrentPeriod})
	s.handle(e, pathSystems+"/:system/Memory/:memory/EnvironmentMetrics", resource{entity: "EnvironmentMetrics", under: "Memory", get: s.getEnvironmentMetrics, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/MemoryDomains", resource{entity: "MemoryDomainCollection", get: s.getMemoryDomains, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/MemoryDomains/:domain", resource{entity: "MemoryDomain", get: s.getMemoryDomain})
	s.handle(e, pathSystems+"/:system/MemoryDomains/:domain/MemoryChunks", resource{entity: "MemoryChunksCollection", get: s.getMemoryChunksCollection})
	s.handle(e, pathSystems+"/:system/MemoryDomains/:domain/MemoryChunks/:chunk", resource{entity: "MemoryChunks", get: s.getMemoryChunk})
	s.handle(e, pathChassis, resource{entity: "ChassisCollection", get: s.getChassisCollection})
	s.handle(e, pathChassis+"/:chassis", resource{entity: "Chassis", get: s.getChassis, patch: s.patchChassis})
	s.handle(e, pathChassis+"/:chassis/Sensors", resource{entity: "SensorCollection", get: s.getSensors, snapshotOnly: true})
	s.handle(e, pathChassis+"/:chassis/Sensors/:sensor", resource{entity: "Sensor", get: s.getSensor, snapshotOnly: true})
	s.handle(e, pathManagers, resource{entity: "ManagerCollection", get: s.getManagers})
	s.handle(e, pathManagers+"/:manager", resource{entity: "Manager", get: s.getManager, patch: s.patchManager, etag: etagIgnoringClock})

	s.handle(e, pathSessionService, resource{entity: "SessionService", get: s.getSessionService, patch: s.patchSessionService})
	s.handle(e, pathSessions, resource{entity: "SessionCollection", get: s.getSessions, post: s.postSession, publicPost: true})
	s.handle(e, pathSessions+"/:session", resource{entity: "Session", get: s.getSession, del: s.deleteSession, self: s.isOwnSession})

	s.handle(e, pathRegistries, resource{entity: "MessageRegistryFileCollection", get: s.getRegistries})
	s.handle(e, pathRegistries+"/:registry", resource{entity: "MessageRegistryFile", get: s.getRegistry})
	s.handle(e, pathRegistries+"/:registry/:file", resource{entity: "MessageRegistryFile", raw: s.serveRegistryJSON})
	s.handle(e, pathJSONSchemas, resource{entity: "JsonSchemaFileCollection", get: s.getJSONSchemas, snapshotOnly: true})
	s.handle(e, pathJSONSchemas+"/:schema", resource{entity: "JsonSchemaFile", get: s.getJSONSchema, snapshotOnly: true})
	s.handle(e, pathEventService, resource{entity: "EventService", get: s.getEventService, patch: s.patchEventService})
	s.handle(e, pathSubmitTest, resource{entity: "EventService", post: s.postSubmitTestEvent})
	s.handle(e, pathSSE, resource{entity: "EventService", raw: s.serveSSE})
	s.handle(e, pathSubscriptions, resource{entity: "EventDestinationCollection", get: s.getSubscriptions, post: s.postSubscription})
	s.handle(e, pathSubscriptions+"/:sub", resource{entity: "EventDestination", get: s.getSubscription, patch: s.patchSubscription, del: s.deleteSubscription, self: s.isOwnSubscription})
	s.handle(e, pathSubscriptions+"/:sub/Actions/EventDestination.ResumeSubscription", resource{entity: "EventDestination", post: s.postResumeSubscription, self: s.isOwnSubscription})
	s.handle(e, pathAccountService, resource{entity: "AccountService", get: s.getAccountService, patch: s.patchAccountService})
	s.handle(e, pathAccounts, resource{entity: "ManagerAccountCollection", get: s.getAccounts, post: s.postAccount})
	s.handle(e, pathAccounts+"/:account", resource{entity: "ManagerAccount", get: s.getAccount, patch: s.patchAccount, del: s.deleteAccount, self: s.isOwnAccount})
	s.handle(e, pathRoles, resource{entity: "RoleCollection", get: s.getRoles})
	s.handle(e, pathRoles+"/:role", resource{entity: "Role", get: s.getRole})
	s.taskRoutes(e)
	s.inventoryRoutes(e)
	s.cxlRoutes(e)
}

// notFound answers unknown URIs. Credentials are checked first so an
// anonymous client cannot map which URIs exist.
func (s *service) notFound(c *gin.Context) {
	if c.Request.Method == http.MethodPost && s.unknownAction(c) {
		return
	}
	uri := c.Request.URL.EscapedPath()
	if !isPublic(uri) && !s.authorize(c) {
		return
	}
	s.fail(c, errInvalidURI(uri))
}

// unknownAction answers a POST to <resource>/Actions/<name> that no route
// serves when <resource> is one the service has: DSP0266 and the Base
// registry ask for 400 ActionNotSupported there rather than 404, since the
// URI names an action of a real resource. The caller must first pass the
// checks a POST to the resource itself would (credentials, then the
// resource's POST privilege), so probing action names tells a client
// without that privilege nothing. It reports false, having written
// nothing, when the URI is not of that shape.
func (s *service) unknownAction(c *gin.Context) bool {
	if c.Request.URL.RawPath != "" {
		// An escaped "/" would let match see segments the client did
		// not send; such a URI stays an unknown one.
		return false
	}
	dir, name := pathpkg.Split(c.Request.URL.Path)
	base, ok := strings.CutSuffix(dir, "/Actions/")
	if !ok || name == "" {
		return false
	}
	res, params := s.match(base)
	// Only a resource that has a representation can hold actions: an
	// action route or a raw document cannot.
	if res == nil || res.get == nil || res.raw != nil {
		return false
	}
	p, err := s.authenticate(c)
	if err != nil {
		s.fail(c, err)
		return true
	}
	notePrincipal(c, p, false)
	req := &request{c: c, snap: s.platform.Snapshot(), params: params, who: p, authed: true}
	self := res.self != nil && res.self(req)
	if p.passwordChangeRequired && !passwordChangeAllowed(res, http.MethodPost, self) {
		s.fail(c, newAPIError(http.StatusForbidden, "PasswordChangeRequired", accountPath(p.accountID)))
		return true
	}
	if !allowedUnder(p.role, res.under, res.entity, http.MethodPost, self) {
		s.fail(c, errInsufficientPrivilege())
		return true
	}
	// A missing resource keeps its own 404 (ResourceNotFound).
	if _, err := res.get(req); err != nil {
		s.fail(c, err)
		return true
	}
	// "#Type.Action", the form of the keys of the Actions property and
	// of this service's other ActionNotSupported messages.
	s.fail(c, newAPIError(http.StatusBadRequest, "ActionNotSupported", "#"+name))
	return true
}

// methodNotAllowed answers a method the resource does not implement; gin
// has already set Allow to the methods it does.
func (s *service) methodNotAllowed(c *gin.Context) {
	if !isPublic(c.Request.URL.EscapedPath()) && !s.authorize(c) {
		c.Writer.Header().Del("Allow")
		return
	}
	if res, _ := s.match(c.Request.URL.Path); res != nil {
		c.Header("Allow", res.allow)
	}
	s.fail(c, errOperationNotAllowed())
}

// front is the service's one gin middleware: every request, routed or
// not, passes these steps in this order before its handler:
//
//  1. accessLog (debug level only)
//  2. injectFaults, before authentication, as a failing BMC's web
//     server would strike
//  3. audit, which looks at writes only
//  4. serveGuarded: panic recovery around checkODataVersion and the
//     route's handlers
//
// Steps 1 to 3 call next to go on. A read with nothing to log and no
// fault armed passes them untouched, so it goes straight to step 4: five
// gin middlewares cost a measurable share of a cached GET (issue 19's
// throughput target). Either way the request is then reported to
// Config.Observe, unless a fault dropped its connection.
func (s *service) front(c *gin.Context) {
	var start time.Duration
	if s.observe != nil {
		start = time.Since(epoch)
	}
	if m := c.Request.Method; (m == http.MethodGet || m == http.MethodHead) && !s.faultsArmed() &&
		!s.log.Enabled(c.Request.Context(), slog.LevelDebug) {
		s.serveGuarded(c)
	} else {
		s.accessLog(c, func() { s.injectFaults(c, func() { s.audit(c, func() { s.serveGuarded(c) }) }) })
		if _, dropped := c.Get(droppedKey); dropped {
			return
		}
	}
	if s.observe != nil {
		s.observe(c.Request.Method, c.Writer.Status(), time.Since(epoch)-start)
	}
}

// epoch is a time with a monotonic reading, so time.Since(epoch) reads
// the monotonic clock alone: one clock read where time.Now takes two.
var epoch = time.Now()

// checkODataVersion refuses a request for an OData version other than
// the 4.0 every response is written in: DSP0266 has the service reject it
// (412) rather than answer in a protocol the client did not ask for. It
// runs before authentication because the answer depends on nothing but
// the header, and for every URI, known or not. It reports whether the
// request may go on.
func (s *service) checkODataVersion(c *gin.Context) bool {
	// Index the map by the canonical key: Header.Values would canonicalise
	// "OData-Version" into a new string on every request.
	v := c.Request.Header[hdrODataVersion]
	if len(v) == 0 || len(v) == 1 && strings.TrimSpace(v[0]) == "4.0" {
		return true
	}
	s.fail(c, newAPIError(http.StatusPreconditionFailed, "HeaderInvalid", "OData-Version: "+strings.Join(v, ", ")))
	return false
}

func (s *service) accessLog(c *gin.Context, next func()) {
	if !s.log.Enabled(c.Request.Context(), slog.LevelDebug) {
		next()
		return
	}
	start := time.Now()
	var who principal
	c.Set(accessLogKey, &who)
	next()
	s.log.Debug("redfish request", "method", c.Request.Method, "path", c.Request.URL.Path,
		"status", c.Writer.Status(), "user", who.user, "remote", c.Request.RemoteAddr, "duration", time.Since(start))
}

// serveGuarded runs the route's handlers if checkODataVersion lets the
// request on, recovering a panic: one faulty handler must not take the
// listener down. The client gets InternalError and the log the stack.
func (s *service) serveGuarded(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.Error("redfish: handler panicked", "method", c.Request.Method, "path", c.Request.URL.Path,
			"panic", v, "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			s.fail(c, errInternal())
		}
		c.Abort()
	}()
	if s.checkODataVersion(c) {
		c.Next()
	}
}

// handler normalises the request path before routing.
type handler struct {
	engine *gin.Engine
	svc    *service
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		// Copy rather than modify: the request belongs to the caller.
		r2 := r.WithContext(r.Context())
		u := *r.URL
		u.Path = strings.TrimSuffix(p, "/")
		u.RawPath = strings.TrimSuffix(u.RawPath, "/")
		r2.URL = &u
		r = r2
	}
	h.engine.ServeHTTP(w, r)
}

// Stats are a service's counters and levels, read by the emulator's
// metrics at scrape time.
type Stats struct {
	Sessions         int    // open Redfish sessions
	Subscriptions    int    // push subscriptions
	SSEClients       int    // open SSE streams
	EventsQueued     int    // events waiting in push subscribers' queues
	EventsDelivered  uint64 // pushes a destination accepted
	DeliveryFailures uint64 // push attempts that failed (each retry counts)
	EventsDropped    uint64 // events a full subscriber queue dropped
	SubsTerminated   uint64 // subscriptions the retry policy ended
}

// StatsOf reads the Stats of a handler New returned.
func StatsOf(h http.Handler) (Stats, bool) {
	hh, ok := h.(*handler)
	if !ok {
		return Stats{}, false
	}
	s := hh.svc
	st := Stats{Sessions: s.sessions.count(), SSEClients: int(s.sseClients.Load())}
	if s.subs != nil {
		st.Subscriptions, st.EventsQueued = s.subs.queued()
		st.EventsDelivered, st.DeliveryFailures = s.subs.delivered.Load(), s.subs.failedAttempts.Load()
		st.EventsDropped, st.SubsTerminated = s.subs.dropped.Load(), s.subs.terminatedN.Load()
	}
	return st, true
}

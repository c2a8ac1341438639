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
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
)

// Platform is what the service needs of the emulated server.
type Platform interface {
	Snapshot() *platform.Snapshot
}

// Account is a local user allowed to authenticate. Role is one of
// Administrator, Operator or ReadOnly.
type Account struct {
	UserName string
	Password string
	Role     string
}

// Config configures New.
type Config struct {
	Accounts []Account
	// Logger receives request and error logs; nil discards them.
	Logger *slog.Logger
}

type service struct {
	platform Platform
	auth     *authenticator
	log      *slog.Logger
}

// New returns the handler for /redfish and everything under /redfish/.
// Each call builds an independent service, so several emulated servers can
// share one process.
func New(cfg Config, p Platform) (http.Handler, error) {
	if p == nil {
		return nil, errors.New("redfish: nil platform")
	}
	auth, err := newAuthenticator(cfg.Accounts)
	if err != nil {
		return nil, fmt.Errorf("redfish: %w", err)
	}
	s := &service{platform: p, auth: auth, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Accounts) == 0 {
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
	return &handler{engine: e}, nil
}

// routes is the URI map of the service.
func (s *service) routes(e *gin.Engine) {
	e.Use(s.accessLog, s.recoverPanics)
	e.NoRoute(s.notFound)
	e.NoMethod(s.methodNotAllowed)

	pub := e.Group("")
	s.get(pub, pathRedfish, s.getVersions)
	s.get(pub, pathRoot, s.getServiceRoot)
	s.get(pub, pathODataDoc, s.getODataDocument)
	pub.GET(pathMetadata, s.getMetadata)
	pub.HEAD(pathMetadata, s.getMetadata)

	api := e.Group("", s.requireAuth)
	s.get(api, pathSystems, s.getSystems)
	s.get(api, pathSystems+"/:system", s.getSystem)
	s.get(api, pathSystems+"/:system/Memory", s.getMemoryCollection)
	s.get(api, pathSystems+"/:system/Memory/:memory", s.getMemory)
	s.get(api, pathChassis, s.getChassisCollection)
	s.get(api, pathChassis+"/:chassis", s.getChassis)
	s.get(api, pathManagers, s.getManagers)
	s.get(api, pathManagers+"/:manager", s.getManager)
	s.get(api, pathSessionService, s.getSessionService)
	s.get(api, pathSessions, s.getSessions)
}

// notFound answers unknown URIs. Credentials are checked first so an
// anonymous client cannot map which URIs exist.
func (s *service) notFound(c *gin.Context) {
	uri := c.Request.URL.EscapedPath()
	if !isPublic(uri) && !s.authorize(c) {
		return
	}
	s.fail(c, errInvalidURI(uri))
}

// methodNotAllowed answers a method the resource does not implement; gin
// has already set Allow to the methods it does.
func (s *service) methodNotAllowed(c *gin.Context) {
	if !isPublic(c.Request.URL.EscapedPath()) && !s.authorize(c) {
		c.Writer.Header().Del("Allow")
		return
	}
	s.fail(c, errOperationNotAllowed())
}

func (s *service) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	user := ""
	if v, ok := c.Get(principalKey); ok {
		if p, ok := v.(principal); ok {
			user = p.user
		}
	}
	s.log.Debug("redfish request", "method", c.Request.Method, "path", c.Request.URL.Path,
		"status", c.Writer.Status(), "user", user, "remote", c.Request.RemoteAddr, "duration", time.Since(start))
}

// recoverPanics keeps one faulty handler from taking the listener down: the
// client gets InternalError and the log gets the stack.
func (s *service) recoverPanics(c *gin.Context) {
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
	c.Next()
}

// handler normalises the request path before routing.
type handler struct {
	engine *gin.Engine
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

package redfish

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// Faults is what the service needs of the BMC's protocol fault injector
// (platform/netfault): a decision per opportunity, the cold-reset state,
// and hooks for the faults that act on the service's own state.
type Faults interface {
	Active(s netfault.Surface) bool
	Decide(s netfault.Surface, k netfault.Kind, subject string) (netfault.Rule, bool)
	Resetting() bool
	OnAction(s netfault.Surface, k netfault.Kind, fn func(netfault.Rule))
	OnReset(fn func())
}

// hookFaults lets the injector end every session: a session expiry storm
// set without a trigger, and a cold reset (a real BMC forgets its
// sessions when it reboots).
func (s *service) hookFaults() {
	if s.faults == nil {
		return
	}
	expire := func() {
		if n := s.sessions.clear(); n > 0 {
			s.log.Info("redfish: every session ended (protocol fault)", "sessions", n)
		}
	}
	s.faults.OnAction(netfault.Redfish, netfault.SessionExpiry, func(netfault.Rule) { expire() })
	s.faults.OnReset(func() {
		expire()
		// Its streams end with it.
		for _, sub := range s.subs.list() {
			if sub.sse {
				s.subs.remove(sub.ID)
			}
		}
	})
}

// faultsArmed reports whether injectFaults could do anything to a request
// now: the BMC is in a cold reset or a Redfish rule is active.
func (s *service) faultsArmed() bool {
	return s.faults != nil && (s.faults.Resetting() || s.faults.Active(netfault.Redfish))
}

// injectFaults is the Redfish side of the fault rules. It runs first, so
// a fault strikes before authentication as a failing BMC's web server
// would, and the handlers below never see a request that was dropped.
func (s *service) injectFaults(c *gin.Context, next func()) {
	f := s.faults
	if f == nil {
		next()
		return
	}
	if f.Resetting() {
		// The BMC is rebooting: nothing listens. Closing at once is what
		// a client sees of a port whose server went away mid-connection.
		dropConnection(c)
		return
	}
	if !f.Active(netfault.Redfish) {
		next()
		return
	}
	subject := c.Request.Method + " " + c.Request.URL.Path + " from " + c.Request.RemoteAddr
	if _, ok := f.Decide(netfault.Redfish, netfault.SessionExpiry, subject); ok {
		n := s.sessions.clear()
		s.log.Info("redfish: every session ended (protocol fault)", "sessions", n)
	}
	if _, ok := f.Decide(netfault.Redfish, netfault.Drop, subject); ok {
		dropConnection(c)
		return
	}
	if r, ok := f.Decide(netfault.Redfish, netfault.Delay, subject); ok {
		t := time.NewTimer(r.Delay)
		select {
		case <-t.C:
		case <-c.Request.Context().Done():
			t.Stop()
			c.Abort()
			return
		}
	}
	if r, ok := f.Decide(netfault.Redfish, netfault.Error, subject); ok {
		s.fail(c, injectedError(r))
		return
	}
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead && c.GetHeader("If-Match") != "" {
		if _, ok := f.Decide(netfault.Redfish, netfault.StaleETag, subject); ok {
			// As if another client had changed the resource since the
			// ETag was read: the client's If-Match no longer matches.
			s.fail(c, newAPIError(http.StatusPreconditionFailed, "PreconditionFailed"))
			return
		}
		next()
		return
	}
	c.Writer = &staleETagWriter{ResponseWriter: c.Writer, f: f, subject: subject}
	next()
}

// injectedError is the answer of an error rule: 503 is the Base
// registry's ServiceTemporarilyUnavailable with Retry-After, as a BMC
// busy with an update answers; 500 InternalError; other 5xx GeneralError.
func injectedError(r netfault.Rule) *apiError {
	var e *apiError
	switch r.Status {
	case http.StatusServiceUnavailable:
		e = newAPIError(r.Status, "ServiceTemporarilyUnavailable", strconv.Itoa(r.RetryAfter))
	case http.StatusInternalServerError:
		e = errInternal()
	default:
		e = newAPIError(r.Status, "GeneralError")
	}
	e.retryAfter = time.Duration(r.RetryAfter) * time.Second
	return e
}

// droppedKey marks a request whose connection dropConnection took: it
// was never answered, so Config.Observe does not hear of it.
const droppedKey = "redfish.dropped"

// dropConnection closes the client's connection without an answer.
func dropConnection(c *gin.Context) {
	c.Abort()
	c.Set(droppedKey, true)
	if conn, _, err := c.Writer.Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	// A connection that cannot be taken over (HTTP/2) is aborted the way
	// net/http documents for that: the stream is reset.
	panic(http.ErrAbortHandler)
}

// staleETagWriter offers each response's ETag to the stale-etag rule, and
// when it strikes sends one that is not the resource's current ETag.
type staleETagWriter struct {
	gin.ResponseWriter
	f       Faults
	subject string
	done    bool
}

func (w *staleETagWriter) check() {
	if w.done {
		return
	}
	w.done = true
	h := w.ResponseWriter.Header()
	v := h[hdrETag]
	if len(v) == 0 || v[0] == "" {
		return
	}
	if _, ok := w.f.Decide(netfault.Redfish, netfault.StaleETag, w.subject); ok {
		// A new slice: cached renderings share theirs.
		h[hdrETag] = []string{staleETag(v[0])}
	}
}

// staleETag is an ETag of the same form that matches no representation.
func staleETag(etag string) string {
	sum := sha256.Sum256([]byte("stale " + etag))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// Unwrap lets cutStream reach the connection below.
func (w *staleETagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *staleETagWriter) WriteHeader(code int) { w.check(); w.ResponseWriter.WriteHeader(code) }
func (w *staleETagWriter) WriteHeaderNow()      { w.check(); w.ResponseWriter.WriteHeaderNow() }
func (w *staleETagWriter) Write(b []byte) (int, error) {
	w.check()
	return w.ResponseWriter.Write(b)
}
func (w *staleETagWriter) WriteString(s string) (int, error) {
	w.check()
	return w.ResponseWriter.WriteString(s)
}

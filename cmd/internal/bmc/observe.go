package bmc

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/webui"
	"github.com/bmcemu/bmcemu/platform/control"
)

// observe reports every request's surface, method, status and duration.
//
// It runs for every request, so it reads the clock twice rather than
// three times: time.Now reads the wall clock and the monotonic one, and
// only the monotonic one times a request.
func observe(h http.Handler, fn func(surface, method string, code int, d time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Since(epoch)
		sr := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sr, r)
		if sr.hijacked {
			return // no answer to count (a dropped connection)
		}
		surface := "redfish"
		switch p := r.URL.Path; {
		case p == control.Prefix || strings.HasPrefix(p, control.Prefix+"/"):
			surface = "control"
		case p == webui.Prefix || strings.HasPrefix(p, webui.Prefix+"/"):
			surface = "ui"
		}
		fn(surface, r.Method, sr.code, time.Since(epoch)-start)
	})
}

// epoch is a time with a monotonic reading, so time.Since(epoch) reads
// the monotonic clock alone.
var epoch = time.Now()

// statusRecorder keeps the status code; Flush and Unwrap keep SSE
// streaming through it (http.ResponseController finds the writer below).
type statusRecorder struct {
	http.ResponseWriter
	code     int
	wrote    bool
	hijacked bool
}

// Hijack lets a protocol fault close the connection unanswered.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil {
		s.hijacked = true
	}
	return c, rw, err
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package bmc

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// observe reports every request h answers as surface's, with its
// method, status and duration; with fn nil it is h itself.
//
// It reads the monotonic clock alone (time.Since(epoch)), where time.Now
// would read the wall clock too.
func observe(h http.Handler, surface string, fn func(surface, method string, code int, d time.Duration)) http.Handler {
	if fn == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Since(epoch)
		sr := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sr, r)
		if sr.hijacked {
			return // no answer to count (a dropped connection)
		}
		fn(surface, r.Method, sr.code, time.Since(epoch)-start)
	})
}

// surfaceObserver adapts fn for a surface that reports its own requests
// (redfish.Config.Observe); nil for nil.
func surfaceObserver(fn func(surface, method string, code int, d time.Duration), surface string) func(string, int, time.Duration) {
	if fn == nil {
		return nil
	}
	return func(method string, code int, d time.Duration) { fn(surface, method, code, d) }
}

// epoch is a time with a monotonic reading.
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

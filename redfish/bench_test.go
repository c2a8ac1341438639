package redfish

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetMemory is the in-process side of bench/run.sh: one GET of a
// Memory member through the whole pipeline (auth, snapshot, render, ETag).
func BenchmarkGetMemory(b *testing.B) { byCredential(b, benchServe) }

// byCredential runs one sub-benchmark of a GET of a Memory member with
// Basic auth and one with a session token, on a new handler.
func byCredential(b *testing.B, run func(*testing.B, http.Handler, *http.Request)) {
	h := newHandler(b, newPlatform(b))
	const target = "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"
	b.Run("basic", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.SetBasicAuth(adminUser, adminPass)
		run(b, h, r)
	})
	// One login for every run of the sub-benchmark: the framework runs
	// it once per b.N it tries, and an account holds at most
	// maxSessionsPerAccount sessions.
	w := do(b, h, http.MethodPost, "/redfish/v1/SessionService/Sessions", withBody(`{"UserName":"admin","Password":"password"}`))
	tok := w.Header().Get("X-Auth-Token")
	if tok == "" {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	b.Run("session", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("X-Auth-Token", tok)
		run(b, h, r)
	})
}

func benchServe(b *testing.B, h http.Handler, r *http.Request) {
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGetMemoryPipeline is BenchmarkGetMemory without
// httptest.ResponseRecorder, whose header clone and body buffer are most
// of that benchmark's time and all but one of its allocations: what is
// left is the Redfish pipeline's own cost (gin, middleware, credentials,
// privileges, render cache, headers).
func BenchmarkGetMemoryPipeline(b *testing.B) {
	byCredential(b, func(b *testing.B, h http.Handler, r *http.Request) {
		b.ReportAllocs()
		w := &discardWriter{h: http.Header{}}
		for b.Loop() {
			if code := w.serve(h, r); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
		}
	})
}

// BenchmarkGetMemoryPipelineParallel is BenchmarkGetMemoryPipeline from
// every P at once (run it with -cpu 2 or more): what one request costs
// when others are in flight on the other cores, as under wrk. State every
// request writes (a lock word, a counter, a session's idle timer) moves
// between the cores' caches and shows here, not in the serial benchmark.
func BenchmarkGetMemoryPipelineParallel(b *testing.B) {
	byCredential(b, func(b *testing.B, h http.Handler, r *http.Request) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{h: http.Header{}}
			for pb.Next() {
				if code := w.serve(h, r); code != http.StatusOK {
					b.Errorf("status %d", code)
					return
				}
			}
		})
	})
}

// discardWriter keeps the status and headers and drops the body.
type discardWriter struct {
	h    http.Header
	code int
}

// serve answers r into w, emptied first, and returns the status.
func (w *discardWriter) serve(h http.Handler, r *http.Request) int {
	clear(w.h)
	w.code = 0
	h.ServeHTTP(w, r)
	return w.code
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

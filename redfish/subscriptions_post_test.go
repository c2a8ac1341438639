package redfish

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A receiver that answers 200 with a body keeps one connection for many
// pushes: the answer is read before it is closed, so the transport can
// reuse the connection.
func TestPushReusesConnectionAfterBody(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"status":"received","detail":"`+strings.Repeat("x", 4096)+`"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	m, err := newSubscriptions(Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := &subscription{Destination: srv.URL + "/events", Context: "c"}
	for i := range 20 {
		if err := m.post(t.Context(), s, rfEvent{ID: uint64(i + 1), MessageID: "Test.1.0.0.Event"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 pushes opened %d connections, want 1", n)
	}
}

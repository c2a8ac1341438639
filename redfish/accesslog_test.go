package redfish

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
)

// syncBuffer lets the test read what the handler's logger wrote.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// The access log names the authenticated user, for Basic and for session
// requests, and nobody for an anonymous one; the principal reaches it
// through a slot only a logged request carries.
func TestAccessLogUser(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHandlerCfg(t, newPlatform(t), Config{Logger: log})
	target := "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"
	do(t, h, http.MethodGet, target, basic("reader", "reader-pw"))
	do(t, h, http.MethodGet, pathRoot, noAuth)
	var got []string
	for line := range bytes.SplitSeq(bytes.TrimSpace(buf.b.Bytes()), []byte("\n")) {
		var rec struct{ Msg, Path, User string }
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		if rec.Msg == "redfish request" {
			got = append(got, rec.Path+" "+rec.User)
		}
	}
	want := []string{target + " reader", pathRoot + " "}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("access log = %q, want %q", got, want)
	}
}

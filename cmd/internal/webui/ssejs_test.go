package webui

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/redfish/sse"
)

// TestSSEJS runs testdata/sse_check.js, which feeds static/sse.js (the
// event-stream parser both pages load) streams split at every point, in
// Node.js, and then random streams with the events redfish/sse (the Go
// clients' parser) read from them, so the two readers agree. The pages
// themselves are exercised in Chromium by the conformance tests; this
// pins the parser's corner cases, which the server never sends.
func TestSSEJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI must install nodejs")
		}
		t.Skip("node is not installed (apt-get install nodejs); skipping")
	}
	vectors := filepath.Join(t.TempDir(), "vectors.json")
	if err := os.WriteFile(vectors, sharedVectors(t), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/sse_check.js", "static/sse.js", vectors).CombinedOutput()
	if err != nil {
		t.Fatalf("sse_check.js: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

type vectorEvent struct {
	Type string `json:"type"`
	Data string `json:"data"`
	ID   string `json:"id"`
}

type vector struct {
	Stream string        `json:"stream"`
	Events []vectorEvent `json:"events"`
}

// sharedVectors makes streams out of the format's own pieces (field
// names, colons, spaces, each line end, a BOM, NUL, non-ASCII text) with
// a fixed seed, and reads each with redfish/sse.
func sharedVectors(t *testing.T) []byte {
	t.Helper()
	pieces := []string{"data", "event", "id", "retry", "foo", ":", ": ", " ", "\r", "\n", "\r\n", "\n\n", "x", "7", "\x00", "é", "\ufeff", "{\"a\":1}"}
	rng := rand.New(rand.NewPCG(1, 2))
	var vs []vector
	for range 500 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		v := vector{Stream: b.String()}
		if err := sse.Read(strings.NewReader(v.Stream), func(e sse.Event) bool {
			v.Events = append(v.Events, vectorEvent{Type: e.Type, Data: e.Data, ID: e.ID})
			return true
		}); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	out, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

package webui

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestSSEJS runs testdata/sse_check.js, which feeds static/sse.js (the
// event-stream parser both pages load) streams split at every point, in
// Node.js. The pages themselves are exercised in Chromium by the
// conformance tests; this pins the parser's corner cases, which the
// server never sends.
func TestSSEJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI must install nodejs")
		}
		t.Skip("node is not installed (apt-get install nodejs); skipping")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/sse_check.js", "static/sse.js").CombinedOutput()
	if err != nil {
		t.Fatalf("sse_check.js: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

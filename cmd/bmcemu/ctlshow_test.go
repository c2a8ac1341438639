package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// ctlServer serves a default board's control API on loopback.
func ctlServer(t *testing.T) string {
	t.Helper()
	b, err := bmc.New(bmc.Config{Profile: profile.Default(), User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.70.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.70.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: b.Handler()}}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return ts.URL
}

// brokenPipe fails every write, as stdout does once the reader of a pipe
// has gone.
type brokenPipe struct{}

var errBrokenPipe = errors.New("broken pipe")

func (brokenPipe) Write([]byte) (int, error) { return 0, errBrokenPipe }

func runCtl(t *testing.T, url string, out io.Writer, args ...string) error {
	t.Helper()
	cmd := newCtlCmd()
	cmd.SetArgs(append([]string{"--server", url, "--user", "admin", "--password", "password"}, args...))
	cmd.SetOut(out)
	cmd.SetErr(new(bytes.Buffer))
	cmd.SilenceUsage = true
	return cmd.ExecuteContext(t.Context())
}

// The commands that answer through show print a table or JSON, and a
// write that fails is the command's error (exit status), not lost:
// before show returned it, `ctl system` and `ctl cpusets` into a closed
// pipe exited 0.
func TestShowWritesOrFails(t *testing.T) {
	url := ctlServer(t)
	for _, args := range [][]string{
		{"system"}, {"host"}, {"blocks"}, {"meminfo"}, {"dmesg"}, {"acpi", "srat"}, {"memmap"},
		{"cpusets"}, {"ras"}, {"fault", "--list"}, {"homeagent"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var table bytes.Buffer
			if err := runCtl(t, url, &table, args...); err != nil || table.Len() == 0 {
				t.Fatalf("table: %v, %d bytes", err, table.Len())
			}
			var js bytes.Buffer
			if err := runCtl(t, url, &js, append([]string{"-o", "json"}, args...)...); err != nil {
				t.Fatalf("json: %v", err)
			}
			if !json.Valid(js.Bytes()) {
				t.Errorf("-o json printed %.200q", js.String())
			}
			for _, o := range []string{"table", "json"} {
				if err := runCtl(t, url, brokenPipe{}, append([]string{"-o", o}, args...)...); !errors.Is(err, errBrokenPipe) {
					t.Errorf("-o %s into a broken pipe: %v, want the write's error", o, err)
				}
			}
		})
	}
}

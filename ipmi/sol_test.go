package ipmi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

// The SOL console is the host's serial port: one attachment at a time,
// output from the attachment on, keystrokes to the host.
func TestSOLConsole(t *testing.T) {
	p := newPlatform(t)
	m := newMachine(p, discardLogger())
	con := m.Console()
	if con == nil {
		t.Fatal("no console")
	}
	c, err := con.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := con.Open(context.Background()); !errors.Is(err, errConsoleBusy) {
		t.Fatalf("second attachment: %v", err)
	}
	buf := make([]byte, 4096)
	if n, err := c.ReadAvailable(buf); n != 0 || err != nil {
		t.Fatalf("fresh attachment read %q %v", buf[:n], err)
	}
	// The running OS's getty answers.
	if _, err := c.Write([]byte("root\r")); err != nil {
		t.Fatal(err)
	}
	n, _ := c.ReadAvailable(buf)
	if got := string(buf[:n]); got != "root\r\nbmcemu-host login: " {
		t.Errorf("echo %q", got)
	}
	// The host's firmware prints too.
	if err := p.Reset(platform.ResetForceRestart); err != nil {
		t.Fatal(err)
	}
	n, _ = c.ReadAvailable(buf)
	if got := string(buf[:n]); !strings.Contains(got, "BIOS Version") || !strings.Contains(got, "\r\n") {
		t.Errorf("POST output %q", got)
	}
	c.Close()
	if _, err := c.ReadAvailable(buf); err == nil {
		t.Error("read after close")
	}
	c2, err := con.Open(context.Background())
	if err != nil {
		t.Fatalf("reattach: %v", err)
	}
	c2.Close()
}

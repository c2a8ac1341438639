package kernel

import (
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

const (
	MiB = uint64(1) << 20
	GiB = uint64(1) << 30
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// defaultMap is the embedded default server: 2 sockets x 8 channels x one
// 32 GiB DIMM = 256 GiB per node, with the 32-bit MMIO hole at 2-4 GiB.
func defaultMap() []Range {
	return []Range{
		{Start: 0, Size: 2 * GiB, Node: 0},
		{Start: 4 * GiB, Size: 254 * GiB, Node: 0},
		{Start: 258 * GiB, Size: 256 * GiB, Node: 1},
	}
}

func defaultIOMem() []Resource {
	return []Resource{
		{Start: 0x80000000, End: 0xfebfffff, Name: "PCI Bus 0000:00"},
		{Start: 0xfec00000, End: 0xffffffff, Name: "Reserved", Busy: true},
	}
}

func bootDefault(t testing.TB, cfg Config) (*Kernel, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(epoch)
	cfg.Clock = clk
	cfg.BareMetal = true
	if cfg.IOMem == nil {
		cfg.IOMem = defaultIOMem()
	}
	k, err := Boot(cfg, defaultMap())
	if err != nil {
		t.Fatalf("Boot: %v", err)
	}
	mustCheck(t, k)
	return k, clk
}

func mustCheck(t testing.TB, k *Kernel) {
	t.Helper()
	if err := k.CheckInvariants(); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

func dmesgText(k *Kernel) string {
	var b strings.Builder
	for _, l := range k.Dmesg(0) {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func wantLog(t testing.TB, k *Kernel, subs ...string) {
	t.Helper()
	text := dmesgText(k)
	for _, s := range subs {
		if !strings.Contains(text, s) {
			t.Errorf("dmesg lacks %q; got:\n%s", s, tail(text, 40))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func nodeByID(k *Kernel, id int) (Node, bool) {
	for _, n := range k.Nodes() {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

func zoneOf(n Node, name string) Zone {
	for _, z := range n.Zones {
		if z.Name == name {
			return z
		}
	}
	return Zone{}
}

package iommu

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

type logLine struct {
	level kernel.Level
	text  string
}

// logRec is a Logger that keeps every line.
type logRec struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *logRec) Printk(level kernel.Level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{level, fmt.Sprintf(format, args...)})
}

// since returns the texts logged after the first n lines.
func (l *logRec) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ln := range l.lines[n:] {
		out = append(out, ln.text)
	}
	return out
}

func (l *logRec) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *logRec) contains(sub string) bool {
	for _, s := range l.since(0) {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

type span struct{ addr, n uint64 }

// recMem records the physical ranges written while armed.
type recMem struct {
	*SparseMemory
	mu     sync.Mutex
	armed  bool
	writes []span
	// corrupt, when set, flips a byte of any write that lands in
	// [corruptLo, corruptHi): a bounce copy that did not take.
	corruptLo, corruptHi uint64
}

func (m *recMem) WritePhys(addr uint64, b []byte) {
	m.mu.Lock()
	if m.armed {
		m.writes = append(m.writes, span{addr, uint64(len(b))})
	}
	bad := len(b) > 0 && addr >= m.corruptLo && addr < m.corruptHi
	m.mu.Unlock()
	if bad {
		c := append([]byte(nil), b...)
		c[0] ^= 0xff
		b = c
	}
	m.SparseMemory.WritePhys(addr, b)
}

func (m *recMem) arm() {
	m.mu.Lock()
	m.armed, m.writes = true, nil
	m.mu.Unlock()
}

func (m *recMem) disarm() []span {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed = false
	return m.writes
}

const (
	testSwiotlbBase = 0x8000000 // 128 MiB
	kernelPage      = 0x100000  // a page of "kernel data"
)

func fill(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func newUnit(t testing.TB, cfg Config) (*Unit, *recMem, *logRec) {
	t.Helper()
	if cfg.SwiotlbBase == 0 {
		cfg.SwiotlbBase = testSwiotlbBase
	}
	mem := &recMem{SparseMemory: NewSparseMemory()}
	log := &logRec{}
	u, err := New(cfg, mem, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return u, mem, log
}

func read(mem Memory, addr uint64, n int) []byte {
	b := make([]byte, n)
	mem.ReadPhys(addr, b)
	return b
}

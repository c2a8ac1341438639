package platform

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The host's serial console (COM1, the Linux ttyS0): what the firmware and
// the OS print on it. A BMC reaches it two ways, and so does this one: a
// console log kept for the operator (the control API's /host/console) and
// Serial over LAN (IPMI v2.0 ch. 15), which streams the bytes as they come.
//
// The console is a bounded byte log with absolute offsets, so a reader
// (an SOL payload) can follow it without the log keeping a queue per
// reader; completed lines are indexed with their time for the log view.

const (
	consoleBytes = 256 << 10 // what the log keeps of the byte stream
	consoleLines = 4096      // and of the line index
)

// ConsoleLine is one line the host printed.
type ConsoleLine struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// ConsolePage is what ConsoleSince returns.
type ConsolePage struct {
	Lines []ConsoleLine `json:"lines"`
	// Partial is the line being written (a login prompt waits without a
	// newline).
	Partial string `json:"partial,omitempty"`
	// LastSeq is the newest complete line's sequence number: read again
	// with since = LastSeq.
	LastSeq uint64 `json:"last_seq"`
	// Truncated: lines after since fell out of the bounded log.
	Truncated bool `json:"truncated,omitempty"`
}

type hostConsole struct {
	mu      sync.Mutex
	buf     []byte // the newest bytes of the stream
	start   uint64 // stream offset of buf[0]
	lines   []ConsoleLine
	seq     uint64
	partial []byte
	changed chan struct{} // closed and replaced on every write
}

func newHostConsole() *hostConsole { return &hostConsole{changed: make(chan struct{})} }

// write appends s as printed at time at: "\n" ends a line and goes out as
// "\r\n", as a serial terminal expects.
func (c *hostConsole) write(at time.Time, s string) {
	if s == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := strings.ReplaceAll(s, "\n", "\r\n")
	c.buf = append(c.buf, out...)
	if over := len(c.buf) - consoleBytes; over > 0 {
		c.buf = append(c.buf[:0:0], c.buf[over:]...)
		c.start += uint64(over)
	}
	for _, b := range []byte(s) {
		switch b {
		case '\n':
			c.seq++
			c.lines = append(c.lines, ConsoleLine{Seq: c.seq, Time: at, Text: string(c.partial)})
			c.partial = c.partial[:0]
		case '\r':
		default:
			c.partial = append(c.partial, b)
		}
	}
	if over := len(c.lines) - consoleLines; over > 0 {
		c.lines = append(c.lines[:0:0], c.lines[over:]...)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// since returns the complete lines after seq.
func (c *hostConsole) since(seq uint64, max int) (ConsolePage, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pg := ConsolePage{Partial: string(c.partial), LastSeq: c.seq}
	i := len(c.lines)
	if len(c.lines) > 0 {
		first := c.lines[0].Seq
		if seq+1 < first {
			pg.Truncated = true
			i = 0
		} else {
			i = min(int(seq+1-first), len(c.lines))
		}
	}
	n := len(c.lines) - i
	if max > 0 && n > max {
		n = max
	}
	pg.Lines = append([]ConsoleLine{}, c.lines[i:i+n]...)
	if n > 0 {
		pg.LastSeq = pg.Lines[n-1].Seq
	}
	return pg, c.changed
}

// end is the stream offset after the last byte written.
func (c *hostConsole) end() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start + uint64(len(c.buf))
}

// read copies stream bytes from offset off into p and returns how many and
// the next offset. A reader that fell behind the log skips to its start.
func (c *hostConsole) read(off uint64, p []byte) (int, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off = max(off, c.start)
	i := int(off - c.start)
	if i >= len(c.buf) {
		return 0, off
	}
	n := copy(p, c.buf[i:])
	return n, off + uint64(n)
}

// ConsoleSince returns the console lines printed after line seq (0: all the
// log keeps), up to max of them, waiting up to wait (wall-clock time) for
// one when there is none yet.
func (p *Platform) ConsoleSince(ctx context.Context, seq uint64, max int, wait time.Duration) ConsolePage {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		pg, changed := p.console.since(seq, max)
		if len(pg.Lines) > 0 || pg.Truncated || wait <= 0 {
			return pg
		}
		select {
		case <-changed:
		case <-timeout:
			return pg
		case <-ctx.Done():
			return pg
		}
	}
}

// printf prints on the host console at the platform clock's time.
func (p *Platform) printf(format string, args ...any) {
	p.console.write(p.clock.Now(), fmt.Sprintf(format, args...))
}

// fwPrintf is the firmware printing: on the serial console only while
// console redirection (the SerialComm setting) is on. The OS's output goes
// to the serial console whatever the setting (console=ttyS0).
func (p *Platform) fwPrintf(format string, args ...any) {
	if p.biosSetting("SerialComm") == "OnNoConRedir" {
		return
	}
	p.printf(format, args...)
}

// ConsoleReader follows the console byte stream from where it was opened
// (Serial over LAN: a remote console sees what the host prints from then
// on) and types into the host.
type ConsoleReader struct {
	p   *Platform
	off uint64
}

// OpenConsole attaches a reader at the end of the console stream.
func (p *Platform) OpenConsole() *ConsoleReader {
	return &ConsoleReader{p: p, off: p.console.end()}
}

// ReadAvailable copies console output not read yet into b without waiting.
func (r *ConsoleReader) ReadAvailable(b []byte) int {
	n, next := r.p.console.read(r.off, b)
	r.off = next
	return n
}

// Type delivers keystrokes to the host's serial port. The firmware does not
// read the port outside its setup menus; a running OS has a getty on it,
// which echoes and answers Enter with its login prompt.
func (r *ConsoleReader) Type(b []byte) {
	r.p.consoleInput(b)
}

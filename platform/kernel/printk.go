package kernel

import (
	"fmt"
	"time"
)

// Level is a printk log level (KERN_*).
type Level uint8

// Log levels.
const (
	KernEmerg Level = iota
	KernAlert
	KernCrit
	KernErr
	KernWarning
	KernNotice
	KernInfo
	KernDebug
)

var levelNames = [...]string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level%d", l)
}

// MarshalText renders the level as dmesg --decode names it.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses a level name.
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if n == string(b) {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("kernel: unknown log level %q", b)
}

// LogLine is one record of the kernel ring buffer.
type LogLine struct {
	Seq   uint64        `json:"seq"` // from 1, without gaps
	Time  time.Duration `json:"time"`
	Level Level         `json:"level"`
	Text  string        `json:"text"`
}

// String formats the line like dmesg: "[   12.345678] text".
func (l LogLine) String() string {
	us := l.Time.Microseconds()
	return fmt.Sprintf("[%5d.%06d] %s", us/1e6, us%1e6, l.Text)
}

// printkRing is the bounded log buffer: the oldest lines go when the text
// exceeds limit bytes, as in printk's ring.
type printkRing struct {
	lines []LogLine
	bytes int
	limit int
	seq   uint64
}

func (r *printkRing) append(l LogLine) {
	r.seq++
	l.Seq = r.seq
	r.lines = append(r.lines, l)
	r.bytes += len(l.Text)
	drop := 0
	for r.bytes > r.limit && drop < len(r.lines)-1 {
		r.bytes -= len(r.lines[drop].Text)
		drop++
	}
	if drop > 0 {
		r.lines = r.lines[drop:]
		if cap(r.lines) > 2*len(r.lines)+64 {
			r.lines = append([]LogLine(nil), r.lines...)
		}
	}
}

func (k *Kernel) printk(level Level, format string, args ...any) {
	k.log.append(LogLine{Time: k.clk.Now().Sub(k.bootTime), Level: level, Text: fmt.Sprintf(format, args...)})
}

// Printk appends a line to the kernel log: drivers and the firmware's ACPI
// glue ("acpi PNP0C80:01: ...") log through it.
func (k *Kernel) Printk(level Level, format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.printk(level, format, args...)
}

// Dmesg returns the buffered lines with Seq > since (0: all of them).
func (k *Kernel) Dmesg(since uint64) []LogLine {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines := k.log.lines
	if len(lines) == 0 {
		return nil
	}
	i := 0
	if since >= lines[0].Seq {
		i = int(since - lines[0].Seq + 1)
	}
	if i >= len(lines) {
		return nil
	}
	return append([]LogLine(nil), lines[i:]...)
}

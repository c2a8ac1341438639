// Package sse reads a text/event-stream: the server-sent events of the
// Redfish EventService's SSE URI, the web UI's /ui/api/stream and the
// fleet grid's stream, as their clients (tests, the storm bench) see them.
//
// The parser follows the WHATWG HTML Standard, section 9.2.6
// "Interpreting an event stream", as the browser's EventSource does and as
// the web UI's static/sse.js does: lines end in CRLF, LF or a lone CR; a
// leading U+FEFF is dropped; a line starting with ':' is a comment; a line
// "field: value" loses one space after the colon and a line without a
// colon is a field with an empty value; the fields are event, data, id and
// retry (anything else is ignored); data lines are joined with "\n"; a
// blank line dispatches the event, unless it has no data; an event cut
// off by the end of the stream is discarded. Bytes are kept as they are,
// where a browser would decode them as UTF-8.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// MaxEventSize bounds a line and an event's data, so a stream that never
// ends a line cannot take all memory. The largest event bmcemu sends, the
// fleet grid's "members", is far below it.
const MaxEventSize = 16 << 20

// ErrTooLong is returned for a line or an event's data over MaxEventSize.
var ErrTooLong = errors.New("sse: event longer than MaxEventSize")

// Event is one dispatched event.
type Event struct {
	// Type is the event field, "message" when the event named none.
	Type string
	// Data is the data lines joined with "\n".
	Data string
	// ID is the stream's last event ID when the event was dispatched:
	// the latest id field, which stays until another replaces it (what a
	// client sends back in Last-Event-ID).
	ID string
	// Retry is the latest valid retry field of the stream so far (the
	// reconnection time it asks for), 0 if none.
	Retry time.Duration
}

// Reader reads events one at a time.
type Reader struct {
	br      *bufio.Reader
	started bool // the byte-order mark has been looked for
	afterCR bool // the last line ended in CR: a following LF ends nothing
	line    []byte
	typ     []byte
	data    []byte
	id      string
	retry   time.Duration
}

// NewReader returns a Reader of r's events.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next event. At the end of the stream it returns
// io.EOF (a partial event is dropped); a failed read is returned wrapped.
func (r *Reader) Next() (Event, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := r.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := r.field(line); err != nil {
			return Event{}, err
		}
	}
}

// Read hands r's events to f until f returns false (Read returns nil) or
// the stream ends (nil at the end, the wrapped error of a failed read).
func Read(r io.Reader, f func(Event) bool) error {
	sr := NewReader(r)
	for {
		ev, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !f(ev) {
			return nil
		}
	}
}

// readLine returns the next line without its end; the slice is valid
// until the next call.
func (r *Reader) readLine() ([]byte, error) {
	if !r.started {
		// Peek one byte at a time so a stream that pauses after a short
		// first line is not waited on.
		if b, err := r.br.Peek(1); err == nil && b[0] == 0xEF {
			if b, err := r.br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = r.br.Discard(3)
			}
		}
		r.started = true
	}
	if r.afterCR {
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, r.readErr(err)
		}
		r.afterCR = false
		if b[0] == '\n' {
			_, _ = r.br.Discard(1)
		}
	}
	r.line = r.line[:0]
	for {
		if _, err := r.br.Peek(1); err != nil {
			return nil, r.readErr(err)
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			r.line = append(r.line, buf...)
			_, _ = r.br.Discard(len(buf))
		} else {
			r.line = append(r.line, buf[:i]...)
			r.afterCR = buf[i] == '\r'
			_, _ = r.br.Discard(i + 1)
		}
		if len(r.line) > MaxEventSize {
			return nil, ErrTooLong
		}
		if i >= 0 {
			return r.line, nil
		}
	}
}

func (r *Reader) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("sse: reading the stream: %w", err)
}

func (r *Reader) field(line []byte) error {
	if line[0] == ':' {
		return nil
	}
	name, value, found := bytes.Cut(line, []byte(":"))
	if found {
		value = bytes.TrimPrefix(value, []byte(" "))
	}
	switch string(name) {
	case "event":
		r.typ = append(r.typ[:0], value...)
	case "data":
		if len(r.data)+len(value)+1 > MaxEventSize {
			return ErrTooLong
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = string(value)
		}
	case "retry":
		if len(value) > 0 && allDigits(value) {
			if ms, err := strconv.ParseInt(string(value), 10, 64); err == nil && ms <= int64(time.Duration(1<<63-1)/time.Millisecond) {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// dispatch ends the event at a blank line: one without data is dropped,
// but either way the event type and data start afresh and the last event
// ID stays.
func (r *Reader) dispatch() (Event, bool) {
	defer func() {
		r.typ = r.typ[:0]
		r.data = r.data[:0]
	}()
	if len(r.data) == 0 {
		return Event{}, false
	}
	ev := Event{Type: "message", Data: string(r.data[:len(r.data)-1]), ID: r.id, Retry: r.retry}
	if len(r.typ) > 0 {
		ev.Type = string(r.typ)
	}
	return ev, true
}

package sse

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func ev(typ, data, id string) Event { return Event{Type: typ, Data: data, ID: id} }

// streams are the cases the WHATWG rules decide, the same as the web UI's
// testdata/sse_check.js checks static/sse.js against.
var streams = []struct {
	name, in string
	want     []Event
}{
	{"named event", "event: member\ndata: {\"id\":1}\n\n", []Event{ev("member", `{"id":1}`, "")}},
	{"comment skipped", ": keepalive\n\nevent: a\ndata: x\n\n", []Event{ev("a", "x", "")}},
	{"multi-line data", "data: one\ndata: two\n\n", []Event{ev("message", "one\ntwo", "")}},
	{"CRLF", "event: e\r\ndata: d\r\n\r\n", []Event{ev("e", "d", "")}},
	{"CR", "event: e\rdata: d\r\rdata: f\r\r", []Event{ev("e", "d", ""), ev("message", "f", "")}},
	{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", []Event{ev("message", "a\nb\nc", "")}},
	{"one space dropped", "data:x\n\ndata:  y\n\n", []Event{ev("message", "x", ""), ev("message", " y", "")}},
	{"field alone", "data\n\n", []Event{ev("message", "", "")}},
	{"no data, no event", "event: e\n\n", nil},
	{"type resets", "event: e\n\ndata: a\n\n", []Event{ev("message", "a", "")}},
	{"id kept", "id: 7\ndata: a\n\ndata: b\n\n", []Event{ev("message", "a", "7"), ev("message", "b", "7")}},
	{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", []Event{ev("message", "a", "1"), ev("message", "b", "1")}},
	{"unknown field", "foo: bar\ndata: a\n\n", []Event{ev("message", "a", "")}},
	{"cut off at the end", "data: a\n\ndata: b\n", []Event{ev("message", "a", "")}},
	{"BOM", "\ufeffdata: a\n\n", []Event{ev("message", "a", "")}},
	{"colon in value", "data: a: b\n\n", []Event{ev("message", "a: b", "")}},
	{"bmcemu's web UI", ": keepalive\n\nevent: platform\nid: 12\ndata: {\"seq\":12}\n\n", []Event{ev("platform", `{"seq":12}`, "12")}},
}

func readAll(t *testing.T, r io.Reader) []Event {
	t.Helper()
	var got []Event
	if err := Read(r, func(e Event) bool { got = append(got, e); return true }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRead(t *testing.T) {
	for _, c := range streams {
		t.Run(c.name, func(t *testing.T) {
			if got := readAll(t, strings.NewReader(c.in)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("whole: got %q, want %q", got, c.want)
			}
			// A byte at a time: every line end and CRLF straddles reads.
			if got := readAll(t, iotest.OneByteReader(strings.NewReader(c.in))); !reflect.DeepEqual(got, c.want) {
				t.Errorf("byte by byte: got %q, want %q", got, c.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	got := readAll(t, strings.NewReader("retry: 1500\nretry: 1.5\nretry: x\nretry:\ndata: a\n\n"))
	if len(got) != 1 || got[0].Retry != 1500*time.Millisecond {
		t.Errorf("got %+v, want one event with Retry 1.5s", got)
	}
}

func TestReadStopsWhenAsked(t *testing.T) {
	n := 0
	err := Read(strings.NewReader("data: 1\n\ndata: 2\n\ndata: 3\n\n"), func(Event) bool { n++; return n < 2 })
	if err != nil || n != 2 {
		t.Errorf("%d events, %v; want 2, nil", n, err)
	}
}

func TestNextAtTheEnd(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\ndata: cut"))
	if e, err := r.Next(); err != nil || e.Data != "a" {
		t.Fatalf("%+v %v", e, err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("connection reset")
	err := Read(io.MultiReader(strings.NewReader("data: a\n"), iotest.ErrReader(boom)), func(Event) bool { return true })
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want it to wrap %v", err, boom)
	}
}

func TestTooLong(t *testing.T) {
	long := strings.Repeat("x", MaxEventSize/2+1)
	err := Read(strings.NewReader("data: "+long+"\ndata: "+long+"\n\n"), func(Event) bool { return true })
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("data over MaxEventSize: %v, want ErrTooLong", err)
	}
	err = Read(strings.NewReader(strings.Repeat(":", MaxEventSize+1)), func(Event) bool { return true })
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("line over MaxEventSize: %v, want ErrTooLong", err)
	}
}

// chunks returns in as reads cut where cuts says (each byte of cuts is the
// length of the next read, 0 meaning 1), so a fuzzer chooses the splits.
type chunks struct {
	in   []byte
	cuts []byte
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.cuts) > 0 {
		n = max(1, int(c.cuts[0]))
		c.cuts = c.cuts[1:]
	}
	n = min(n, len(c.in), len(p))
	copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}

// FuzzRead: no input makes Read panic, and the events of a stream do not
// depend on where the network cut it into reads.
func FuzzRead(f *testing.F) {
	for _, c := range streams {
		f.Add([]byte(c.in), []byte{3, 1, 7})
	}
	f.Add([]byte("retry: 10\rid: 1\r\n\r\n"), []byte{1})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		var whole, split []Event
		errWhole := Read(strings.NewReader(string(in)), func(e Event) bool { whole = append(whole, e); return true })
		errSplit := Read(&chunks{in: in, cuts: cuts}, func(e Event) bool { split = append(split, e); return true })
		if errWhole != nil || errSplit != nil {
			t.Fatalf("errors %v, %v", errWhole, errSplit)
		}
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("whole %q, split %q", whole, split)
		}
		for _, e := range whole {
			if e.Type == "" || strings.ContainsAny(e.Type, "\r\n") || strings.ContainsAny(e.ID, "\r\n\x00") || strings.Contains(e.Data, "\r") {
				t.Fatalf("event %q carries a line end or an empty type", e)
			}
		}
	})
}

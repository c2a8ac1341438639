package main

import (
	"strings"
	"testing"
	"time"
)

func TestReadSSE(t *testing.T) {
	in := ": keepalive\n\nevent: hello\ndata: {\"a\":1}\n\nid: 7\r\ndata: x\ndata: y\n\nid: 8\nevent: platform\ndata:z\n\n"
	type ev struct{ id, event, data string }
	var got []ev
	readSSE(strings.NewReader(in), func(id, event string, data []byte, at time.Time) {
		if at.IsZero() {
			t.Errorf("event %q has no arrival time", id)
		}
		got = append(got, ev{id, event, string(data)})
	})
	want := []ev{{"", "hello", `{"a":1}`}, {"7", "message", "x\ny"}, {"8", "platform", "z"}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p[0] != 50*time.Millisecond || p[1] != 99*time.Millisecond || p[2] != 100*time.Millisecond {
		t.Errorf("p50/p99/max of 1..100 ms: got %v", p)
	}
	if p := percentiles([]time.Duration{3}); p != [3]time.Duration{3, 3, 3} {
		t.Errorf("one sample: got %v", p)
	}
}

func TestMissingAndDedup(t *testing.T) {
	evs, dups := dedupByID([]arrival{{id: 5}, {id: 1}, {id: 2}, {id: 2}, {id: 9}, {id: 10}})
	if dups != 1 || len(evs) != 5 || evs[0].id != 1 || evs[4].id != 10 {
		t.Fatalf("dedupByID: %v, %d dups", evs, dups)
	}
	if got := missing(evs); got != "3-4 6-8" {
		t.Errorf("missing: got %q, want %q", got, "3-4 6-8")
	}
	if got := missing([]arrival{{id: 1}, {id: 3}}); got != "2" {
		t.Errorf("missing one: got %q", got)
	}
}

func TestLogSummary(t *testing.T) {
	log := `time=x level=WARN msg="queue full" id=1
time=x level=WARN msg="queue full" id=2
time=x level=INFO msg="other"
not a log line
`
	want := "       2 x WARN queue full\n       1 x INFO other\n"
	if got := logSummary(log); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

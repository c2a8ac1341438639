package testreport

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func sample() []Suite {
	return []Suite{{Name: "a", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Time: 1500 * time.Millisecond,
		Properties: [][2]string{{"profile", "default"}},
		Cases: []Case{
			{Name: "001 ok", Classname: "scenario.a", Time: time.Millisecond},
			{Name: "002 # not a directive", Classname: "scenario.a", Outcome: Fail, Message: "expected 1, seen 2", Detail: "expected: 1\n    seen: 2 <&>", File: "a.yaml", Line: 7},
			{Name: "003 broke", Classname: "scenario.a", Outcome: Error, Message: "HTTP 404", Detail: "HTTP 404"},
			{Name: "004 later", Classname: "scenario.a", Outcome: Skip, Message: "an earlier step could not run"},
		}}}
}

func TestJUnitCountsAndEscaping(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, "all", sample()); err != nil {
		t.Fatal(err)
	}
	var doc xmlSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	s := doc.Suites[0]
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 1 || s.Tests != 4 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 {
		t.Errorf("counts %+v / %+v", doc, s)
	}
	if f := s.Cases[1].Failure; f == nil || f.Text != "expected: 1\n    seen: 2 <&>" || s.Cases[1].Line != 7 {
		t.Errorf("failure %+v", s.Cases[1])
	}
	if s.Cases[2].Error == nil || s.Cases[3].Skipped == nil || s.Cases[0].Failure != nil {
		t.Errorf("cases %+v", s.Cases)
	}
	if s.Time != "1.500" || s.Timestamp != "2026-01-02T03:04:05" {
		t.Errorf("time %q timestamp %q", s.Time, s.Timestamp)
	}
}

func TestTAP(t *testing.T) {
	var b bytes.Buffer
	tp, err := NewTAP(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sample()[0].Cases {
		if err := tp.Case("a", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := tp.End(); err != nil {
		t.Fatal(err)
	}
	want := `TAP version 13
ok 1 - a: 001 ok
not ok 2 - a: 002 \# not a directive
  ---
  severity: fail
  at: "a.yaml:7"
  message: |
    expected: 1
        seen: 2 <&>
  ...
not ok 3 - a: 003 broke
  ---
  severity: error
  message: |
    HTTP 404
  ...
ok 4 - a: 004 later # SKIP an earlier step could not run
1..4
`
	if got := b.String(); got != want {
		t.Errorf("TAP:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(b.String(), "1..") != 1 {
		t.Error("plan twice")
	}
}

package scenario

import (
	"errors"
	"slices"
	"testing"
)

// FuzzParse feeds arbitrary scenario files to Parse: it never panics; a
// file it accepts has steps that each carry one action of a known kind
// and times in order; what it refuses is an *Error that names the file
// and says something.
//
//	go test ./cmd/internal/scenario -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	lib, err := Library()
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range lib {
		src, err := BuiltinSource(b.Name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"name: x\nprofile: default\ntimeline:\n  - {at: 1s, wait: 2s}\n",
		"name: x\nprofile: default\ntimeline:\n  - attention: A\n    remove: B\n",
		"name: x\nprofile: default\ntimeline:\n  - expect: {redfish: {path: /, property: a.b[0].c, equals: {x: [1, 2]}}, within: 1m}\n",
		"name: x\nprofile: default\ntimeline:\n  - expect: {os: {path: meminfo, at_least: 1, at_most: 2}}\n",
		"name: x\nprofile: default\ntimeline:\n  - {at: -1s, wait: 1s}\n",
		"name: x\nprofile: default\ntimeline:\n  - wait: -5s\n",
		"name: x\nprofile: default\ntimeline:\n  - ras_mode: Bogus\n",
		"name: x\nprofile: default\ntimeline: &a\n  - *a\n",
		"name: x\nprofile: default\ntimeline: []\n",
		"",
		"[",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sc, err := Parse("fuzz.yaml", src)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if se.File != "fuzz.yaml" || se.Msg == "" {
				t.Fatalf("error %+v names no file or says nothing", se)
			}
			if sc != nil {
				t.Fatal("a file and an error")
			}
			return
		}
		if len(sc.Timeline) == 0 {
			t.Fatal("no steps and no error")
		}
		kinds := Kinds()
		var prev *Step
		for i := range sc.Timeline {
			s := &sc.Timeline[i]
			if s.Action() == nil || !slices.Contains(kinds, s.Kind()) || s.Title() == "" {
				t.Fatalf("step %d: kind %q action %v", i, s.Kind(), s.Action())
			}
			if s.At != nil {
				if *s.At < 0 || prev != nil && prev.At != nil && *prev.At > *s.At {
					t.Fatalf("step %d at %s out of order", i, *s.At)
				}
				prev = s
			}
		}
	})
}

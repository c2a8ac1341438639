// Package testreport writes test results in the two forms CI systems read:
// JUnit XML (the Ant JUnit task's format, which Jenkins, GitLab and
// GitHub's report actions take) and TAP version 13 (the Test Anything
// Protocol, which prove and other TAP harnesses consume).
package testreport

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Outcome is how a case ended.
type Outcome int

// Outcomes.
const (
	Pass Outcome = iota
	Fail
	Error
	Skip
)

// Case is one test case.
type Case struct {
	Name      string
	Classname string
	Time      time.Duration
	Outcome   Outcome
	// Message is a one-line summary of a failure, error or skip; Detail
	// the full text (a diff of expected and seen).
	Message, Detail string
	// File and Line locate the case's source, when known.
	File string
	Line int
}

// Suite is a group of cases (one scenario).
type Suite struct {
	Name       string
	Timestamp  time.Time
	Time       time.Duration
	Properties [][2]string
	Cases      []Case
}

// Counts tallies a suite's cases.
func (s Suite) Counts() (tests, failures, errors, skipped int) {
	for _, c := range s.Cases {
		tests++
		switch c.Outcome {
		case Fail:
			failures++
		case Error:
			errors++
		case Skip:
			skipped++
		}
	}
	return
}

type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name       string        `xml:"name,attr"`
	Tests      int           `xml:"tests,attr"`
	Failures   int           `xml:"failures,attr"`
	Errors     int           `xml:"errors,attr"`
	Skipped    int           `xml:"skipped,attr"`
	Time       string        `xml:"time,attr"`
	Timestamp  string        `xml:"timestamp,attr"`
	ID         int           `xml:"id,attr"`
	Hostname   string        `xml:"hostname,attr"`
	Properties *xmlProps     `xml:"properties,omitempty"`
	Cases      []xmlTestcase `xml:"testcase"`
}

type xmlProps struct {
	Props []xmlProp `xml:"property"`
}

type xmlProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlTestcase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	File      string      `xml:"file,attr,omitempty"`
	Line      int         `xml:"line,attr,omitempty"`
	Failure   *xmlProblem `xml:"failure,omitempty"`
	Error     *xmlProblem `xml:"error,omitempty"`
	Skipped   *xmlProblem `xml:"skipped,omitempty"`
}

type xmlProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes suites as one <testsuites> document named name.
func WriteJUnit(w io.Writer, name string, suites []Suite) error {
	doc := xmlSuites{Name: name}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	var total time.Duration
	for i, s := range suites {
		t, f, e, sk := s.Counts()
		doc.Tests, doc.Failures, doc.Errors, doc.Skipped = doc.Tests+t, doc.Failures+f, doc.Errors+e, doc.Skipped+sk
		total += s.Time
		xs := xmlSuite{Name: s.Name, Tests: t, Failures: f, Errors: e, Skipped: sk, Time: seconds(s.Time),
			Timestamp: s.Timestamp.UTC().Format("2006-01-02T15:04:05"), ID: i, Hostname: host}
		if len(s.Properties) > 0 {
			xs.Properties = &xmlProps{}
			for _, p := range s.Properties {
				xs.Properties.Props = append(xs.Properties.Props, xmlProp{Name: p[0], Value: p[1]})
			}
		}
		for _, c := range s.Cases {
			xc := xmlTestcase{Name: c.Name, Classname: c.Classname, Time: seconds(c.Time), File: c.File, Line: c.Line}
			p := &xmlProblem{Message: c.Message, Text: c.Detail}
			switch c.Outcome {
			case Fail:
				p.Type = "ExpectationFailed"
				xc.Failure = p
			case Error:
				p.Type = "StepError"
				xc.Error = p
			case Skip:
				xc.Skipped = &xmlProblem{Message: c.Message}
			}
			xs.Cases = append(xs.Cases, xc)
		}
		doc.Suites = append(doc.Suites, xs)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write JUnit XML: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// TAP writes TAP version 13 as cases end, one line per case with a YAML
// diagnostic block under a failure, and the plan last (TAP allows a
// trailing plan), so a run that ends early still counts right.
type TAP struct {
	w io.Writer
	n int
}

// NewTAP starts a TAP stream.
func NewTAP(w io.Writer) (*TAP, error) {
	_, err := io.WriteString(w, "TAP version 13\n")
	return &TAP{w: w}, err
}

// End writes the plan.
func (t *TAP) End() error {
	_, err := fmt.Fprintf(t.w, "1..%d\n", t.n)
	return err
}

// Comment writes a diagnostic line ("# ...").
func (t *TAP) Comment(s string) error {
	for _, l := range strings.Split(s, "\n") {
		if _, err := fmt.Fprintf(t.w, "# %s\n", l); err != nil {
			return err
		}
	}
	return nil
}

// Case writes one test line.
func (t *TAP) Case(suite string, c Case) error {
	t.n++
	desc := tapEscape(suite + ": " + c.Name)
	var err error
	switch c.Outcome {
	case Pass:
		_, err = fmt.Fprintf(t.w, "ok %d - %s\n", t.n, desc)
	case Skip:
		_, err = fmt.Fprintf(t.w, "ok %d - %s # SKIP %s\n", t.n, desc, tapEscape(c.Message))
	default:
		sev := "fail"
		if c.Outcome == Error {
			sev = "error"
		}
		if _, err = fmt.Fprintf(t.w, "not ok %d - %s\n  ---\n  severity: %s\n", t.n, desc, sev); err != nil {
			return err
		}
		if c.File != "" {
			if _, err = fmt.Fprintf(t.w, "  at: %q\n", fmt.Sprintf("%s:%d", c.File, c.Line)); err != nil {
				return err
			}
		}
		if _, err = fmt.Fprintf(t.w, "  message: |\n%s  ...\n", indent(c.Detail, "    ")); err != nil {
			return err
		}
	}
	return err
}

// tapEscape keeps a description on one line and away from the directive
// separator ("#" starts SKIP/TODO).
func tapEscape(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "\\", "\\\\")
	return strings.ReplaceAll(s, "#", "\\#")
}

func indent(s, pre string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pre + l + "\n")
	}
	return b.String()
}

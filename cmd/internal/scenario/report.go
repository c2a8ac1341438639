package scenario

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bmcemu/bmcemu/cmd/internal/testreport"
)

// CaseOf is a step result as a test case: named by its index, simulated
// time and title, classed under the scenario.
func (r *Result) CaseOf(s StepResult) testreport.Case {
	c := testreport.Case{
		Name:      fmt.Sprintf("%03d at %s: %s", s.Index, s.At, s.Title),
		Classname: "scenario." + r.Name,
		Time:      s.Wall,
		File:      r.Source,
		Line:      s.Line,
	}
	switch s.Status {
	case Passed:
		c.Outcome = testreport.Pass
	case Skipped:
		c.Outcome = testreport.Skip
		c.Message = "an earlier step could not run"
	case Failed:
		c.Outcome = testreport.Fail
		var mm *Mismatch
		if errors.As(s.Err, &mm) {
			c.Message = "expected " + mm.Expected + ", seen " + firstLine(mm.Seen)
		}
		c.Detail = s.Err.Error()
	default:
		c.Outcome = testreport.Error
		c.Message = firstLine(s.Err.Error())
		c.Detail = s.Err.Error()
	}
	return c
}

// SetupCase is the case a scenario that could not start reports.
func (r *Result) SetupCase() testreport.Case {
	return testreport.Case{Name: "000 setup", Classname: "scenario." + r.Name, Outcome: testreport.Error,
		Message: firstLine(r.Setup.Error()), Detail: r.Setup.Error(), File: r.Source}
}

// Suite is the result as a test suite: a case per step.
func (r *Result) Suite(profile string) testreport.Suite {
	s := testreport.Suite{Name: r.Name, Timestamp: r.Started, Time: r.Wall,
		Properties: [][2]string{{"source", r.Source}, {"profile", profile}, {"simulated_seconds", fmt.Sprintf("%.3f", r.Simulated.Seconds())}}}
	if r.Setup != nil {
		s.Cases = append(s.Cases, r.SetupCase())
	}
	for _, st := range r.Steps {
		s.Cases = append(s.Cases, r.CaseOf(st))
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

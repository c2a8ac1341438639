package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// ProtocolFault sets a protocol fault rule (protocol_fault): the control
// API's rule (POST /emulator/v1/protocol-faults/{surface}/{kind}) in YAML,
// validated by netfault when the file is parsed. Durations are YAML
// durations (30s, 1500ms).
//
//   - protocol_fault: {surface: redfish, kind: error, every: 2, count: 4, status: 503}
type ProtocolFault struct {
	Surface     string        `yaml:"surface" validate:"required,max=16"`
	Kind        string        `yaml:"kind" validate:"required,max=32"`
	Probability *float64      `yaml:"probability"`
	Every       int           `yaml:"every"`
	Count       int           `yaml:"count"`
	Duration    time.Duration `yaml:"duration"`
	Delay       time.Duration `yaml:"delay"`
	Status      int           `yaml:"status"`
	RetryAfter  *int          `yaml:"retry_after_seconds"`
	Seconds     int           `yaml:"seconds"`
	Seed        *uint64       `yaml:"seed"`
}

// spec is the rule as the control API takes it.
func (p *ProtocolFault) spec() netfault.Spec {
	sp := netfault.Spec{Probability: p.Probability, Every: p.Every, Count: p.Count, Status: p.Status,
		RetryAfterSeconds: p.RetryAfter, Seconds: p.Seconds, Seed: p.Seed}
	if p.Duration != 0 {
		sp.Duration = p.Duration.String()
	}
	if p.Delay != 0 {
		sp.Delay = p.Delay.String()
	}
	return sp
}

// validate checks the rule with netfault's own validation; its errors
// name the JSON property, which is this step's YAML key of the same name.
func (p *ProtocolFault) validate(field string) error {
	_, err := p.spec().Rule(netfault.Surface(p.Surface), netfault.Kind(p.Kind))
	if err == nil {
		return nil
	}
	var ve *netfault.ValidationError
	if errors.As(err, &ve) && ve.Field != "" {
		return &fieldError{field + "." + ve.Field, ve.Msg}
	}
	if errors.Is(err, netfault.ErrUnknownKind) {
		return &fieldError{field + ".kind", err.Error()}
	}
	return &fieldError{field, err.Error()}
}

type setProtocolFault ProtocolFault

func (a *setProtocolFault) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "protocol fault %s/%s", a.Surface, a.Kind)
	switch {
	case a.Every > 0:
		fmt.Fprintf(&b, " every %d", a.Every)
	case a.Probability != nil:
		fmt.Fprintf(&b, " with probability %g", *a.Probability)
	}
	if a.Count > 0 {
		fmt.Fprintf(&b, ", %d times", a.Count)
	}
	if a.Duration > 0 {
		fmt.Fprintf(&b, " for %s", a.Duration)
	}
	return b.String()
}

func (a *setProtocolFault) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.SetProtocolFault(ctx, a.Surface, a.Kind, (*ProtocolFault)(a).spec())
	return err
}

// ProtocolFaultRef names the rule clear_protocol_fault clears: one
// surface's kind, a surface's every kind (kind left out or all), or every
// rule (surface all).
type ProtocolFaultRef struct {
	Surface string `yaml:"surface" validate:"required,max=16"`
	Kind    string `yaml:"kind" validate:"max=32"`
}

func (r *ProtocolFaultRef) kind() string {
	if r.Kind == "" {
		return "all"
	}
	return r.Kind
}

func (r *ProtocolFaultRef) validate(field string) error {
	if r.Surface == "all" && r.kind() == "all" {
		return nil
	}
	for _, ki := range netfault.Kinds() {
		if string(ki.Surface) == r.Surface && (r.kind() == "all" || string(ki.Kind) == r.Kind) {
			return nil
		}
	}
	return &fieldError{field, fmt.Sprintf("%s/%s is not a protocol fault (%s; kind all or left out clears a surface's, surface all every rule)", r.Surface, r.kind(), protocolFaultList())}
}

func protocolFaultList() string {
	var out []string
	for _, ki := range netfault.Kinds() {
		out = append(out, string(ki.Surface)+"/"+string(ki.Kind))
	}
	return strings.Join(out, ", ")
}

type clearProtocolFault ProtocolFaultRef

func (a *clearProtocolFault) Describe() string {
	return fmt.Sprintf("clear protocol fault %s/%s", a.Surface, (*ProtocolFaultRef)(a).kind())
}

func (a *clearProtocolFault) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.ClearProtocolFault(ctx, a.Surface, (*ProtocolFaultRef)(a).kind())
	return err
}

// ProtocolFaultCheck wants the BMC's count of injected faults of a
// surface's kind since the scenario started (GET
// /emulator/v1/protocol-faults) in a range; with neither bound, at least one.
type ProtocolFaultCheck struct {
	Surface string  `yaml:"surface" validate:"required,max=16"`
	Kind    string  `yaml:"kind" validate:"required,max=32"`
	AtLeast *uint64 `yaml:"at_least"`
	AtMost  *uint64 `yaml:"at_most"`
}

func (c *ProtocolFaultCheck) validate() error {
	for _, ki := range netfault.Kinds() {
		if string(ki.Surface) == c.Surface && string(ki.Kind) == c.Kind {
			if c.AtLeast != nil && c.AtMost != nil && *c.AtLeast > *c.AtMost {
				return &fieldError{".expect.protocol_fault.at_most", fmt.Sprintf("%d is below at_least %d", *c.AtMost, *c.AtLeast)}
			}
			return nil
		}
	}
	return &fieldError{".expect.protocol_fault.kind", fmt.Sprintf("%s/%s is not a protocol fault (%s)", c.Surface, c.Kind, protocolFaultList())}
}

func (c *ProtocolFaultCheck) bounds() (uint64, *uint64) {
	lo := uint64(1)
	if c.AtLeast != nil {
		lo = *c.AtLeast
	} else if c.AtMost != nil {
		lo = 0
	}
	return lo, c.AtMost
}

type protocolFaultChecker ProtocolFaultCheck

func (c *protocolFaultChecker) describe() string {
	lo, hi := (*ProtocolFaultCheck)(c).bounds()
	s := fmt.Sprintf("protocol fault %s/%s injected", c.Surface, c.Kind)
	switch {
	case hi != nil && lo == *hi:
		return fmt.Sprintf("%s %d times", s, lo)
	case hi != nil:
		return fmt.Sprintf("%s %d..%d times", s, lo, *hi)
	}
	return fmt.Sprintf("%s at least %d times", s, lo)
}

// async: pushes and IPMI answers are counted by the BMC's goroutines.
func (c *protocolFaultChecker) async() bool { return true }

func (c *protocolFaultChecker) check(ctx context.Context, env *Env) error {
	st, err := env.Control.ProtocolFaults(ctx)
	if err != nil {
		return err
	}
	var n uint64
	for _, t := range st.Totals {
		if string(t.Surface) == c.Surface && string(t.Kind) == c.Kind {
			n = t.Injected - min(t.Injected, env.pfBefore[c.Surface+"/"+c.Kind])
		}
	}
	lo, hi := (*ProtocolFaultCheck)(c).bounds()
	if n < lo || hi != nil && n > *hi {
		return &Mismatch{Expected: c.describe(), Seen: fmt.Sprintf("injected %d times", n)}
	}
	return nil
}

// IPMICheck wants the BMC to answer IPMI over LAN (a session and Get
// Device ID, each answer within a second), or with Answers false not to
// (while a cold reset keeps it silent).
type IPMICheck struct {
	Answers bool `yaml:"answers"`
}

// answerer is a SELSource that can also tell whether the BMC answers.
type answerer interface {
	Answers(ctx context.Context) error
}

type ipmiChecker IPMICheck

func (c *ipmiChecker) describe() string {
	if c.Answers {
		return "IPMI answers"
	}
	return "IPMI does not answer"
}

// async: a cold reset ends on the BMC's own time.
func (c *ipmiChecker) async() bool { return true }

func (c *ipmiChecker) check(ctx context.Context, env *Env) error {
	a, ok := env.SEL.(answerer)
	if !ok {
		return errors.New("the target has no IPMI over LAN to ask")
	}
	err := a.Answers(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch {
	case c.Answers && err != nil:
		return &Mismatch{Expected: c.describe(), Seen: err.Error()}
	case !c.Answers && err == nil:
		return &Mismatch{Expected: c.describe(), Seen: "a session and the device ID"}
	}
	return nil
}

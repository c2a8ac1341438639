package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bmcemu/bmcemu/platform/profile"
)

// Options tune a run.
type Options struct {
	// Settle is how long, on the wall clock, an expectation keeps checking
	// once its simulated time is up: the SEL and event pushes are written
	// by the BMC's goroutines after the step that caused them. Default 5s.
	Settle time.Duration
	// ReceiverAddr is where the event receiver listens (default
	// 127.0.0.1:0); a remote server must be able to reach it.
	ReceiverAddr string
	Logger       *slog.Logger
	// OnStep, when set, hears of each step as it ends.
	OnStep func(StepResult)
}

// Status is how a step ended.
type Status int

// Step outcomes.
const (
	Passed  Status = iota
	Failed         // an expectation did not hold: Err is a *Mismatch
	Errored        // the step could not do its work
	Skipped        // an earlier step errored
)

func (s Status) String() string {
	return [...]string{"passed", "failed", "error", "skipped"}[s]
}

// StepResult is one step's outcome.
type StepResult struct {
	Index int
	Title string
	Kind  string
	Line  int
	// At is the simulated time the step began; Wall how long it took on
	// the wall clock.
	At     time.Duration
	Wall   time.Duration
	Status Status
	Err    error
}

// Result is one scenario's run.
type Result struct {
	Name   string
	Source string // the file, or builtin:NAME
	Steps  []StepResult
	// Setup is an error that kept the scenario from running at all.
	Setup     error
	Started   time.Time
	Simulated time.Duration
	Wall      time.Duration
}

// Counts tallies the steps.
func (r *Result) Counts() (passed, failed, errored, skipped int) {
	for _, s := range r.Steps {
		switch s.Status {
		case Passed:
			passed++
		case Failed:
			failed++
		case Errored:
			errored++
		default:
			skipped++
		}
	}
	if r.Setup != nil {
		errored++
	}
	return
}

// OK says whether every step passed.
func (r *Result) OK() bool {
	_, f, e, s := r.Counts()
	return f == 0 && e == 0 && s == 0
}

// Run runs f against t. A failed expectation does not stop the timeline
// (later expectations still say what they see); a step that cannot do its
// work does, and the steps after it are skipped.
func Run(ctx context.Context, f *File, source string, t *Target, opts Options) *Result {
	if opts.Settle <= 0 {
		opts.Settle = 5 * time.Second
	}
	if opts.ReceiverAddr == "" {
		opts.ReceiverAddr = "127.0.0.1:0"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := &Result{Name: f.Name, Source: source, Started: time.Now()}
	defer func() {
		res.Wall = time.Since(res.Started)
		if res.Setup != nil {
			// Every step is still reported, so that counts agree with
			// the file whatever happened.
			res.skipAll(f)
		}
	}()
	// Built-in profiles are named one way on the command line and
	// another inside (what the target reports).
	if p, err := profile.Builtin(f.Profile); err != nil || p.Name != t.Profile {
		res.Setup = fmt.Errorf("the scenario needs profile %q; the target runs %q", f.Profile, t.Profile)
		return res
	}
	env := &Env{Control: t.Control, Redfish: t.Redfish, SEL: t.SEL, Clock: t.Clock, Settle: opts.Settle}
	needSEL, needEvents, needPF := false, false, false
	for i := range f.Timeline {
		if e := f.Timeline[i].Expect; e != nil {
			needSEL = needSEL || e.SEL != nil
			needEvents = needEvents || e.Event != nil
			needPF = needPF || e.ProtocolFault != nil
		}
	}
	if needPF {
		// The BMC counts injections over its life: the scenario's are
		// those after this.
		st, err := t.Control.ProtocolFaults(ctx)
		if err != nil {
			res.Setup = fmt.Errorf("read the protocol fault counters before the scenario: %w", err)
			return res
		}
		env.pfBefore = map[string]uint64{}
		for _, c := range st.Totals {
			env.pfBefore[string(c.Surface)+"/"+string(c.Kind)] = c.Injected
		}
	}
	if needSEL {
		recs, err := t.SEL.Records(ctx)
		if err != nil {
			res.Setup = fmt.Errorf("read the SEL before the scenario: %w", err)
			return res
		}
		env.selBefore = map[uint16]bool{}
		for _, r := range recs {
			env.selBefore[r.ID] = true
		}
	}
	if needEvents {
		stop, err := subscribe(ctx, env, f, opts, log)
		if err != nil {
			res.Setup = err
			return res
		}
		defer stop()
	}
	start := t.Clock.Elapsed()
	broken := false
	for i := range f.Timeline {
		s := &f.Timeline[i]
		sr := StepResult{Index: i + 1, Title: s.Title(), Kind: s.Kind(), Line: s.Line()}
		if broken {
			sr.Status = Skipped
			sr.At = t.Clock.Elapsed() - start
			res.Steps = append(res.Steps, sr)
			if opts.OnStep != nil {
				opts.OnStep(sr)
			}
			continue
		}
		w0 := time.Now()
		if s.At != nil {
			if d := *s.At - (t.Clock.Elapsed() - start); d > 0 {
				if err := t.Clock.Advance(ctx, d); err != nil {
					sr.Status, sr.Err = Errored, err
				}
			}
		}
		sr.At = t.Clock.Elapsed() - start
		if sr.Err == nil {
			sr.Err = s.Action().Run(ctx, env)
		}
		sr.Wall = time.Since(w0)
		var mm *Mismatch
		switch {
		case sr.Err == nil:
			sr.Status = Passed
		case errors.As(sr.Err, &mm):
			sr.Status = Failed
		default:
			sr.Status, broken = Errored, true
		}
		log.Debug("scenario step", "scenario", f.Name, "step", sr.Index, "at", sr.At, "title", sr.Title, "status", sr.Status, "err", sr.Err)
		res.Steps = append(res.Steps, sr)
		if opts.OnStep != nil {
			opts.OnStep(sr)
		}
	}
	res.Simulated = t.Clock.Elapsed() - start
	return res
}

// SetupFailed is the result of a scenario whose target could not be
// reached or built: every step skipped, the reason as the setup error.
func SetupFailed(f *File, source string, err error) *Result {
	res := &Result{Name: f.Name, Source: source, Started: time.Now(), Setup: err}
	res.skipAll(f)
	return res
}

func (r *Result) skipAll(f *File) {
	for i := range f.Timeline {
		s := &f.Timeline[i]
		r.Steps = append(r.Steps, StepResult{Index: i + 1, Title: s.Title(), Kind: s.Kind(), Line: s.Line(), Status: Skipped})
	}
}

// subscribe starts the event receiver and subscribes it through the
// Redfish EventService; stop unsubscribes and closes it.
func subscribe(ctx context.Context, env *Env, f *File, opts Options, log *slog.Logger) (stop func(), err error) {
	rcv, err := NewReceiver(opts.ReceiverAddr, log)
	if err != nil {
		return nil, err
	}
	loc, err := env.Redfish.Create(ctx, "/redfish/v1/EventService/Subscriptions", map[string]any{
		"Destination": rcv.URL(), "Protocol": "Redfish", "Context": "bmcemu scenario " + f.Name,
	})
	if err != nil {
		_ = rcv.Close()
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	env.Events = rcv
	return func() {
		if loc != "" {
			if u := pathOf(loc); u != "" {
				dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := env.Redfish.Delete(dctx, u); err != nil {
					log.Warn("could not delete the scenario's event subscription", "location", loc, "err", err)
				}
				cancel()
			}
		}
		_ = rcv.Close()
	}, nil
}

// pathOf is the path of a Location header (absolute URL or path).
func pathOf(loc string) string {
	if len(loc) > 0 && loc[0] == '/' {
		return loc
	}
	for _, p := range []string{"http://", "https://"} {
		if len(loc) > len(p) && loc[:len(p)] == p {
			rest := loc[len(p):]
			for i := range len(rest) {
				if rest[i] == '/' {
					return rest[i:]
				}
			}
		}
	}
	return ""
}

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/cmd/internal/scenario"
	"github.com/bmcemu/bmcemu/cmd/internal/scenario/inprocess"
	"github.com/bmcemu/bmcemu/cmd/internal/testreport"
	"github.com/bmcemu/bmcemu/platform/control"
)

func newScenarioCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Run scenario files: timelines of hardware actions, faults and expectations, with JUnit and TAP output",
		Long: `A scenario file (YAML) names a built-in profile and a timeline of steps,
each at a time on the simulated clock ("at: 30s", or right after the
previous step) doing one thing:

  ` + strings.Join(scenario.Kinds(), ", ") + `

An expect step checks one surface (redfish, os, emulator, sel or event)
until it holds or its "within" (simulated time) runs out. 'scenario show
builtin:hot-add' prints an example; the README has the reference.`,
	}
	cmd.AddCommand(newScenarioRunCmd(), &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios (run them as builtin:NAME)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lib, err := scenario.Library()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROFILE\tSTEPS\tDESCRIPTION")
			for _, b := range lib {
				fmt.Fprintf(tw, "builtin:%s\t%s\t%d\t%s\n", b.Name, b.Profile, b.Steps, firstSentence(b.Description))
			}
			return tw.Flush()
		},
	}, &cobra.Command{
		Use:               "show builtin:NAME",
		Short:             "Print a built-in scenario's file (a starting point for your own)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: builtinScenarios(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := scenario.BuiltinSource(strings.TrimPrefix(args[0], scenario.BuiltinPrefix))
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(src)
			return err
		},
	}, &cobra.Command{
		Use:               "validate FILE...",
		Short:             "Check scenario files without running them: errors name the file, line, column and field",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: builtinScenarios(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, a := range args {
				f, _, err := scenario.Load(a)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %s, profile %s, %d steps\n", a, f.Name, f.Profile, len(f.Timeline))
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d scenario files are invalid", bad, len(args))
			}
			return nil
		},
	})
	return cmd
}

// builtinScenarios completes builtin:NAME; files complete as usual
// (ShellCompDirectiveDefault) unless only built-ins make sense.
func builtinScenarios(files bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		lib, err := scenario.Library()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, b := range lib {
			if name := scenario.BuiltinPrefix + b.Name; strings.HasPrefix(name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(name, firstSentence(b.Description)))
			}
		}
		if files {
			return out, cobra.ShellCompDirectiveDefault
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

type scenarioRunOptions struct {
	target, serverID string
	allMembers       bool
	user, password   string
	speed            float64
	caCert           string
	insecure         bool
	junit            string
	tap              bool
	settle           time.Duration
	receiverAddr     string
	faultSeed        uint64
	logLevel         string
	timeout          time.Duration
}

func newScenarioRunCmd() *cobra.Command {
	o := &scenarioRunOptions{}
	cmd := &cobra.Command{
		Use:   "run FILE|builtin:NAME...",
		Short: "Run scenarios in-process (default) or against a running server (--target); exit 1 if an expectation fails",
		Long: `Run scenario files in order. By default each runs against a fresh BMC built in
this process from the scenario's profile, on ephemeral loopback ports and
with no state kept, on a simulated clock the engine steps: hardware steps
(training, a re-silver, a boot) take no wall time of their own. With
--target it runs against a
running server (serve), or with --server-id against one member of a
fleet, whose clock runs at its own --speed (tell it with --target-speed).

Each step is a test case: --junit FILE writes JUnit XML, --tap prints TAP
version 13 on standard output. A failed expectation prints what was
expected and what was seen; the exit status is 1 when any step failed or
could not run.`,
		Example: `  bmcemu scenario run builtin:mirror-failover --junit report.xml
  prove --exec 'bmcemu scenario run --tap' my.yaml other.yaml
  bmcemu scenario run builtin:hot-add --target http://127.0.0.1:8000 --target-speed 1000`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: builtinScenarios(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScenarios(cmd, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", "", "run against this running server's URL (its Redfish and control API listener, or a fleet's control listener with --server-id) instead of in-process")
	f.StringVar(&o.serverID, "server-id", "", "fleet: the member to run against, by id or address (default: the scenario's member)")
	f.BoolVar(&o.allMembers, "all-members", false, "fleet: run each scenario on every member of the fleet at --target, one after the other (reported as NAME@MEMBER)")
	f.StringVarP(&o.user, "user", "u", envOr("BMCEMU_USER", "admin"), "target account (env BMCEMU_USER)")
	f.StringVarP(&o.password, "password", "p", envOr("BMCEMU_PASSWORD", "password"), "target password (env BMCEMU_PASSWORD)")
	f.Float64Var(&o.speed, "target-speed", 1, "the target's serve --speed: simulated seconds per wall-clock second")
	f.StringVar(&o.caCert, "cacert", "", "PEM CA certificate for an HTTPS target (a fleet's fleet/ca.pem)")
	f.BoolVar(&o.insecure, "insecure", false, "do not verify an HTTPS target's certificate")
	f.StringVar(&o.junit, "junit", "", "write JUnit XML to this file")
	f.BoolVar(&o.tap, "tap", false, "print TAP version 13 on standard output instead of the readable report")
	f.DurationVar(&o.settle, "settle", 5*time.Second, "how long (wall clock) an expectation keeps checking after its simulated time is up: the SEL and event pushes are written asynchronously")
	f.StringVar(&o.receiverAddr, "receiver-addr", "127.0.0.1:0", "where the event receiver listens (the target must reach it and allow it: serve --event-destination-allow)")
	f.Uint64Var(&o.faultSeed, "fault-seed", 1, "in-process: the seed of injected faults' details")
	f.StringVar(&o.logLevel, "log-level", "warn", "in-process BMC's log level (standard error)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a scenario after this long (wall clock)")
	return cmd
}

func runScenarios(cmd *cobra.Command, o *scenarioRunOptions, args []string) error {
	// Every file is checked before any runs: a typo in the third file
	// should not cost the first two runs.
	type loaded struct {
		f   *scenario.File
		src string
	}
	var files []loaded
	for _, a := range args {
		f, src, err := scenario.Load(a)
		if err != nil {
			return err
		}
		files = append(files, loaded{f, src})
	}
	// On a terminal, a bar counts the steps of every run; log lines and
	// the readable report are written above it.
	var term *termLog
	stderr := cmd.ErrOrStderr()
	if progressWanted(cmd) {
		term = &termLog{w: stderr}
		stderr = term
	}
	log, err := newLogger(stderr, o.logLevel, "text")
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	var tap *testreport.TAP
	if o.tap {
		if tap, err = testreport.NewTAP(out); err != nil {
			return err
		}
	}
	// One run per file, or per file and member with --all-members.
	type job struct {
		lf     loaded
		member string
	}
	var jobs []job
	if o.allMembers {
		members, err := fleetMembers(cmd, o)
		if err != nil {
			return err
		}
		for _, lf := range files {
			for _, m := range members {
				jobs = append(jobs, job{lf, m})
			}
		}
	} else {
		for _, lf := range files {
			jobs = append(jobs, job{lf, cmp.Or(o.serverID, lf.f.Member)})
		}
	}
	steps := 0
	for _, j := range jobs {
		steps += len(j.lf.f.Timeline)
	}
	bar := term.start(int64(steps), "scenario")
	var suites []testreport.Suite
	failed := 0
	for i, j := range jobs {
		lf := j.lf
		desc := "scenario " + lf.f.Name
		if j.member != "" && o.target != "" {
			desc += "@" + j.member
		}
		if len(jobs) > 1 {
			desc = fmt.Sprintf("%s (%d/%d)", desc, i+1, len(jobs))
		}
		bar.Describe(desc)
		res := runOne(cmd, o, lf.f, lf.src, j.member, log, tap, func(scenario.StepResult) { bar.Add(1) })
		// A run that ended early (setup failed) still counts its steps.
		bar.Add(len(lf.f.Timeline) - len(res.Steps))
		suites = append(suites, res.Suite(lf.f.Profile))
		if !res.OK() {
			failed++
		}
		if tap != nil {
			if res.Setup != nil {
				// No step ran, so none was reported as it ended.
				if err := tap.Case(res.Name, res.SetupCase()); err != nil {
					return err
				}
				for _, st := range res.Steps {
					if err := tap.Case(res.Name, res.CaseOf(st)); err != nil {
						return err
					}
				}
			}
		} else {
			var b strings.Builder
			printResult(&b, res)
			term.above(out, b.String())
		}
	}
	term.stop(failed == 0)
	if tap != nil {
		if err := tap.End(); err != nil {
			return err
		}
	}
	if o.junit != "" {
		if err := writeJUnitFile(o.junit, suites); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d scenario runs failed", failed, len(jobs))
	}
	return nil
}

// runOne runs f against the in-process BMC or the target (member: a
// fleet member's id, or ""). A run on a member is named NAME@MEMBER.
// onStep, if not nil, hears of each step as it ends.
func runOne(cmd *cobra.Command, o *scenarioRunOptions, f *scenario.File, src, member string, log *slog.Logger, tap *testreport.TAP, onStep func(scenario.StepResult)) (res *scenario.Result) {
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	name := f.Name
	if o.target != "" && member != "" {
		name += "@" + member
	}
	defer func() { res.Name = name }()
	opts := scenario.Options{Settle: o.settle, ReceiverAddr: o.receiverAddr, Logger: log}
	opts.OnStep = onStep
	if tap != nil {
		named := &scenario.Result{Name: name, Source: src}
		opts.OnStep = func(sr scenario.StepResult) {
			_ = tap.Case(name, named.CaseOf(sr))
			if onStep != nil {
				onStep(sr)
			}
		}
	}
	var t *scenario.Target
	var err error
	if o.target == "" {
		t, err = inprocess.New(ctx, inprocess.Config{Profile: f.Profile, FaultSeed: o.faultSeed, Logger: log})
	} else {
		t, err = scenario.NewRemote(ctx, scenario.RemoteConfig{URL: o.target, ServerID: member, User: o.user, Password: o.password,
			Speed: o.speed, CACert: o.caCert, Insecure: o.insecure})
	}
	if err != nil {
		return scenario.SetupFailed(f, src, err)
	}
	defer func() {
		if cerr := t.Close(); cerr != nil {
			log.Warn("closing the scenario's target", "err", cerr)
		}
	}()
	return scenario.Run(ctx, f, src, t, opts)
}

// fleetMembers lists the members of the fleet --target's control
// listener serves.
func fleetMembers(cmd *cobra.Command, o *scenarioRunOptions) ([]string, error) {
	if o.target == "" || o.serverID != "" {
		return nil, errors.New("--all-members needs --target (a fleet's control listener) and no --server-id")
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	ms, err := (&control.Client{BaseURL: o.target, User: o.user, Password: o.password}).Servers(ctx)
	if err != nil {
		return nil, fmt.Errorf("--all-members: list the fleet at %s: %w", o.target, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("--all-members: the fleet at %s has no members", o.target)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids, nil
}

func printResult(w io.Writer, res *scenario.Result) {
	p, f, e, s := res.Counts()
	fmt.Fprintf(w, "scenario %s (%s)\n", res.Name, res.Source)
	if res.Setup != nil {
		fmt.Fprintf(w, "  ERROR    setup: %v\n", res.Setup)
	}
	for _, st := range res.Steps {
		if res.Setup != nil {
			break
		}
		mark := map[scenario.Status]string{scenario.Passed: "ok", scenario.Failed: "FAIL", scenario.Errored: "ERROR", scenario.Skipped: "skip"}[st.Status]
		fmt.Fprintf(w, "  %-5s %8s  %s\n", mark, st.At, st.Title)
		if st.Err != nil {
			fmt.Fprintf(w, "           %s:%d\n", res.Source, st.Line)
			for _, l := range strings.Split(st.Err.Error(), "\n") {
				fmt.Fprintf(w, "           %s\n", l)
			}
		}
	}
	fmt.Fprintf(w, "  %s simulated in %s wall clock\n", res.Simulated, res.Wall.Round(time.Millisecond))
	fmt.Fprintf(w, "%d passed, %d failed, %d errors, %d skipped\n", p, f, e, s)
}

func writeJUnitFile(path string, suites []testreport.Suite) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := testreport.WriteJUnit(fh, "bmcemu scenarios", suites); err != nil {
		fh.Close()
		return fmt.Errorf("--junit %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("--junit %s: %w", path, err)
	}
	return nil
}

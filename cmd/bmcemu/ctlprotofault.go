package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/netfault"
)

func ctlProtocolFault(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "protocol-fault list | set SURFACE KIND [flags] | clear SURFACE [KIND]",
		Short: "Make the BMC misbehave on the wire: Redfish 5xx, delays, drops, session storms, stale ETags; event pushes; SSE cuts; IPMI loss and cold resets",
		Long: `Protocol fault rules make the BMC itself misbehave the way real BMCs do,
per surface (redfish, events, sse, ipmi). A rule strikes on a share of its
opportunities (--probability, drawn from a PRNG seeded with --seed, default
serve --fault-seed) or on every Nth (--every); neither strikes every time,
and an action kind (redfish session-expiry, ipmi cold-reset) given neither
fires once, now. --count and --duration end a rule. Every injection is
counted (list, /metrics) and logged. Rules are not kept across restarts.`,
		Example: `  bmcemu ctl protocol-fault list
  bmcemu ctl protocol-fault set redfish error --status 503 --retry-after 2 --count 2
  bmcemu ctl protocol-fault set ipmi loss --probability 0.3 --seed 7
  bmcemu ctl protocol-fault set events reorder --every 5
  bmcemu ctl protocol-fault set ipmi cold-reset --seconds 20
  bmcemu ctl protocol-fault clear all`,
	}
	cmd.AddCommand(ctlProtocolFaultList(o), ctlProtocolFaultSet(o), ctlProtocolFaultClear(o))
	return cmd
}

func ctlProtocolFaultList(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the fault kinds, the live rules, what was injected and the last injections",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (netfault.Status, error) {
				return c.ProtocolFaults(ctx)
			}, printProtocolFaults)
		},
	}
}

func printProtocolFaults(w io.Writer, st netfault.Status) error {
	injected := map[string]uint64{}
	for _, c := range st.Totals {
		injected[string(c.Surface)+"/"+string(c.Kind)] = c.Injected
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SURFACE\tKIND\tINJECTED\tPARAMS\tWHAT IT DOES")
	for _, k := range st.Kinds {
		params := strings.Join(k.Params, ",")
		if k.Action {
			params = strings.TrimPrefix(params+",(action)", ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", k.Surface, k.Kind, injected[string(k.Surface)+"/"+string(k.Kind)], orDash(params), k.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(st.Rules) == 0 {
		fmt.Fprintln(w, "Rules: none")
	} else {
		fmt.Fprintln(w, "Rules:")
		for _, r := range st.Rules {
			fmt.Fprintf(w, "  %s/%s: %s; seen %d, injected %d\n", r.Surface, r.Kind, describeSpec(r.Spec), r.Seen, r.Injected)
		}
	}
	fmt.Fprintf(w, "Cold resets: %d by command, %d by fault\n", st.ColdResets["command"], st.ColdResets["fault"])
	if st.ResettingUntil != nil {
		fmt.Fprintf(w, "The BMC is in a cold reset until %s\n", st.ResettingUntil.Format(time.RFC3339))
	}
	if n := len(st.Recent); n > 0 {
		fmt.Fprintln(w, "Recent injections:")
		for _, in := range st.Recent[max(0, n-10):] {
			fmt.Fprintf(w, "  %s  %s/%s  %s\n", in.Time.Format("15:04:05.000"), in.Surface, in.Kind, in.Subject)
		}
	}
	return nil
}

func describeSpec(sp netfault.Spec) string {
	var parts []string
	switch {
	case sp.Every > 0:
		parts = append(parts, fmt.Sprintf("every %d", sp.Every))
	case sp.Probability != nil:
		parts = append(parts, fmt.Sprintf("probability %g", *sp.Probability))
	default:
		parts = append(parts, "every time")
	}
	if sp.Count > 0 {
		parts = append(parts, fmt.Sprintf("count %d", sp.Count))
	}
	if sp.Duration != "" {
		parts = append(parts, "for "+sp.Duration)
	}
	if sp.Delay != "" {
		parts = append(parts, "delay "+sp.Delay)
	}
	if sp.Status != 0 {
		parts = append(parts, fmt.Sprintf("status %d", sp.Status))
	}
	if sp.RetryAfterSeconds != nil && *sp.RetryAfterSeconds > 0 {
		parts = append(parts, fmt.Sprintf("Retry-After %d", *sp.RetryAfterSeconds))
	}
	if sp.Seconds > 0 {
		parts = append(parts, fmt.Sprintf("%d s", sp.Seconds))
	}
	if sp.Seed != nil {
		parts = append(parts, fmt.Sprintf("seed %d", *sp.Seed))
	}
	return strings.Join(parts, ", ")
}

func ctlProtocolFaultSet(o *ctlOptions) *cobra.Command {
	var sp netfault.Spec
	var prob float64
	var retryAfter int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "set SURFACE KIND",
		Short: "Set the rule of one surface's fault kind (replacing any rule there)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("probability") {
				sp.Probability = &prob
			}
			if f.Changed("retry-after") {
				sp.RetryAfterSeconds = &retryAfter
			}
			if f.Changed("seed") {
				sp.Seed = &seed
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (netfault.RuleStatus, error) {
				return c.SetProtocolFault(ctx, args[0], args[1], sp)
			}, func(w io.Writer, st netfault.RuleStatus) error {
				if st.Fired {
					fmt.Fprintf(w, "%s/%s: fired (%s)\n", st.Surface, st.Kind, describeSpec(st.Spec))
					return nil
				}
				_, err := fmt.Fprintf(w, "%s/%s: %s\n", st.Surface, st.Kind, describeSpec(st.Spec))
				return err
			})
		},
	}
	f := cmd.Flags()
	f.Float64Var(&prob, "probability", 0, "share of opportunities to strike (0..1)")
	f.IntVar(&sp.Every, "every", 0, "strike every Nth opportunity instead")
	f.IntVar(&sp.Count, "count", 0, "end the rule after N injections (0: never)")
	f.StringVar(&sp.Duration, "duration", "", "end the rule after this long (e.g. 30s)")
	f.StringVar(&sp.Delay, "delay", "", "delay kinds: how late (e.g. 1500ms); reorder: the longest hold")
	f.IntVar(&sp.Status, "status", 0, "redfish error: the 5xx status (default 503)")
	f.IntVar(&retryAfter, "retry-after", 0, "redfish error: Retry-After seconds (default 1 with a 503; 0 leaves it out)")
	f.IntVar(&sp.Seconds, "seconds", 0, "ipmi cold-reset: how long the BMC is silent (default 10)")
	f.Uint64Var(&seed, "seed", 0, "the rule's PRNG seed (default: serve --fault-seed)")
	return cmd
}

func ctlProtocolFaultClear(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "clear SURFACE [KIND]",
		Short: `Clear a rule (KIND omitted or "all": every rule of SURFACE; SURFACE "all": every rule)`,
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := "all"
			if len(args) == 2 {
				kind = args[1]
			}
			if args[0] == "all" && kind != "all" {
				return errors.New(`clear all takes no KIND`)
			}
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			n, err := o.client().ClearProtocolFault(ctx, args[0], kind)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]int{"cleared": n})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d rule(s) cleared\n", n)
			return nil
		},
	}
}

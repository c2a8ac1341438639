package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/ras"
)

func ctlRAS(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ras",
		Short: "Memory RAS: show the mode and redundancy; inject ECC errors; write and verify a workload",
		Long: `The RAS mode (AdvancedECC, RankSparing, Mirroring, AddressRangeMirror, RAID5)
is a firmware setting in the profile, applied at boot (try serve --profile
mirror|sparing|raid5|rangemirror).
Failing a mirror side or a RAID cartridge and replacing it are physical acts:
use 'ctl attention' / 'ctl remove' / 'ctl insert' on its slots.`,
		Example: `  bmcemu ctl ras
  bmcemu ctl ras workload --seed 1
  bmcemu ctl ras inject CPU0_DIMM_A1 --ue
  bmcemu ctl ras inject CPU0_DIMM_C1 --ce --count 10
  bmcemu ctl ras verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.RASView, error) {
				return c.RAS(ctx)
			}, printRAS)
		},
	}
	cmd.AddCommand(ctlRASInject(o), ctlRASFail(o), ctlRASStorm(o), ctlRASWorkload(o), ctlRASVerify(o), ctlRASMode(o))
	return cmd
}

func printRAS(w io.Writer, v control.RASView) error {
	const gib = 1 << 30
	mode := v.Mode
	if v.Requested != v.Mode {
		mode = fmt.Sprintf("%s (requested %s: %s)", v.Mode, v.Requested, v.ConfigError)
	}
	fmt.Fprintf(w, "Mode:        %s\nCapacity:    %d GiB installed, %d GiB usable\nRedundancy:  %s\n",
		mode, v.RawBytes/gib, v.UsableBytes/gib, orDash(v.Redundancy))
	if v.NextBoot != "" {
		fmt.Fprintf(w, "Next boot:   %s (firmware setting; applied when the host boots next)\n", v.NextBoot)
	}
	if j := v.Job; j != nil {
		fmt.Fprintf(w, "Running:     %s onto %s (%s): %d%%, %d of %d written pages\n", j.Kind, j.Slot, j.Set, j.Percent, j.Done, j.Total)
	}
	if wl := v.Workload; wl != nil {
		fmt.Fprintf(w, "Workload:    seed %d, %d pages written\n", wl.Seed, wl.Pages)
	}
	if vs := v.Verify; vs != nil {
		fmt.Fprintf(w, "Last verify: %d pages: %d matched, %d lost, %d mismatched %s\n", vs.Pages, vs.Matched, vs.Lost, vs.Mismatched, vs.FirstError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(v.Sets) > 0 {
		fmt.Fprintln(tw, "\nSET\tKIND\tSTATE\tUSABLE\tMODULES")
		for _, s := range v.Sets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d GiB\t%s\n", s.ID, s.Kind, s.State, s.UsableBytes/gib, strings.Join(s.Slots, " "))
		}
	}
	fmt.Fprintln(tw, "\nMODULE\tROLE\tSTATE\tSPARE RANKS\tCE (PERIOD/LIFE)\tUE (PERIOD/LIFE)\tCE LOGGING")
	names := make([]string, 0, len(v.Modules))
	for n := range v.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := v.Modules[n]
		logging := "on"
		if m.LoggingLimited {
			logging = "limit reached"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d/%d\t%d/%d\t%s\n", n, m.Role, m.State, m.SpareRanks,
			m.Errors.Current.CE, m.Errors.Lifetime.CE, m.Errors.Current.UE, m.Errors.Lifetime.UE, logging)
	}
	return tw.Flush()
}

func ctlRASInject(o *ctlOptions) *cobra.Command {
	var rank, count int
	var ce, ue bool
	var address string
	cmd := &cobra.Command{
		Use:     "inject SLOT (--ce | --ue) [--rank N] [--count N]",
		Short:   "Inject ECC errors on a module's rank, as the memory controller would report them",
		Example: "  bmcemu ctl ras inject CPU0_DIMM_C1 --ce --count 10   # crosses the CE threshold: spare copy\n  bmcemu ctl ras inject CPU0_DIMM_A1 --ue               # mirror failover",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ce == ue {
				return fmt.Errorf("give exactly one of --ce and --ue")
			}
			kind := "ce"
			if ue {
				kind = "ue"
			}
			req := control.ErrorRequest{Slot: args[0], Rank: &rank, Kind: kind, Count: count}
			if address != "" {
				a, err := strconv.ParseUint(address, 0, 64)
				if err != nil {
					return fmt.Errorf("--address %q: %w", address, err)
				}
				req.Address = &a
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
				return c.InjectErrors(ctx, req)
			}, func(w io.Writer, s control.Slot) error {
				return printSlots(w, []control.Slot{s})
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&ce, "ce", false, "correctable errors")
	f.BoolVar(&ue, "ue", false, "an uncorrectable error")
	f.IntVar(&rank, "rank", 0, "rank of the module")
	f.IntVar(&count, "count", 1, "how many errors")
	f.StringVar(&address, "address", "", "module-relative address inside the rank, e.g. 0x40000000 (default: the first page the workload wrote there)")
	return cmd
}

func ctlRASWorkload(o *ctlOptions) *cobra.Command {
	var seed uint64
	var pages int
	cmd := &cobra.Command{
		Use:   "workload [--seed N] [--pages N]",
		Short: "Write a deterministic pattern over the OS's memory (every module and rank gets some)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (ras.WorkloadStatus, error) {
				return c.RunWorkload(ctx, control.WorkloadRequest{Seed: seed, Pages: pages})
			}, func(w io.Writer, st ras.WorkloadStatus) error {
				_, err := fmt.Fprintf(w, "wrote %d pages (seed %d, every %d pages over %d ranges)\n", st.Pages, st.Seed, st.Stride, len(st.Ranges))
				return err
			})
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 1, "pattern seed")
	cmd.Flags().IntVar(&pages, "pages", 16384, "pages to write (4 KiB each)")
	return cmd
}

func ctlRASVerify(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Read the workload back and compare every byte; exits non-zero on any loss or corruption",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			vs, err := o.client().Verify(ctx)
			if err != nil {
				return err
			}
			if o.output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), vs); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%d pages read back: %d matched, %d lost, %d mismatched\n", vs.Pages, vs.Matched, vs.Lost, vs.Mismatched)
			}
			if !vs.OK() {
				return fmt.Errorf("verify failed: %s", vs.FirstError)
			}
			return nil
		},
	}
}

func ctlRASMode(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "mode MODE",
		Short: "Change the firmware's RAS mode (AdvancedECC, RankSparing, Mirroring, AddressRangeMirror, RAID5); it applies at the next boot",
		Long: `Like a BIOS setting, the mode is saved at once and applied when the server
boots next: reset the host (Redfish ComputerSystem.Reset, ipmitool chassis
power cycle) or restart the emulator (same --state-dir). A population that cannot
support the mode then boots in AdvancedECC with a configuration error. An
empty MODE ("") returns to the profile's setting.`,
		Example: "  bmcemu ctl ras mode Mirroring",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.RASView, error) {
				return c.SetRASMode(ctx, args[0])
			}, func(w io.Writer, v control.RASView) error {
				_, err := fmt.Fprintf(w, "RAS mode %s saved; running %s until the next boot\n", orDash(v.NextBoot), v.Mode)
				return err
			})
		},
	}
}

func ctlRASStorm(o *ctlOptions) *cobra.Command {
	var rank int
	var ce, ue float64
	var stop bool
	cmd := &cobra.Command{
		Use:   "storm SLOT --ce-per-sec N [--ue-per-sec N] [--rank N] | storm SLOT --stop",
		Short: "Make a module's rank produce ECC errors at a rate (a CE storm), until stopped",
		Long: `Errors arrive at random addresses of the rank as a Poisson process on the
emulator's clock (scaled by serve --speed, deterministic under --fault-seed).
A CE storm fills the rank's leaky bucket: the threshold trips (RankSparing:
spare copy) and the module's CE logging stops at its limit.`,
		Example: "  bmcemu ctl ras storm CPU0_DIMM_C1 --ce-per-sec 5\n  bmcemu ctl ras storm CPU0_DIMM_C1 --stop",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stop {
				ce, ue = 0, 0
			} else if ce == 0 && ue == 0 {
				return fmt.Errorf("give --ce-per-sec and/or --ue-per-sec, or --stop")
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
				return c.SetErrorRate(ctx, control.RateRequest{Slot: args[0], Rank: &rank, CEPerSec: &ce, UEPerSec: ue})
			}, func(w io.Writer, s control.Slot) error {
				_, err := fmt.Fprintf(w, "%s rank %d: %g CE/s, %g UE/s\n", s.Name, rank, ce, ue)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&rank, "rank", 0, "rank of the module")
	f.Float64Var(&ce, "ce-per-sec", 0, "correctable errors per simulated second")
	f.Float64Var(&ue, "ue-per-sec", 0, "uncorrectable errors per simulated second")
	f.BoolVar(&stop, "stop", false, "stop the errors")
	return cmd
}

func ctlRASFail(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "fail SLOT",
		Short: "Make a seated module (or its RAID cartridge) fail in place; replace it through attention, remove and insert",
		Example: "  bmcemu ctl ras fail CPU0_DIMM_C1   # mirror: fail over; raid5: the cartridge drops out\n" +
			"  bmcemu ctl attention CPU0_DIMM_C1 && bmcemu ctl remove CPU0_DIMM_C1",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
				return c.FailModule(ctx, args[0])
			}, func(w io.Writer, s control.Slot) error {
				return printSlots(w, []control.Slot{s})
			})
		},
	}
}

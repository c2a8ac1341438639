package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/spd"
)

type ctlOptions struct {
	server   string
	user     string
	password string
	output   string
	timeout  time.Duration
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func newCtlCmd() *cobra.Command {
	o := &ctlOptions{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Act on the emulated server's physical world (seat and pull DIMMs) through the control API",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if o.output != "table" && o.output != "json" {
				return fmt.Errorf("-o %q: want table or json", o.output)
			}
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", envOr("BMCEMU_SERVER", "http://127.0.0.1:8000"), "emulator URL (env BMCEMU_SERVER)")
	pf.StringVarP(&o.user, "user", "u", envOr("BMCEMU_USER", "admin"), "account (env BMCEMU_USER)")
	pf.StringVarP(&o.password, "password", "p", envOr("BMCEMU_PASSWORD", "password"), "password (env BMCEMU_PASSWORD)")
	pf.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&o.timeout, "timeout", 30*time.Second, "request timeout")
	cmd.AddCommand(ctlSystem(o), ctlSlots(o), ctlInsert(o), ctlRemove(o))
	return cmd
}

func (o *ctlOptions) client() *control.Client {
	return &control.Client{BaseURL: o.server, User: o.user, Password: o.password}
}

func (o *ctlOptions) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, o.timeout)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ctlSystem(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "system",
		Short: "Show the server's identity, power and memory topology",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			s, err := o.client().System(ctx)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), s)
			}
			power := "off"
			if s.PowerOn {
				power = "on"
			}
			m := s.Memory
			fmt.Fprintf(cmd.OutOrStdout(), "Profile:  %s\nSystem:   %s %s (serial %s)\nPower:    %s\nMemory:   %s-%d, %d socket(s) x %d controller(s) x %d channel(s) x %d slot(s)\nModules:  %d of %d slots populated, %d GiB installed\n",
				s.Profile, s.Manufacturer, s.Model, s.SerialNumber, power, m.Type, m.SpeedMTs, m.Sockets, m.ControllersPerSocket,
				m.ChannelsPerController, m.SlotsPerChannel, m.Populated, m.Slots, m.InstalledMiB/1024)
			return nil
		},
	}
}

func ctlSlots(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "slots [SLOT]",
		Short: "List the memory slots and what they hold",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			var slots []control.Slot
			if len(args) == 1 {
				s, err := o.client().Slot(ctx, args[0])
				if err != nil {
					return err
				}
				slots = []control.Slot{s}
			} else {
				var err error
				if slots, err = o.client().Slots(ctx); err != nil {
					return err
				}
			}
			if o.output == "json" {
				if len(args) == 1 {
					return writeJSON(cmd.OutOrStdout(), slots[0])
				}
				return writeJSON(cmd.OutOrStdout(), slots)
			}
			return printSlots(cmd.OutOrStdout(), slots)
		},
	}
}

func printSlots(w io.Writer, slots []control.Slot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tSOCKET\tCHANNEL\tSTATE\tCAPACITY\tTYPE\tSPEED\tRANKS\tMANUFACTURER\tPART NUMBER\tSERIAL")
	for _, s := range slots {
		if s.Module == nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\n", s.Name, s.Socket, s.Channel, s.State)
			continue
		}
		m := s.Module
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d GiB\t%s %s\t%d MT/s\t%d\t%s\t%s\t%s\n", s.Name, s.Socket, s.Channel, s.State,
			m.CapacityMiB/1024, m.Type, m.BaseModule, m.SpeedMTs, m.Ranks, m.Manufacturer, orDash(m.PartNumber), m.SerialNumber)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func ctlInsert(o *ctlOptions) *cobra.Command {
	var req control.ModuleRequest
	var typ, base, spdFile string
	cmd := &cobra.Command{
		Use:   "insert SLOT",
		Short: "Seat a memory module in an empty slot",
		Long: `Seat a memory module in an empty slot. Unset properties take the board's
defaults (its DRAM type and speed, a 32 GiB RDIMM). --spd-file seats a module
with exactly that EEPROM image, e.g. a deliberately corrupt one.`,
		Example: "  bmcemu ctl insert CPU0_DIMM_A2 --capacity-gib 64\n  bmcemu ctl insert CPU1_DIMM_C2 --capacity-gib 128 --ranks 2 --manufacturer Micron -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Type, req.BaseModule = spd.DeviceType(strings.ToUpper(typ)), spd.ModuleType(strings.ToUpper(base))
			if spdFile != "" {
				img, err := os.ReadFile(spdFile)
				if err != nil {
					return fmt.Errorf("--spd-file: %w", err)
				}
				req.SPD = img
			}
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			s, err := o.client().Insert(ctx, args[0], req)
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), s)
			}
			return printSlots(cmd.OutOrStdout(), []control.Slot{s})
		},
	}
	f := cmd.Flags()
	f.IntVar(&req.CapacityGiB, "capacity-gib", 0, "module capacity in GiB (default 32)")
	f.StringVar(&typ, "type", "", "DRAM type: DDR5 or DDR4 (default: the board's)")
	f.StringVar(&base, "base-module", "", "RDIMM, UDIMM, SO_DIMM or LRDIMM (default RDIMM)")
	f.IntVar(&req.Ranks, "ranks", 0, "rank count (default 1, or 2 above 32 GiB)")
	f.IntVar(&req.SpeedMTs, "speed", 0, "data rate in MT/s (default: the board's)")
	f.StringVar(&req.Manufacturer, "manufacturer", "", "Samsung, SK hynix, Micron Technology, Kingston, Smart Modular")
	f.StringVar(&req.PartNumber, "part-number", "", "part number (at most 30 characters)")
	f.Uint32Var(&req.SerialNumber, "serial", 0, "serial number (default: derived)")
	f.StringVar(&spdFile, "spd-file", "", "raw SPD EEPROM image to seat instead of building one")
	return cmd
}

func ctlRemove(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove SLOT",
		Short: "Pull the module out of a slot",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			m, err := o.client().Remove(ctx, args[0])
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s: %d GiB %s %s, serial %s\n", args[0], m.CapacityMiB/1024, m.Type, m.BaseModule, m.SerialNumber)
			return nil
		},
	}
}

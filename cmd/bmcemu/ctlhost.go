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
)

func ctlHost(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "host",
		Short: "Show the host's power and boot state: POST stage, the device it booted from, the boot order",
		Long: `The host powers on through POST (processors, memory training, PCI) to its
boot manager, which tries the BMC's one-time boot override and then the boot
order, device by device, until one boots its OS. Power it with Redfish
(ComputerSystem.Reset) or IPMI (chassis power); watch it with 'ctl console'.`,
		Example: "  bmcemu ctl host\n  bmcemu ctl host -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Host, error) {
				return c.Host(ctx)
			}, printHost)
		},
	}
}

func printHost(w io.Writer, h control.Host) error {
	fmt.Fprintf(w, "Power:          %s\nBoot progress:  %s (POST code 0x%02X)\n", h.PowerState, h.BootProgress, h.PostCode)
	if h.OSRunning {
		fmt.Fprintf(w, "OS:             running, booted from %s (%s)\n", h.BootTarget, h.BootDevice)
	} else if h.Reason != "" {
		fmt.Fprintf(w, "OS:             not running: %s\n", h.Reason)
	}
	fmt.Fprintf(w, "Boots:          %d since the BMC started (last: %s)\n", h.BootCount, orDash(h.Cause))
	fmt.Fprintf(w, "Boot override:  %s, %s, %s\n", h.BootOverride.Target, h.BootOverride.Enabled, h.BootOverride.Mode)
	fmt.Fprintf(w, "Boot MAC:       %s\n", h.BootMAC)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nORDER\tOPTION\tDEVICE\tACTIVE")
	for i, ref := range h.BootOrder {
		for _, bo := range h.BootOptions {
			if bo.Ref == ref {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%v\n", i+1, bo.Ref, bo.Name, bo.Enabled)
			}
		}
	}
	if len(h.Attempts) > 0 {
		fmt.Fprintln(tw, "\nTRIED\tDEVICE\tOUTCOME")
		for _, a := range h.Attempts {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Target, a.Device, a.Outcome)
		}
	}
	return tw.Flush()
}

func ctlConsole(o *ctlOptions) *cobra.Command {
	var follow bool
	var since uint64
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Print the host's serial console log (POST, boot manager, kernel); -f follows it",
		Long: `The host's serial console (ttyS0) as the BMC logs it: the firmware's POST
messages, memory training, the boot manager (a PXE attempt shows its
DHCPDISCOVER from the NIC's MAC), the kernel's boot log. IPMI 'sol activate'
streams the same output.`,
		Example: "  bmcemu ctl console\n  bmcemu ctl console -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := o.client()
			out := cmd.OutOrStdout()
			for {
				ctx, cancel := o.ctx(cmd.Context())
				wait := time.Duration(0)
				if follow {
					wait = 25 * time.Second
				}
				pg, err := c.Console(ctx, since, wait)
				cancel()
				if err != nil {
					if follow && errors.Is(cmd.Context().Err(), context.Canceled) {
						return nil
					}
					return err
				}
				for _, l := range pg.Lines {
					if o.output == "json" {
						if err := writeJSON(out, l); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintln(out, strings.TrimRight(l.Text, " "))
				}
				since = pg.LastSeq
				if !follow {
					if pg.Partial != "" && o.output != "json" {
						fmt.Fprintln(out, pg.Partial)
					}
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().Uint64Var(&since, "since", 0, "print lines after this sequence number")
	return cmd
}

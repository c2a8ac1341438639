package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
)

func ctlServers(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "servers",
		Short: "A fleet's members: list, add and remove them (serve --fleet / --fleet-file)",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the members with their addresses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) ([]control.ServerInfo, error) {
				return c.Servers(ctx)
			}, printServers)
		},
	}
	var add struct {
		profile, address, user, password, rasMode string
		ipmiPort, httpsPort, httpPort             int
	}
	addCmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a member; without --address it takes the address after the last member's",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := map[string]any{"name": args[0]}
			for k, v := range map[string]string{"profile": add.profile, "address": add.address, "user": add.user, "password": add.password, "ras_mode": add.rasMode} {
				if v != "" {
					spec[k] = v
				}
			}
			for k, v := range map[string]int{"ipmi_port": add.ipmiPort, "https_port": add.httpsPort, "http_port": add.httpPort} {
				if v != 0 {
					spec[k] = v
				}
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.ServerInfo, error) {
				return c.AddServer(ctx, spec)
			}, func(w io.Writer, s control.ServerInfo) error {
				return printServers(w, []control.ServerInfo{s})
			})
		},
	}
	af := addCmd.Flags()
	af.StringVar(&add.profile, "profile", "", "built-in profile name or profile file on the emulator's machine (default: the fleet's)")
	af.StringVar(&add.address, "address", "", "IP address")
	af.StringVar(&add.rasMode, "ras-mode", "", "memory RAS mode (AdvancedECC, RankSparing, Mirroring, RAID5, AddressRangeMirror)")
	af.StringVar(&add.user, "admin-user", "", "administrator account seeded on the member's first start (default: the fleet's)")
	af.StringVar(&add.password, "admin-password", "", "its password")
	af.IntVar(&add.ipmiPort, "ipmi-port", 0, "IPMI UDP port (default: the fleet's)")
	af.IntVar(&add.httpsPort, "https-port", 0, "Redfish HTTPS port (default: the fleet's)")
	af.IntVar(&add.httpPort, "http-port", 0, "Redfish HTTP port (default: the fleet's)")
	var purge bool
	rm := &cobra.Command{
		Use:   "remove ID|ADDRESS",
		Short: "Remove a member: its endpoints close and its memory is freed; its state directory stays unless --purge",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			if err := o.client().RemoveServer(ctx, args[0], purge); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
			return nil
		},
	}
	rm.Flags().BoolVar(&purge, "purge", false, "also delete the member's state directory")
	cmd.AddCommand(list, addCmd, rm)
	return cmd
}

func printServers(w io.Writer, ss []control.ServerInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROFILE\tSERIAL\tIPMI (UDP)\tREDFISH")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Profile, s.Serial, s.IPMI, strings.Join(s.Redfish, " "))
	}
	return tw.Flush()
}

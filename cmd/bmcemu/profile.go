package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/profile"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Inspect and check server profiles"}
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the embedded default profile (a starting point for your own)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(profile.DefaultYAML())
			return err
		},
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Print a built-in profile (" + strings.Join(profile.BuiltinNames(), ", ") + ")",
		Args:  cobra.ExactArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) != 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return profile.BuiltinNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := profile.BuiltinYAML(args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}, newProfileCheckCmd())
	return cmd
}

func newProfileCheckCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a profile and dry-boot it: errors name the line and field; prints the memory map",
		Long: `Validate a profile file (or a built-in name), then boot it without serving:
the firmware lays out the address map (interleave sets, hot-plug reservation
below the physical address width), builds SRAT and HMAT, and the kernel
boots on the map. Errors name the file, line and field, in the words serve
would fail with; a profile check accepts, serve boots. On success it prints
the memory map per socket: boot ranges, interleave sets and their ways, the
hot-plug reservation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Open(args[0])
			if err != nil {
				return err
			}
			rep, err := platform.Check(p)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: profile %q is valid: %d slots, %d populated\n", args[0], p.Name, rep.Slots, rep.Populated)
			ras := "memory RAS " + rep.RASMode
			if rep.RASConfigError != "" {
				ras += " (configuration error at boot: " + rep.RASConfigError + ")"
			}
			fmt.Fprintf(w, "%s; %d GiB usable; SRAT %d bytes, HMAT %d bytes\n", ras, rep.UsableBytes>>30, rep.SRATBytes, rep.HMATBytes)
			_, err = fmt.Fprint(w, rep.Map.Text())
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

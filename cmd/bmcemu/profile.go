package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

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
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := profile.BuiltinYAML(args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}, &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a profile file; errors name the line and field",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Open(args[0])
			if err != nil {
				return err
			}
			n := 0
			for _, s := range p.SlotNames() {
				if _, ok := p.ModuleFor(s); ok {
					n++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: profile %q is valid: %d slots, %d populated\n", args[0], p.Name, len(p.SlotNames()), n)
			return nil
		},
	})
	return cmd
}

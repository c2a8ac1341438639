package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
			p, err := loadProfile(args[0])
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

// loadProfile reads a profile file; a name that is no file but a built-in
// profile's name selects the built-in one, so `--profile mirror` works.
func loadProfile(name string) (*profile.Profile, error) {
	p, err := profile.Load(name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return p, err
	}
	if _, statErr := os.Stat(name); errors.Is(statErr, fs.ErrNotExist) && !strings.ContainsAny(name, "/.") {
		return profile.Builtin(name)
	}
	return nil, err
}

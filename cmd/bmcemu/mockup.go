package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/mockups"
)

func newMockupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mockup",
		Short: "Export a Redfish service as a DMTF mockup directory, and compare mockups",
		Long: `A mockup is a directory tree mirroring a Redfish service's URIs, one
index.json per resource (DIR/redfish/v1/Systems/1/index.json), as DMTF's
Redfish-Mockup-Creator writes and Redfish-Mockup-Server serves.`,
	}
	cmd.AddCommand(mockupExport(), mockupDiff())
	return cmd
}

func mockupExport() *cobra.Command {
	var (
		server, user, password, root string
		timeout                      time.Duration
		maxResources                 int
	)
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Crawl a Redfish service (this emulator or any BMC) and write it as a mockup",
		Long: `Crawl a Redfish service from /redfish and its service root, following every
@odata.id, and write each resource to DIR/<URI>/index.json. DIR must be new or
empty, so a mockup never mixes two exports.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// One deadline for the whole crawl: per-request timeouts would
			// let a slow BMC with thousands of resources run for hours.
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c := &mockups.Client{BaseURL: server, User: user, Password: password, MaxResources: maxResources}
			tree, err := mockups.Crawl(ctx, c, root)
			if err != nil {
				return err
			}
			if err := mockups.Write(args[0], tree); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d resources from %s to %s\n", len(tree), server, args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", envOr("BMCEMU_SERVER", "http://127.0.0.1:8000"), "Redfish service URL (env BMCEMU_SERVER)")
	f.StringVarP(&user, "user", "u", envOr("BMCEMU_USER", "admin"), "account (env BMCEMU_USER)")
	f.StringVarP(&password, "password", "p", envOr("BMCEMU_PASSWORD", "password"), "password (env BMCEMU_PASSWORD)")
	f.StringVar(&root, "root", "/redfish/v1", "export only this resource and what lies below it")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "deadline for the whole export")
	f.IntVar(&maxResources, "max-resources", mockups.DefaultMaxResources, "give up when the service has more resources than this")
	return cmd
}

func mockupDiff() *cobra.Command {
	var (
		ignore []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "diff DIR_A DIR_B",
		Short: "Compare two mockups; exits non-zero when they differ",
		Long: `Compare two mockups resource by resource and property by property, one line
per difference: resources only in A or only in B, and changed properties as
JSON pointers ("/redfish/v1/Systems/1: /MemorySummary/TotalSystemMemoryGiB:
512 != 576"). Volatile properties (clocks, timestamps, ETags) are ignored;
--ignore replaces that list. An --ignore entry starting with "/" is a JSON
pointer ignored in every resource; any other is a property name ignored at
any depth.`,
		Args: cobra.ExactArgs(2),
		PreRunE: func(*cobra.Command, []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: want text or json", output)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := mockups.Read(args[0])
			if err != nil {
				return err
			}
			b, err := mockups.Read(args[1])
			if err != nil {
				return err
			}
			diffs := mockups.DiffWith(a, b, mockups.DiffOptions{Ignore: ignore})
			w := cmd.OutOrStdout()
			if output == "json" {
				if diffs == nil {
					diffs = []mockups.Difference{}
				}
				if err := writeJSON(w, diffs); err != nil {
					return err
				}
			} else {
				for _, d := range diffs {
					if _, err := fmt.Fprintln(w, d); err != nil {
						return err
					}
				}
			}
			if len(diffs) > 0 {
				noun := "differences"
				if len(diffs) == 1 {
					noun = "difference"
				}
				return fmt.Errorf("mockups differ: %d %s (A is %s, B is %s)", len(diffs), noun, args[0], args[1])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&ignore, "ignore", mockups.DefaultIgnore(), "properties to ignore (name at any depth, or /json/pointer)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd writes a section-1 man page per command (bmcemu.1,
// bmcemu-serve.1, bmcemu-ctl-insert.1, ...) from the same text --help
// prints, so the two never disagree. `man -l DIR/bmcemu.1` reads one
// without installing it.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "man DIR",
		Short:   "Write man pages for every command into DIR",
		Example: "  bmcemu man /tmp/man && man -l /tmp/man/bmcemu-ctl-insert.1\n  sudo bmcemu man /usr/local/share/man/man1 && mandb",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			root := cmd.Root()
			// No generation date in the pages: the same binary writes the
			// same files.
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{Title: "BMCEMU", Section: "1", Source: "bmcemu " + version, Manual: "bmcemu manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("man pages in %s: %w", args[0], err)
			}
			return nil
		},
	}
}

// Command bmcemu runs an emulated server behind a Redfish and IPMI BMC, and
// drives its physical world from the command line.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "bmcemu:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "bmcemu",
		Short:         "A Redfish- and IPMI-compatible BMC emulator with a simulated server behind it",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newCtlCmd(), newProfileCmd(), newMockupCmd(), newFleetCmd(), newImageCmd())
	return root
}

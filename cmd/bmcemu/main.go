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
		Use:   "bmcemu",
		Short: "A Redfish- and IPMI-compatible BMC emulator with a simulated server behind it",
		Long: `bmcemu is a BMC you can run in CI: Redfish (HTTP and HTTPS) and IPMI over
LAN (RMCP+) in front of a simulated server whose firmware and operating
system really hot-add and hot-remove memory, run memory RAS (mirroring,
sparing, RAID5), power on, POST and boot.

  bmcemu serve                  run one server on the embedded default profile
  bmcemu serve --fleet 100      run 100 BMCs, each on its own loopback address
  bmcemu ctl ...                act on the physical world (seat a DIMM, press a
                                button, inject a fault) and read the OS's view
  bmcemu profile|fleet|mockup|image ...  profiles, fleet inventories, mockups, media

Clients: ipmitool -I lanplus -H 127.0.0.1 -p 6230 -U admin -P password ...;
redfishtool, sushy or curl against http://127.0.0.1:8000/redfish/v1.

Environment: every serve flag can be given as BMCEMU_<FLAG> (dashes as
underscores); ctl reads BMCEMU_SERVER, BMCEMU_SERVER_ID, BMCEMU_USER and
BMCEMU_PASSWORD; BMCEMU_NO_PROGRESS=1 is --no-progress.

Files: durable state (accounts, SEL, subscriptions, BIOS settings,
inventory, certificates) under --state-dir, by default
~/.local/state/bmcemu/<profile>/.

Shell completion: source <(bmcemu completion bash), and likewise for zsh
and fish; slot names, fault kinds and fleet members complete from the
running server. Man pages: bmcemu man DIR.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().Bool(noProgressFlag, false, "never draw progress bars (drawn only when standard error is a terminal; env BMCEMU_NO_PROGRESS=1)")
	root.AddCommand(newServeCmd(), newCtlCmd(), newProfileCmd(), newMockupCmd(), newFleetCmd(), newImageCmd(), newManCmd(), newScenarioCmd())
	return root
}

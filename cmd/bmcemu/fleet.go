package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/cmd/internal/inventory"
)

// inventoryOptions are `fleet inventory`'s flags.
type inventoryOptions struct {
	inventory.Options
	out string
}

func newFleetCmd() *cobra.Command {
	o := &ctlOptions{}
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Work with a running fleet (serve --fleet / --fleet-file) as a whole, through its control listener",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", envOr("BMCEMU_SERVER", "http://127.0.0.1:8000"), "the fleet's control listener URL (env BMCEMU_SERVER)")
	pf.StringVarP(&o.user, "user", "u", envOr("BMCEMU_USER", "admin"), "account (env BMCEMU_USER)")
	pf.StringVarP(&o.password, "password", "p", envOr("BMCEMU_PASSWORD", "password"), "password (env BMCEMU_PASSWORD)")
	pf.DurationVar(&o.timeout, "timeout", 60*time.Second, "time allowed for all the requests")
	cmd.AddCommand(fleetInventory(o))
	return cmd
}

func fleetInventory(o *ctlOptions) *cobra.Command {
	inv := &inventoryOptions{}
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Write the fleet's members as an inventory for Ironic, Metal3, Ansible, a spreadsheet or a script",
		Long: `Write the running fleet's members in the form a provisioning tool reads
directly. Every member's Redfish system is /redfish/v1/Systems/1; the boot MAC
is the host's first NIC, derived from the member's serial number.

  ironic   JSON for "openstack baremetal create FILE.json": a node per member
           with driver redfish (--ironic-driver ipmi: driver ipmi), its
           credentials, cpu_arch and memory_mb, and a port with the boot MAC
  metal3   YAML for "kubectl apply -f": per member a Secret (username,
           password) and a BareMetalHost (metal3.io/v1alpha1), bmc.address
           redfish+https://HOST:PORT/redfish/v1/Systems/1 (--metal3-bmc ipmi:
           ipmi://HOST:PORT), certificate verification off, online false
  ansible  a YAML inventory (group bmcemu, connection local) with each host's
           baseuri (HOST:PORT, as community.general's redfish modules want it),
           username, password, ipmi_host, ipmi_port, serial_number, boot_mac
  csv      a header and a row per member
  json     the members as "ctl servers list -o json" gives them, plus boot_mac

The credentials are those the members were seeded with; accounts changed
since are not seen. The output holds passwords: -o FILE writes it mode 0600.`,
		Example: `  bmcemu fleet inventory --format ironic -o nodes.json && openstack baremetal create nodes.json
  bmcemu fleet inventory --format metal3 --namespace metal3 | kubectl apply -f -
  bmcemu fleet inventory --format ansible -o fleet.yml
  ansible -i fleet.yml bmcemu -m community.general.redfish_info \
    -a 'category=Systems command=GetSystemInventory baseuri={{ baseuri }} username={{ username }} password={{ password }}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(inventory.Formats, inv.Format) {
				return fmt.Errorf("--format %q: want one of %s", inv.Format, strings.Join(inventory.Formats, ", "))
			}
			if inv.IronicDriver != "redfish" && inv.IronicDriver != "ipmi" {
				return fmt.Errorf("--ironic-driver %q: want redfish or ipmi", inv.IronicDriver)
			}
			if inv.Metal3BMC != "redfish" && inv.Metal3BMC != "ipmi" {
				return fmt.Errorf("--metal3-bmc %q: want redfish or ipmi", inv.Metal3BMC)
			}
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			ss, err := o.client().Servers(ctx)
			if err != nil {
				return err
			}
			ms, err := inventory.NewMembers(ss)
			if err != nil {
				return err
			}
			if inv.Format == "ironic" {
				if err := readMemory(ctx, o, ms); err != nil {
					return err
				}
			}
			var buf bytes.Buffer
			if err := inventory.Render(&buf, ms, &inv.Options); err != nil {
				return err
			}
			if inv.out == "" || inv.out == "-" {
				_, err := cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			return writePrivate(inv.out, buf.Bytes())
		},
	}
	f := cmd.Flags()
	f.StringVar(&inv.Format, "format", "json", "ironic, metal3, ansible, csv or json")
	f.StringVarP(&inv.out, "output", "o", "", "write to this file (mode 0600) instead of standard output")
	f.StringVar(&inv.IronicDriver, "ironic-driver", "redfish", "ironic: the nodes' driver, redfish or ipmi")
	f.StringVar(&inv.Metal3BMC, "metal3-bmc", "redfish", "metal3: the BareMetalHosts' BMC address, redfish (redfish+https://) or ipmi (ipmi://)")
	f.StringVar(&inv.Namespace, "namespace", "", "metal3: the objects' namespace (empty: none, kubectl's -n decides)")
	return cmd
}

// readMemory reads each member's installed memory through the fleet's
// control listener, a few members at a time.
func readMemory(ctx context.Context, o *ctlOptions, ms []inventory.Member) error {
	sem := make(chan struct{}, 8)
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := o.client()
			c.Member = ms[i].ID
			s, err := c.System(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("member %s: %w", ms[i].ID, err)
				return
			}
			ms[i].MemoryMiB = s.Memory.InstalledMiB
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// writePrivate writes data to file, readable by its owner only: the
// inventories hold the BMC passwords.
func writePrivate(file string, data []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/firmware"
)

func ctlHomeAgent(o *ctlOptions) *cobra.Command {
	var since uint64
	cmd := &cobra.Command{
		Use:   "homeagent",
		Short: "The sockets' home agents: snoop filter directories, counters and trace",
		Long: `Each socket's home agent registers the address ranges its memory controllers
decode in its snoop filter directory when the firmware commits a new address
map (a hot-add registers the new range before the OS hears of it; an eject
unregisters it). A core's read of a line the socket homes but has not
registered (its hot-plug reservation) is answered with a clean fill: zeros,
no DRAM access, counted and traced.`,
		Example: `  bmcemu ctl homeagent
  bmcemu ctl homeagent access 0x5080000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.HomeAgentView, error) {
				return c.HomeAgents(ctx, since)
			}, func(w io.Writer, v control.HomeAgentView) error {
				_, err := fmt.Fprint(w, withNewline(v.Text))
				return err
			})
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "show trace events after this sequence number only")
	cmd.AddCommand(&cobra.Command{
		Use: "access ADDRESS", Short: "A core reads the line holding a system physical address (0x...)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (firmware.LineAccess, error) {
				return c.AccessLine(ctx, args[0])
			}, func(w io.Writer, r firmware.LineAccess) error {
				var err error
				switch {
				case r.Response == "clean-fill":
					_, err = fmt.Fprintf(w, "line %#x: socket %d home agent: not in the snoop filter directory: clean fill (zeros, no DRAM access)\n", r.Address, r.Socket)
				case r.Lost:
					_, err = fmt.Fprintf(w, "line %#x: socket %d home agent: memory read from %s+%#x: the module was pulled, no module answers\n", r.Address, r.Socket, r.Slot, r.Offset)
				default:
					_, err = fmt.Fprintf(w, "line %#x: socket %d home agent: memory read from %s offset %#x\n", r.Address, r.Socket, r.Slot, r.Offset)
				}
				return err
			})
		},
	})
	return cmd
}

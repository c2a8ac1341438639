package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/vm"
)

func ctlVM(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vm",
		Short: "VM guest memory: the hypervisor's virtio-mem, balloon and pc-dimm devices",
		Long: `On a VM guest profile (serve --profile virtio-mem, balloon or pc-dimm) the
operator is the hypervisor: these commands do what QEMU's monitor does to the
guest's memory devices, and the guest's drivers answer in its kernel (see
'ctl dmesg', 'ctl iomem', 'ctl meminfo', 'ctl blocks').
Sizes are QEMU's: 64G, 512M, 4096 (bytes).`,
		Example: `  bmcemu ctl vm
  bmcemu ctl vm virtio-mem set-requested 4G
  bmcemu ctl vm balloon set 8G
  bmcemu ctl vm balloon report
  bmcemu ctl vm pc-dimm plug 8G
  bmcemu ctl vm pc-dimm unplug dimm0
  bmcemu ctl vm compare 64G`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.Status, error) {
				return c.VM(ctx)
			}, func(w io.Writer, st vm.Status) error {
				printVM(w, st)
				return nil
			})
		},
	}
	vmem := &cobra.Command{Use: "virtio-mem", Short: "The virtio-mem device (QEMU: qom-set vmem0 requested-size)"}
	vmem.AddCommand(&cobra.Command{
		Use: "set-requested SIZE", Short: "Set requested-size; the guest plugs or unplugs device blocks toward it",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.VirtioMemResult, error) {
				return c.SetRequestedSize(ctx, args[0])
			}, func(w io.Writer, r vm.VirtioMemResult) error {
				fmt.Fprintf(w, "requested-size %s, plugged-size %s (+%s plugged, -%s unplugged; %d memory blocks added, %d removed)\n",
					vmSize(r.RequestedSize), vmSize(r.PluggedSize), vmSize(r.Plugged), vmSize(r.Unplugged), r.AddedBlocks, r.RemovedBlocks)
				if r.Reason != "" {
					fmt.Fprintf(w, "short of the request: %s\n", r.Reason)
				}
				return nil
			})
		},
	})
	bal := &cobra.Command{Use: "balloon", Short: "The virtio-balloon device (QEMU: balloon TARGET)"}
	bal.AddCommand(&cobra.Command{
		Use: "set TARGET", Short: "Set the guest memory the balloon leaves the guest; it inflates or deflates toward it",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.BalloonResult, error) {
				return c.SetBalloonTarget(ctx, args[0])
			}, func(w io.Writer, r vm.BalloonResult) error {
				fmt.Fprintf(w, "balloon: target %s, %d of %d pages in the balloon (+%d inflated, -%d deflated); guest MemTotal %d kB\n",
					vmSize(r.TargetBytes), r.ActualPages, r.NumPages, r.Inflated, r.Deflated, r.MemTotalKiB)
				if r.Reason != "" {
					fmt.Fprintf(w, "short of the target: %s\n", r.Reason)
				}
				return nil
			})
		},
	}, &cobra.Command{
		Use: "report", Short: "Run one pass of the guest's free page reporting; print the host's counters",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.BalloonStatus, error) {
				return c.ReportFreePages(ctx)
			}, func(w io.Writer, st vm.BalloonStatus) error {
				fmt.Fprintf(w, "reported free: %s (total %s over %d passes); host resident %s\n",
					vmSize(st.ReportedBytes), vmSize(st.ReportedTotal), st.ReportPasses, vmSize(st.HostResident))
				return nil
			})
		},
	})
	dimm := &cobra.Command{Use: "pc-dimm", Short: "pc-dimms through QEMU's ACPI memory hot-plug controller"}
	dimm.AddCommand(&cobra.Command{
		Use: "plug SIZE", Short: "device_add pc-dimm: the guest adds it through ACPI (PNP0C80) in memory blocks",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.Dimm, error) {
				return c.PlugDimm(ctx, args[0])
			}, func(w io.Writer, d vm.Dimm) error {
				_, err := fmt.Fprintf(w, "%s: %s at %#x (slot %d, %s), %d memory blocks, %s\n", d.ID, vmSize(d.Size), d.Addr, d.Slot, d.Path, d.Blocks, d.LastOST)
				return err
			})
		},
	}, &cobra.Command{
		Use: "unplug ID", Short: "device_del: the guest offlines, removes and ejects it, or refuses",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.Dimm, error) {
				return c.UnplugDimm(ctx, args[0])
			}, func(w io.Writer, d vm.Dimm) error {
				_, err := fmt.Fprintf(w, "%s: ejected (%s)\n", d.ID, d.LastOST)
				return err
			})
		},
	})
	var dimmSize string
	compare := &cobra.Command{
		Use:   "compare SIZE",
		Short: "The same growth through virtio-balloon, pc-dimm and virtio-mem: granularity, memmap, free memory at add",
		Long: `Computed from the running guest's geometry (memory block, virtio-mem block size;
the seed's defaults on a server that is not a VM): struct page costs 64 bytes
per 4 KiB page.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (vm.Comparison, error) {
				return c.Compare(ctx, args[0], dimmSize)
			}, func(w io.Writer, c vm.Comparison) error {
				printCompare(w, c)
				return nil
			})
		},
	}
	compare.Flags().StringVar(&dimmSize, "dimm", "", "size of each pc-dimm (default: one DIMM of the whole growth)")
	cmd.AddCommand(vmem, bal, dimm, compare)
	return cmd
}

func vmSize(n uint64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func printVM(w io.Writer, st vm.Status) {
	fmt.Fprintf(w, "RAM size:   %s (boot %s)\n", vmSize(st.RAMSize), vmSize(st.BootRAM))
	if v := st.VirtioMem; v != nil {
		unit := "sub-block " + vmSize(v.SubblockSize)
		if v.Mode == "bbm" {
			unit = "big block mode: " + vmSize(v.BigBlockSize) + " units"
		}
		fmt.Fprintf(w, "virtio-mem: %s node %d region %#x+%s, block %s (%s, memory block %s)\n",
			v.Name, v.Node, v.Addr, vmSize(v.RegionSize), vmSize(v.BlockSize), unit, vmSize(v.MemoryBlockSize))
		fmt.Fprintf(w, "            requested-size %s, plugged-size %s, %d memory blocks added\n", vmSize(v.RequestedSize), vmSize(v.PluggedSize), len(v.AddedBlocks))
		if v.Last != nil && v.Last.Reason != "" {
			fmt.Fprintf(w, "            last request fell short: %s\n", v.Last.Reason)
		}
	}
	if b := st.Balloon; b != nil {
		fmt.Fprintf(w, "balloon:    %d of %d pages (%s), deflate-on-oom %v, free page reporting %v\n",
			b.ActualPages, b.NumPages, vmSize(b.ActualBytes), b.DeflateOnOOM, b.FreePageReporting)
		fmt.Fprintf(w, "            reported %s (total %s), host resident %s\n", vmSize(b.ReportedBytes), vmSize(b.ReportedTotal), vmSize(b.HostResident))
	}
	if d := st.PCDimms; d != nil {
		fmt.Fprintf(w, "pc-dimm:    %d slots, region %#x+%s, %s plugged\n", d.Slots, d.RegionAddr, vmSize(d.RegionSize), vmSize(d.Plugged))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if len(d.Dimms) > 0 {
			fmt.Fprintln(tw, "  ID\tSLOT\tADDR\tSIZE\tADDED\tLAST _OST")
		}
		for _, x := range d.Dimms {
			fmt.Fprintf(tw, "  %s\t%d\t%#x\t%s\t%v\t%s\n", x.ID, x.Slot, x.Addr, vmSize(x.Size), x.Added, x.LastOST)
		}
		tw.Flush()
	}
}

func printCompare(w io.Writer, c vm.Comparison) {
	fmt.Fprintf(w, "Growing a guest by %s (memory block %s, struct page %d B per %d B page):\n\n",
		vmSize(c.Size), vmSize(c.Geometry.MemoryBlockSize), c.Geometry.StructPageSize, c.Geometry.PageSize)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MECHANISM\tYEAR\tGRANULARITY\tSTEPS\tMEMORY BLOCKS\tMEMMAP\tFREE AT ADD")
	for _, g := range c.Generations {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\n", g.Mechanism, g.Year, vmSize(g.Granularity), g.Steps, g.MemoryBlocks, vmSize(g.MemmapBytes), vmSize(g.FreeAtAdd))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, g := range c.Generations {
		fmt.Fprintf(w, "%s:\n  memmap: %s\n  guest sees: %s\n  NUMA: %s\n  host takes back: %s\n", g.Mechanism, g.MemmapWhen, g.Guest, g.NUMA, g.GiveBack)
	}
}

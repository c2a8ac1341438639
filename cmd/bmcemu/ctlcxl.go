package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/cxl"
)

func ctlCXL(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cxl",
		Short: "CXL host bridges, their hot-plug slots and type-3 memory expanders",
		Long: `The CXL side of a server started with a cxl section (serve --profile cxl):
each host bridge's CXL Fixed Memory Window (CEDT CFMWS), each root port's
slot with its card, the memory device, region, dax device and NUMA node the
drivers made of it, and the IOMMU's counters. Seat a card with 'insert',
press the slot's attention button with 'attention' to power it on (or, when
it is on, to remove it in order), and 'pull' it (from a powered slot: a
surprise removal).`,
		Example: `  bmcemu ctl cxl
  bmcemu ctl cxl insert CXL1 --capacity 256G
  bmcemu ctl cxl attention CXL1
  bmcemu ctl cxl cdat CXL1
  bmcemu ctl cxl dma transfer CXL1 --offset 1024 --size 512 --dir to-device
  bmcemu ctl cxl dma access CXL1 --iova 0x10000 --size 64
  bmcemu ctl cxl attention CXL1    # orderly removal
  bmcemu ctl cxl pull CXL1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (cxl.Status, error) { return c.CXL(ctx) }, printCXL)
		},
	}
	var req control.CXLInsertRequest
	insert := &cobra.Command{
		Use:   "insert SLOT",
		Short: "Seat an expander card in an empty slot (the slot stays off until its attention button is pressed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (cxl.SlotStatus, error) {
				return c.CXLInsert(ctx, args[0], req)
			}, func(w io.Writer, s cxl.SlotStatus) error { return printCXLSlots(w, []cxl.SlotStatus{s}) })
		},
	}
	insert.Flags().StringVar(&req.Capacity, "capacity", "", "volatile capacity, a multiple of 256M (required), e.g. 256G")
	insert.Flags().BoolVar(&req.Trusted, "trusted", false, "treat the device as internal: no bounce buffering, lazy IOTLB invalidation")
	insert.Flags().Uint64Var(&req.Serial, "serial", 0, "device serial number")
	insert.Flags().StringVar(&req.Online, "online", "", "how daxctl onlines the memory: online_movable (default), online_kernel or online")
	insert.Flags().StringVar(&req.ReadLatency, "read-latency", "", "media read latency the CDAT reports (default 150ns)")
	insert.Flags().StringVar(&req.WriteLatency, "write-latency", "", "media write latency the CDAT reports (default 170ns)")
	insert.Flags().Uint64Var(&req.BandwidthMBs, "bandwidth-mbs", 0, "media bandwidth the CDAT reports in MB/s (default 32000)")
	insert.Flags().BoolVar(&req.CorruptCDAT, "corrupt-cdat", false, "the card's firmware serves a CDAT with a bad checksum")
	_ = insert.MarkFlagRequired("capacity")

	attention := &cobra.Command{
		Use:   "attention SLOT",
		Short: "Press the slot's attention button: power a seated card on and bring it up, or remove a running one in order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (cxl.Result, error) { return c.CXLAttention(ctx, args[0]) }, printCXLResult)
		},
	}
	pull := &cobra.Command{
		Use:   "pull SLOT",
		Short: "Take the card out of its slot (from a powered slot: a surprise removal)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (cxl.Result, error) { return c.CXLPull(ctx, args[0]) }, printCXLResult)
		},
	}
	cdat := &cobra.Command{
		Use:   "cdat SLOT",
		Short: "Disassemble the CDAT the card serves over its DOE mailbox",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.ACPITable, error) {
				return c.CXLCDAT(ctx, args[0])
			},
				func(w io.Writer, t control.ACPITable) error {
					_, err := fmt.Fprint(w, withNewline(t.Text))
					return err
				})
		},
	}
	cmd.AddCommand(insert, attention, pull, cdat, ctlCXLDMA(o))
	return cmd
}

func ctlCXLDMA(o *ctlOptions) *cobra.Command {
	dma := &cobra.Command{
		Use:     "dma",
		Short:   "DMA with a CXL device through the IOMMU: a driver transfer, or the device's own access",
		Example: "  bmcemu ctl cxl dma transfer CXL1\n  bmcemu ctl cxl dma access CXL1 --iova 0x1000 --write",
		// Runnable, so that a slot put before the subcommand is an error
		// (cobra shows a command without Run its help and exits 0).
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var t control.CXLTransferRequest
	transfer := &cobra.Command{
		Use:   "transfer SLOT",
		Short: "One driver DMA of --size bytes at --offset in a kernel page: shows bouncing, exposure and IOTLB invalidation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (cxl.TransferReport, error) {
				return c.CXLDMATransfer(ctx, args[0], t)
			}, printTransfer)
		},
	}
	transfer.Flags().Uint64Var(&t.Offset, "offset", 1024, "buffer offset in its page")
	transfer.Flags().Uint64Var(&t.Size, "size", 512, "buffer size in bytes")
	transfer.Flags().StringVar(&t.Dir, "dir", "to-device", "to-device, from-device or bidirectional")
	var a control.CXLAccessRequest
	access := &cobra.Command{
		Use:   "access SLOT",
		Short: "The device reads (or with --write writes) an I/O virtual address it was not given: the IOMMU blocks and logs it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			if err := o.client().CXLDMAAccess(ctx, args[0], a); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "DMA %s %#x (%d bytes) was not blocked\n", map[bool]string{false: "read of", true: "write to"}[a.Write], a.IOVA, a.Size)
			return err
		},
	}
	access.Flags().Uint64Var(&a.IOVA, "iova", 0, "I/O virtual address")
	access.Flags().Uint64Var(&a.Size, "size", 64, "bytes")
	access.Flags().BoolVar(&a.Write, "write", false, "write instead of read")
	dma.AddCommand(transfer, access)
	return dma
}

func gib(b uint64) string {
	if b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

func printCXL(w io.Writer, st cxl.Status) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW\tRANGE\tSIZE\tHOST BRIDGE\tNODE\tFREE\tUSED BY")
	for _, win := range st.Windows {
		used := "-"
		for i, u := range win.Used {
			if i == 0 {
				used = ""
			} else {
				used += ", "
			}
			used += fmt.Sprintf("%s [%#x+%s]", u.Owner, u.Start, gib(u.Size))
		}
		fmt.Fprintf(tw, "%s\t%#x-%#x\t%s\tACPI0016:%02x\t%d\t%s\t%s\n", win.Label, win.Base, win.Base+win.Size-1, gib(win.Size), win.HostBridge, win.Node, gib(win.Free), used)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := printCXLSlots(w, st.Slots); err != nil {
		return err
	}
	c := st.IOMMU
	fmt.Fprintf(w, "\nIOMMU: %d maps, %d unmaps, %d bounced (%d bytes), swiotlb %d/%d slots, %d IOTLB invalidations, %d queued, %d flushes, %d stale hits, %d faults\n",
		c.Maps, c.Unmaps, c.Bounced, c.BouncedBytes, c.SwiotlbSlotsUsed, c.SwiotlbSlotsTotal, c.IOTLBInvalidations, c.FlushQueued, c.FlushQueueFlushes, c.StaleTranslations, c.Faults)
	for _, f := range st.Faults {
		fmt.Fprintf(w, "  fault: %s\n", f.Text)
	}
	return nil
}

func printCXLSlots(w io.Writer, slots []cxl.SlotStatus) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tROOT PORT\tBRIDGE WINDOW\tSTATE\tPOWER\tDEVICE\tMEMDEV\tREGION\tNODE\tONLINE\tTRUSTED")
	for _, s := range slots {
		dev, memdev, region, node, online, trusted := "-", "-", "-", "-", "-", "-"
		if d := s.Device; d != nil {
			dev = fmt.Sprintf("%s %s:%s %s", d.BDF, d.VendorID, d.DeviceID, gib(d.Spec.Capacity))
			trusted = fmt.Sprint(!d.Untrusted)
			if d.Memdev != "" {
				memdev = d.Memdev
			}
			if r := d.Region; r != nil {
				region = fmt.Sprintf("%s %s [%#x+%s]", r.Name, r.Dax, r.Base, gib(r.Size))
				node, online = fmt.Sprint(r.Node), gib(r.OnlineBytes)
			}
		}
		power := "off"
		if s.Power {
			power = "on"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Slot, s.RootPort, gib(s.MMIO), s.State, power, dev, memdev, region, node, online, trusted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range slots {
		if s.Reason != "" {
			fmt.Fprintf(w, "%s: %s\n", s.Slot, s.Reason)
		}
		for _, l := range s.Leaked {
			fmt.Fprintf(w, "%s: %s leaked by %s until the next reboot\n", s.Slot, gib(l.Size), l.Owner)
		}
		if d := s.Device; d != nil && d.Region != nil {
			p := d.Region.Perf
			fmt.Fprintf(w, "%s: node %d access0: read %d ns %d MB/s, write %d ns %d MB/s (host bridge + link + CDAT, %d DOE exchanges)\n",
				s.Slot, d.Region.Node, p.ReadLatency, p.ReadBandwidth, p.WriteLatency, p.WriteBandwidth, d.DOEExchanges)
		}
	}
	return nil
}

func printCXLResult(w io.Writer, r cxl.Result) error {
	switch {
	case r.Leaked > 0:
		fmt.Fprintf(w, "%s: surprise removal: %d pages poisoned, %s of %s leaked until the next reboot\n", r.Slot, r.Poison, gib(r.Leaked), r.Region)
	case r.Removed:
		fmt.Fprintf(w, "%s: %s removed: %s [%#x+%s] offlined and torn down, slot off (%d pages poisoned)\n", r.Slot, r.Memdev, r.Region, r.Base, gib(r.Size), r.Poison)
	case r.Region != "":
		fmt.Fprintf(w, "%s: %s up: %s [%#x+%s] on node %d, %s online as System RAM (kmem)\n", r.Slot, r.Memdev, r.Region, r.Base, gib(r.Size), r.Node, gib(r.Online))
	case r.Memdev != "":
		fmt.Fprintf(w, "%s: %s changed (no region)\n", r.Slot, r.Memdev)
	default:
		fmt.Fprintf(w, "%s: done\n", r.Slot)
	}
	return nil
}

func printTransfer(w io.Writer, r cxl.TransferReport) error {
	fmt.Fprintf(w, "%s %s: untrusted=%v bounced=%v iova=%#x size=%d\n", r.Slot, r.BDF, r.Untrusted, r.Bounced, r.Mapping.IOVA, r.Mapping.Size)
	fmt.Fprintf(w, "device could read %d bytes through its mapping, %d of them other kernel data\n", r.Reachable, r.Exposed)
	_, err := fmt.Fprintf(w, "data verified after unmap: %v; IOTLB invalidations now: %d, queued: %d\n", r.Verified, r.Invalidations, r.Queued)
	return err
}

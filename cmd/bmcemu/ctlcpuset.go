package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

func ctlCpusets(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cpusets",
		Short: "The host OS's cpusets: which CPUs and memory nodes a workload may use",
		Long: `Cpusets as /sys/fs/cgroup/NAME/cpuset.{cpus,mems} (list format: 0-3,8).
The root cpuset follows the hardware: a node that appears through memory
hot-add joins the root's effective mems, but a cpuset uses it only once its
mems name it. Start a workload in one with 'ctl tasks run'.`,
		Example: `  bmcemu ctl cpusets
  bmcemu ctl cpusets create db --cpus 64-71 --mems 1
  bmcemu ctl cpusets set db --mems 1-2
  bmcemu ctl cpusets delete db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) ([]kernel.Cpuset, error) { return c.Cpusets(ctx) }, printCpusets)
		},
	}
	var cpus, mems string
	var hardwall bool
	create := &cobra.Command{
		Use: "create NAME", Short: "Make a cpuset (mkdir, then write cpuset.cpus and cpuset.mems)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (kernel.Cpuset, error) {
				return c.CreateCpuset(ctx, control.CpusetRequest{Name: args[0], CPUs: cpus, Mems: mems, MemHardwall: hardwall})
			}, printCpuset)
		},
	}
	create.Flags().StringVar(&cpus, "cpus", "", "CPUs, list format (required)")
	create.Flags().StringVar(&mems, "mems", "", "memory nodes, list format (required)")
	create.Flags().BoolVar(&hardwall, "mem-hardwall", false, "confine kernel allocations to mems too (cpuset.mem_hardwall)")
	_ = create.MarkFlagRequired("cpus")
	_ = create.MarkFlagRequired("mems")
	var setCPUs, setMems string
	set := &cobra.Command{
		Use: "set NAME", Short: "Rewrite a cpuset's cpus and/or mems",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req control.CpusetUpdate
			if cmd.Flags().Changed("cpus") {
				req.CPUs = &setCPUs
			}
			if cmd.Flags().Changed("mems") {
				req.Mems = &setMems
			}
			if req.CPUs == nil && req.Mems == nil {
				return fmt.Errorf("give --cpus, --mems or both")
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (kernel.Cpuset, error) {
				return c.UpdateCpuset(ctx, args[0], req)
			}, printCpuset)
		},
	}
	set.Flags().StringVar(&setCPUs, "cpus", "", "CPUs, list format")
	set.Flags().StringVar(&setMems, "mems", "", "memory nodes, list format")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Remove a cpuset (refused while tasks run in it)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			if err := o.client().DeleteCpuset(ctx, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "cpuset %s removed\n", args[0])
			return err
		},
	}
	cmd.AddCommand(create, set, del)
	return cmd
}

func printCpuset(w io.Writer, cs kernel.Cpuset) error { return printCpusets(w, []kernel.Cpuset{cs}) }

func printCpusets(w io.Writer, sets []kernel.Cpuset) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CPUSET\tCPUS\tMEMS\tEFFECTIVE CPUS\tEFFECTIVE MEMS\tHARDWALL\tTASKS")
	for _, s := range sets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", s.Name, s.CPUs, s.Mems, s.EffectiveCPUs, s.EffectiveMems, s.MemHardwall, kernel.FormatList(s.Tasks))
	}
	return tw.Flush()
}

func ctlTasks(o *ctlOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "Simulated workloads of the host OS: their CPU, node and pages per node",
		Example: `  bmcemu ctl tasks
  bmcemu ctl tasks run postgres --cpuset db --mib 4096
  bmcemu ctl tasks kill 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			tasks, err := o.client().Tasks(ctx)
			if err != nil {
				return err
			}
			var nodes []kernel.Node
			if err := o.client().Get(ctx, "/os/nodes", &nodes); err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), tasks)
			}
			w := cmd.OutOrStdout()
			if err := printTasks(w, tasks); err != nil {
				return err
			}
			// The scheduler's per-node load: runnable tasks on each node's CPUs.
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tCPUS\tNR_RUNNING")
			for _, n := range nodes {
				fmt.Fprintf(tw, "%d\t%s\t%d\n", n.ID, n.CPUList, n.NrRunning)
			}
			return tw.Flush()
		},
	}
	var cpuset string
	var mib uint64
	var kern bool
	run := &cobra.Command{
		Use: "run COMM", Short: "Start a task in a cpuset holding memory; an allocation that does not fit in its mems is refused",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (kernel.Task, error) {
				return c.RunTask(ctx, control.TaskRequest{Comm: args[0], Cpuset: cpuset, MiB: mib, KernelPages: kern})
			}, func(w io.Writer, t kernel.Task) error { return printTasks(w, []kernel.Task{t}) })
		},
	}
	run.Flags().StringVar(&cpuset, "cpuset", "", "cpuset to run in (default: the root)")
	run.Flags().Uint64Var(&mib, "mib", 0, "memory to allocate, MiB (a multiple of 4)")
	run.Flags().BoolVar(&kern, "kernel-pages", false, "allocate kernel (GFP_KERNEL) pages instead of user pages")
	kill := &cobra.Command{
		Use: "kill PID", Short: "End a task, freeing its pages",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[0])
			if err != nil || pid <= 0 {
				return fmt.Errorf("pid %q: must be a positive integer", args[0])
			}
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			if err := o.client().KillTask(ctx, pid); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "task %d ended\n", pid)
			return err
		},
	}
	cmd.AddCommand(run, kill)
	return cmd
}

func printTasks(w io.Writer, tasks []kernel.Task) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tCOMM\tCPUSET\tCPU\tNODE\tMEMORY BY NODE")
	for _, t := range tasks {
		nids := make([]int, 0, len(t.PagesByNode))
		for n := range t.PagesByNode {
			nids = append(nids, n)
		}
		slices.Sort(nids)
		mem := ""
		for _, n := range nids {
			if mem != "" {
				mem += " "
			}
			mem += fmt.Sprintf("N%d=%dMiB", n, t.PagesByNode[n]*kernel.PageSize>>20)
		}
		if mem == "" {
			mem = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", t.PID, t.Comm, t.Cpuset, t.CPU, t.Node, mem)
	}
	return tw.Flush()
}

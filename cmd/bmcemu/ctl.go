package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/spd"
)

type ctlOptions struct {
	server   string
	serverID string
	user     string
	password string
	output   string
	timeout  time.Duration
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func newCtlCmd() *cobra.Command {
	o := &ctlOptions{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Act on the emulated server's physical world (DIMMs, attention buttons, faults) and read its OS's view, through the control API",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if o.output != "table" && o.output != "json" {
				return fmt.Errorf("-o %q: want table or json", o.output)
			}
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", envOr("BMCEMU_SERVER", "http://127.0.0.1:8000"), "emulator URL (env BMCEMU_SERVER)")
	pf.StringVar(&o.serverID, "server-id", envOr("BMCEMU_SERVER_ID", ""), "fleet: the member to act on, by id or address, through the fleet's control listener (env BMCEMU_SERVER_ID)")
	pf.StringVarP(&o.user, "user", "u", envOr("BMCEMU_USER", "admin"), "account (env BMCEMU_USER)")
	pf.StringVarP(&o.password, "password", "p", envOr("BMCEMU_PASSWORD", "password"), "password (env BMCEMU_PASSWORD)")
	pf.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&o.timeout, "timeout", 30*time.Second, "request timeout")
	cmd.AddCommand(ctlVM(o), ctlSystem(o), ctlSlots(o), ctlInsert(o), ctlRemove(o), ctlAttention(o), ctlLatch(o), ctlFault(o), ctlEvents(o),
		ctlDmesg(o), ctlBlocks(o), ctlBlock(o), ctlMeminfo(o), ctlDirectMap(o), ctlVmstat(o), ctlCpusets(o), ctlTasks(o), ctlHomeAgent(o),
		ctlIomem(o), ctlACPI(o), ctlMemmap(o), ctlRAS(o), ctlServers(o), ctlHost(o), ctlConsole(o), ctlProtocolFault(o), ctlCXL(o))
	addCtlCompletions(cmd, o)
	return cmd
}

func (o *ctlOptions) client() *control.Client {
	return &control.Client{BaseURL: o.server, Member: o.serverID, User: o.user, Password: o.password}
}

func (o *ctlOptions) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, o.timeout)
}

// show runs one control API request under --timeout and writes its
// answer to the command's output: as JSON with -o json, otherwise through
// table. It prints nothing itself on failure: the request's error, or the
// first failed write (a closed pipe, a full disk) even where table ignored
// fmt's results, is returned for cobra to report once and to turn into
// the exit status.
func show[T any](o *ctlOptions, cmd *cobra.Command, do func(context.Context, *control.Client) (T, error), table func(io.Writer, T) error) error {
	ctx, cancel := o.ctx(cmd.Context())
	defer cancel()
	v, err := do(ctx, o.client())
	if err != nil {
		return err
	}
	w := &stickyWriter{w: cmd.OutOrStdout()}
	if o.output == "json" {
		err = writeJSON(w, v)
	} else {
		err = table(w, v)
	}
	if err == nil {
		err = w.err
	}
	if err != nil {
		return fmt.Errorf("writing the answer: %w", err)
	}
	return nil
}

// stickyWriter keeps the first write error and refuses every write after
// it, so that a table printed with a run of fmt.Fprintf calls neither
// loses the failure nor goes on writing past it.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	s.err = err
	return n, err
}

// get is show's request for a resource read with a plain GET of path
// under the control API.
func get[T any](path string) func(context.Context, *control.Client) (T, error) {
	return func(ctx context.Context, c *control.Client) (T, error) {
		var v T
		err := c.Get(ctx, path, &v)
		return v, err
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ctlSystem(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "system",
		Short: "Show the server's identity, power and memory topology",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.System, error) {
				return c.System(ctx)
			}, func(w io.Writer, s control.System) error {
				power := "off"
				if s.PowerOn {
					power = "on"
				}
				identify := s.Identify.State
				if !s.Identify.Until.IsZero() {
					identify += " until " + s.Identify.Until.Format(time.RFC3339)
				}
				m := s.Memory
				fmt.Fprintf(w, "Profile:  %s\nSystem:   %s %s (serial %s)\nPower:    %s\nIdentify: %s\nMemory:   %s-%d, %d socket(s) x %d controller(s) x %d channel(s) x %d slot(s)\nModules:  %d of %d slots populated, %d GiB installed\n",
					s.Profile, s.Manufacturer, s.Model, s.SerialNumber, power, identify, m.Type, m.SpeedMTs, m.Sockets, m.ControllersPerSocket,
					m.ChannelsPerController, m.SlotsPerChannel, m.Populated, m.Slots, m.InstalledMiB/1024)
				return nil
			})
		},
	}
}

func ctlSlots(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "slots [SLOT]",
		Short: "List the memory slots and what they hold",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			var slots []control.Slot
			if len(args) == 1 {
				s, err := o.client().Slot(ctx, args[0])
				if err != nil {
					return err
				}
				slots = []control.Slot{s}
			} else {
				var err error
				if slots, err = o.client().Slots(ctx); err != nil {
					return err
				}
			}
			if o.output == "json" {
				if len(args) == 1 {
					return writeJSON(cmd.OutOrStdout(), slots[0])
				}
				return writeJSON(cmd.OutOrStdout(), slots)
			}
			return printSlots(cmd.OutOrStdout(), slots)
		},
	}
}

func printSlots(w io.Writer, slots []control.Slot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tSOCKET\tCHANNEL\tSTATE\tCAPACITY\tTYPE\tSPEED\tRANKS\tMANUFACTURER\tPART NUMBER\tSERIAL\tSTATUS\tHEALTH\tPOWER\tATTN LED\tLOCATE\tREASON")
	for _, s := range slots {
		locate := "-"
		if s.LocationIndicator {
			locate = "On"
		}
		tail := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", orDash(s.Status), orDash(s.Health), orDash(s.Power), orDash(s.AttentionLED), locate, orDash(s.Reason))
		if s.Module == nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", s.Name, s.Socket, s.Channel, s.State, tail)
			continue
		}
		m := s.Module
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d GiB\t%s %s\t%d MT/s\t%d\t%s\t%s\t%s\t%s\n", s.Name, s.Socket, s.Channel, s.State,
			m.CapacityMiB/1024, m.Type, m.BaseModule, m.SpeedMTs, m.Ranks, m.Manufacturer, orDash(m.PartNumber), m.SerialNumber, tail)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func ctlInsert(o *ctlOptions) *cobra.Command {
	var req control.ModuleRequest
	var typ, base, spdFile string
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "insert SLOT",
		Short: "Seat a memory module in an empty slot",
		Long: `Seat a memory module in an empty slot and close its latch. Unset properties
take the board's defaults (its DRAM type and speed, a 32 GiB RDIMM).
--spd-file seats a module with exactly that EEPROM image, e.g. a deliberately
corrupt one.

The careful sequence is "ctl attention SLOT" first (the SMC isolates the slot),
then insert; inserting into a live slot puts noise on the channel's bus. The
server then reads and checks the SPD, ramps the slot's power, trains the
module, maps it, and the OS adds and onlines it. --wait follows every step and
exits non-zero if the hot-add fails.`,
		Example: "  bmcemu ctl attention CPU0_DIMM_A2 && bmcemu ctl insert CPU0_DIMM_A2 --capacity-gib 64 --wait\n  bmcemu ctl insert CPU1_DIMM_C2 --capacity-gib 128 --ranks 2 --manufacturer Micron -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Type, req.BaseModule = spd.DeviceType(strings.ToUpper(typ)), spd.ModuleType(strings.ToUpper(base))
			if spdFile != "" {
				img, err := os.ReadFile(spdFile)
				if err != nil {
					return fmt.Errorf("--spd-file: %w", err)
				}
				req.SPD = img
			}
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			var from uint64
			if wait {
				var err error
				if from, err = lastSeq(ctx, o.client()); err != nil {
					return err
				}
			}
			s, err := o.client().Insert(ctx, args[0], req)
			if err != nil {
				return err
			}
			if wait {
				recs, ferr := o.follow(cmd, args[0], from, insertOutcome(), waitTimeout)
				if o.output == "json" {
					final, _ := o.client().Slot(ctx, args[0])
					_ = writeJSON(cmd.OutOrStdout(), waitResult{OK: ferr == nil, Error: errString(ferr), Slot: final, Events: recs})
				} else if ferr == nil {
					final, err := o.client().Slot(ctx, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), slotSummary(final))
				}
				return ferr
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), s)
			}
			return printSlots(cmd.OutOrStdout(), []control.Slot{s})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "follow the hot-add through each stage; exit non-zero if it fails")
	f.DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "give up waiting after this long")
	f.IntVar(&req.CapacityGiB, "capacity-gib", 0, "module capacity in GiB (default 32)")
	f.StringVar(&typ, "type", "", "DRAM type: DDR5 or DDR4 (default: the board's)")
	f.StringVar(&base, "base-module", "", "RDIMM, UDIMM, SO_DIMM or LRDIMM (default RDIMM)")
	f.IntVar(&req.Ranks, "ranks", 0, "rank count (default 1, or 2 above 32 GiB)")
	f.IntVar(&req.SpeedMTs, "speed", 0, "data rate in MT/s (default: the board's)")
	f.StringVar(&req.Manufacturer, "manufacturer", "", "Samsung, SK hynix, Micron Technology, Kingston, Smart Modular")
	f.StringVar(&req.PartNumber, "part-number", "", "part number (at most 30 characters)")
	f.Uint32Var(&req.SerialNumber, "serial", 0, "serial number (default: derived)")
	f.StringVar(&spdFile, "spd-file", "", "raw SPD EEPROM image to seat instead of building one")
	return cmd
}

func ctlRemove(o *ctlOptions) *cobra.Command {
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "remove SLOT",
		Short: "Pull the module out of a slot (--wait: eject it from the OS first)",
		Long: `Pull the module out of a slot. Without --wait the module comes out at once:
if it is powered that is a surprise removal. With --wait a module in service is
first ejected the careful way: the attention button asks the OS to offline and
remove its memory and the firmware to run _EJ0, the SMC powers the slot down,
and only then is the module pulled. The OS refuses (and the command exits
non-zero, with the reason) while a block of the module holds unmovable pages.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			c := o.client()
			if wait {
				sl, err := c.Slot(ctx, args[0])
				if err != nil {
					return err
				}
				if sl.Module != nil && sl.Power == "Nominal" {
					from, err := lastSeq(ctx, c)
					if err != nil {
						return err
					}
					if _, err := c.Attention(ctx, args[0]); err != nil {
						return err
					}
					if _, err := o.follow(cmd, args[0], from, ejectOutcome, waitTimeout); err != nil {
						return err
					}
				}
			}
			m, err := c.Remove(ctx, args[0])
			if err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s: %d GiB %s %s, serial %s\n", args[0], m.CapacityMiB/1024, m.Type, m.BaseModule, m.SerialNumber)
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "eject the module from the OS and power the slot down before pulling it; exit non-zero if refused")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "give up waiting after this long")
	return cmd
}

type waitResult struct {
	OK     bool                  `json:"ok"`
	Error  string                `json:"error,omitempty"`
	Slot   control.Slot          `json:"slot"`
	Events []control.EventRecord `json:"events"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// lastSeq is where a --wait starts following the event stream.
func lastSeq(ctx context.Context, c *control.Client) (uint64, error) {
	p, err := c.Events(ctx, 1<<62, 0)
	if err != nil {
		return 0, err
	}
	return p.LastSeq, nil
}

// outcome decides whether a record ends the operation being followed:
// done with err nil on success.
type outcome func(r control.EventRecord, f map[string]any) (done bool, err error)

// insertOutcome follows a hot-add: success when the firmware reports
// MemoryHotAdded; failure at the first step that ends it, with the most
// specific reason seen.
func insertOutcome() outcome {
	var why string
	rebuilding := false
	return func(r control.EventRecord, f map[string]any) (bool, error) {
		fail := func(format string, a ...any) (bool, error) {
			return true, fmt.Errorf("hot-add of %s failed: "+format, append([]any{r.Slot}, a...)...)
		}
		switch r.Kind {
		case "MemoryHotAdded":
			return true, nil
		case "MemoryRebuildStarted":
			rebuilding = true
		case "MemoryAwaitingPartner":
			return true, nil // powered and waiting; the partner's insertion completes the pair
		case "MemoryRebuildCompleted":
			return true, nil // a hot-replace: the hardware rebuilt the module
		case "MemoryRebuildAborted":
			return fail("%v aborted: %v", f["op"], f["reason"])
		case "MemoryReplaceRefused":
			return fail("refused by the memory RAS mode: %v", f["reason"])
		case "SPDCheckFailed":
			return fail("SPD check: %v: %v", f["reason"], f["detail"])
		case "FirmwareFault":
			why = fmt.Sprintf("FW_FAULT (%v): %v", f["fault"], f["reason"])
		case "ModuleParked":
			if why == "" {
				why = fmt.Sprintf("FW_FAULT: %v", f["reason"])
			}
			return fail("%s; module parked in the defective pool", why)
		case "AddressMapRejected":
			return fail("address map: %v", f["reason"])
		case "FirmwareTimeout":
			if f["stage"] == "ospm-insert" {
				return fail("the OS did not acknowledge the new memory device in time")
			}
		case "KernelMemoryAddFailed":
			why = fmt.Sprintf("the OS refused the memory: %v: %v", f["errno"], f["reason"])
		case "SurpriseRemoval":
			return fail("module pulled while powered")
		case "ACPIOST":
			st, _ := f["status"].(float64)
			src, _ := f["source"].(float64)
			if src == 0x200 && st == 0 && f["from"] == "firmware" && !rebuilding {
				// Taken as a hot-replace by the RAS hardware, waiting for
				// the rest of its cartridge before the rebuild starts.
				return true, nil
			}
			if src == 0x200 && st != 0 && st != 0x80 && f["from"] == "ospm" {
				if why == "" {
					why = fmt.Sprintf("_OST(0x200, %#x) %v", int(st), f["meaning"])
				}
				return fail("%s", why)
			}
		}
		return false, nil
	}
}

func ejectOutcome(r control.EventRecord, f map[string]any) (bool, error) {
	switch r.Kind {
	case "SlotReady":
		if f["for"] == "removal" {
			return true, nil
		}
	case "EjectFailed":
		return true, fmt.Errorf("eject of %s refused: %v", r.Slot, f["reason"])
	}
	return false, nil
}

// follow long-polls the event stream from seq from, printing the slot's
// steps (table output) until outcome says it is over.
func (o *ctlOptions) follow(cmd *cobra.Command, slot string, from uint64, done outcome, timeout time.Duration) ([]control.EventRecord, error) {
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	c := o.client()
	w := cmd.OutOrStdout()
	var seen []control.EventRecord
	var t0 time.Time
	// A spinner names the step the operation is at; a rebuild, which
	// reports how far it is, gets a bar to 100%.
	var bar *progress
	rebuilding := false
	if o.output != "json" {
		bar = newProgress(cmd, -1, slot+": waiting")
	}
	ok := false
	defer func() { bar.Done(ok) }()
	for {
		if ctx.Err() != nil {
			return seen, fmt.Errorf("%s: gave up waiting after %s", slot, timeout)
		}
		pctx, pcancel := context.WithTimeout(ctx, 25*time.Second)
		page, err := c.Events(pctx, from, 20*time.Second)
		pcancel()
		if err != nil {
			if ctx.Err() != nil {
				return seen, fmt.Errorf("%s: gave up waiting after %s", slot, timeout)
			}
			return seen, err
		}
		if page.Truncated && o.output != "json" {
			fmt.Fprintln(w, "  (some events were missed: the server's event ring wrapped)")
		}
		for _, r := range page.Records {
			from = r.Seq
			if r.Slot != slot && !mentions(r, slot) {
				continue
			}
			seen = append(seen, r)
			var f map[string]any
			_ = json.Unmarshal(r.Event, &f)
			if t0.IsZero() {
				t0 = r.Time
			}
			if pct, isProgress := f["percent"].(float64); isProgress && r.Kind == "MemoryRebuildProgress" && bar != nil {
				if !rebuilding {
					bar.Done(false)
					bar, rebuilding = newProgress(cmd, 100, fmt.Sprintf("%s: %v", slot, f["op"])), true
				}
				bar.Set(int(pct))
			} else if !rebuilding {
				bar.Describe(slot + ": " + r.Kind)
			}
			if o.output != "json" {
				bar.Println(w, fmt.Sprintf("  +%7.3fs  %-26s %s", r.Time.Sub(t0).Seconds(), r.Kind, describe(r.Kind, f)))
			}
			if end, err := done(r, f); end {
				ok = err == nil
				return seen, err
			}
		}
		if len(page.Records) == 0 && page.LastSeq > from {
			from = page.LastSeq
		}
	}
}

// mentions reports whether an event without a Slot field names slot (bus
// noise victims).
func mentions(r control.EventRecord, slot string) bool {
	return (r.Kind == "BusNoiseRecovered" || r.Kind == "BusNoise") && strings.Contains(string(r.Event), `"`+slot+`"`)
}

// describe turns an event's fields into a progress line.
func describe(kind string, f map[string]any) string {
	g := func(k string) any { return f[k] }
	hex := func(k string) string {
		v, _ := f[k].(float64)
		return fmt.Sprintf("%#x", uint64(v))
	}
	gib := func(k string) string {
		v, _ := f[k].(float64)
		return fmt.Sprintf("%d GiB", uint64(v)>>30)
	}
	switch kind {
	case "AttentionPressed":
		return fmt.Sprintf("attention button pressed (%v)", g("intent"))
	case "AttentionIndicatorChanged":
		return fmt.Sprintf("attention LED %v", g("state"))
	case "SlotPowerChanged":
		return fmt.Sprintf("slot power %v (%v mV)", g("state"), g("millivolts"))
	case "SlotLatchChanged":
		if f["open"] == true {
			return "latch opened"
		}
		return "latch closed"
	case "SlotPresenceChanged":
		s := "module seated"
		if f["present"] != true {
			s = "module pulled"
		}
		if f["isolated"] != true {
			s += " (slot NOT isolated: no attention step)"
		}
		return s
	case "ModuleInserted", "ModuleRemoved":
		if m, ok := f["module"].(map[string]any); ok {
			return fmt.Sprintf("%v MiB %v %v, serial %v", m["capacity_mib"], m["type"], m["base_module"], m["serial_number"])
		}
	case "SlotReady":
		return fmt.Sprintf("slot isolated, ready for %v", g("for"))
	case "SPDAccepted":
		return fmt.Sprintf("SPD read and accepted, runs at %v MT/s", g("operating_speed_mts"))
	case "SPDCheckFailed":
		return fmt.Sprintf("SPD refused: %v: %v", g("reason"), g("detail"))
	case "BusNoise":
		return fmt.Sprintf("bus noise on the channel: %v", g("victims"))
	case "BusNoiseRecovered":
		return fmt.Sprintf("bus quiet again: %v", g("victims"))
	case "SCIRaised":
		return fmt.Sprintf("SCI: GPE %v -> \\_GPE.%v (%v)", g("gpe"), g("method"), g("cause"))
	case "MemoryTrained":
		return fmt.Sprintf("trained %v lanes, min eye %v ps, Vref %v%%, %v MT/s", g("lanes"), g("min_eye_ps"), g("vref_percent"), g("speed_mts"))
	case "TrainingFailed":
		return fmt.Sprintf("training failed at %v: %v", g("stage"), g("reason"))
	case "AddressMapUpdated":
		return fmt.Sprintf("TAD %v: base %s, %s (generation %v)", g("op"), hex("base"), gib("length"), g("generation"))
	case "InterleaveChanged":
		return fmt.Sprintf("interleave: %v", g("reason"))
	case "PatternTestCompleted":
		if f["passed"] == true {
			return fmt.Sprintf("pattern test passed (%v samples x %v patterns)", g("samples"), g("patterns"))
		}
		bit, _ := f["bit"].(float64)
		stuck, _ := f["stuck_at"].(float64)
		return fmt.Sprintf("pattern test FAILED: bit %d stuck at %d at %s", int(bit), int(stuck), hex("address"))
	case "ACPINotify":
		return fmt.Sprintf("Notify(%v, %v) %v", g("device"), g("code"), g("name"))
	case "ACPIOST":
		return fmt.Sprintf("_OST(%s, %s) %v [%v]", hex("source"), hex("status"), g("meaning"), g("from"))
	case "KernelMemoryAdded":
		return fmt.Sprintf("kernel: added %s at %s to node %v: %v blocks, %v online", gib("length"), hex("base"), g("node"), g("blocks"), g("online"))
	case "KernelMemoryAddFailed", "KernelMemoryRemoveRefused":
		return fmt.Sprintf("kernel: %v: %v", g("errno"), g("reason"))
	case "KernelMemoryRemoved":
		return fmt.Sprintf("kernel: offlined and removed %s at %s", gib("length"), hex("base"))
	case "MemoryHotAdded":
		return fmt.Sprintf("hot-add complete: %s at %s on node %v", gib("length"), hex("base"), g("node"))
	case "KernelPagesMigrated":
		// Page counts reach millions: print them as integers, not %v's
		// exponent form of a JSON float.
		n := func(k string) uint64 { v, _ := f[k].(float64); return uint64(v) }
		return fmt.Sprintf("kernel: migrated %d of %d movable pages into %v (target %d); %d unmovable, %d reserved pages stay on node %v",
			n("pages"), n("movable"), g("slot"), n("target"), n("unmovable"), n("reserved"), g("node"))
	case "GuestMemoryChanged":
		n := func(k string) uint64 { v, _ := f[k].(float64); return uint64(v) }
		line := fmt.Sprintf("vm: %v %v %v: %s (asked %s)", g("device"), g("id"), g("op"), vmSize(n("bytes")), vmSize(n("requested")))
		if r, ok := f["reason"].(string); ok && r != "" {
			line += ": " + r
		}
		return line
	case "MemoryEjected":
		return fmt.Sprintf("_EJ0: %s at %s left the address map", gib("length"), hex("base"))
	case "EjectFailed":
		return fmt.Sprintf("eject refused: %v", g("reason"))
	case "FirmwareFault":
		return fmt.Sprintf("FW_FAULT (%v): %v", g("fault"), g("reason"))
	case "ModuleParked":
		return fmt.Sprintf("module %v parked in the defective pool", g("serial"))
	case "FirmwareTimeout":
		return fmt.Sprintf("firmware timeout during %v", g("stage"))
	case "SurpriseRemoval":
		return fmt.Sprintf("surprise removal while %v", g("power_state"))
	case "FaultArmed", "FaultCleared":
		return fmt.Sprintf("%v", g("fault"))
	case "RASModeApplied":
		if e := g("config_error"); e != nil {
			return fmt.Sprintf("RAS mode %v not applied (%v): booted in %v", g("requested"), e, g("mode"))
		}
		return fmt.Sprintf("RAS mode %v: %s usable of %s", g("mode"), gib("usable_bytes"), gib("raw_bytes"))
	case "MemoryCorrectableError":
		return fmt.Sprintf("correctable ECC error, rank %v at %s (lifetime %v)", g("rank"), hex("address"), g("count"))
	case "MemoryUncorrectableError":
		if g("recovered") == true {
			return fmt.Sprintf("uncorrectable ECC error, rank %v at %s: recovered from redundancy", g("rank"), hex("address"))
		}
		return fmt.Sprintf("uncorrectable ECC error, rank %v at %s: no redundancy", g("rank"), hex("address"))
	case "MemoryCEThresholdExceeded":
		return fmt.Sprintf("rank %v crossed the correctable error threshold (level %v)", g("rank"), g("level"))
	case "MemoryCELoggingLimit":
		return "correctable error logging limit reached"
	case "MemoryDataLost":
		return fmt.Sprintf("DATA LOST: %v page(s) from %s: %v", g("pages"), hex("address"), g("reason"))
	case "MemorySpareActivated":
		return fmt.Sprintf("rank %v now served by spare %v rank %v (%v pages copied)", g("rank"), g("spare_slot"), g("spare_rank"), g("pages"))
	case "MemoryModuleMappedOut":
		return fmt.Sprintf("mapped out: %v", g("reason"))
	case "MemoryRebuildStarted":
		return fmt.Sprintf("%v of %v started (%v written pages)", g("op"), g("set"), g("total"))
	case "MemoryRebuildProgress":
		return fmt.Sprintf("%v of %v: %v%%", g("op"), g("set"), g("percent"))
	case "MemoryRebuildCompleted":
		return fmt.Sprintf("%v of %v complete (%v pages)", g("op"), g("set"), g("pages"))
	case "MemoryRebuildAborted":
		return fmt.Sprintf("%v of %v aborted at %v of %v pages: %v", g("op"), g("set"), g("done"), g("total"), g("reason"))
	case "MemoryRedundancyChanged":
		return fmt.Sprintf("%v (server: %v)", g("reason"), g("overall"))
	case "MemoryReplaceRefused":
		return fmt.Sprintf("refused: %v", g("reason"))
	case "MemoryAwaitingPartner":
		return fmt.Sprintf("waiting: %v", g("reason"))
	case "MemoryCapacityExpanded":
		return fmt.Sprintf("%v", g("reason"))
	case "RASModePending":
		return fmt.Sprintf("RAS mode %v saved; it applies at the next boot", g("mode"))
	case "BootOverrideChanged":
		if g("consumed") == true {
			return fmt.Sprintf("the host booted: boot override to %v consumed", g("target"))
		}
		return fmt.Sprintf("boot override: %v %v (%v)", g("target"), g("enabled"), g("mode"))
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// slotSummary is the one-line result of a finished hot-add.
func slotSummary(s control.Slot) string {
	line := fmt.Sprintf("%s: %s (%s)", s.Name, s.Status, s.Health)
	if s.Memory != nil {
		line += fmt.Sprintf(", node %d [mem %#016x-%#016x], %d/%d blocks online", s.Memory.Node, s.Memory.Base, s.Memory.Base+s.Memory.Length-1,
			s.Memory.BlocksOnline, s.Memory.Blocks)
	}
	if s.Reason != "" {
		line += ": " + s.Reason
	}
	return line
}

func ctlAttention(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "attention SLOT",
		Short: "Press a slot's attention button (isolate an empty slot for insertion; eject a module in service)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
				return c.Attention(ctx, args[0])
			}, func(w io.Writer, s control.Slot) error {
				_, err := fmt.Fprintf(w, "%s: attention pressed; %s, stage %s, power %s, LED %s\n", s.Name, s.Status, orDash(s.Stage), s.Power, s.AttentionLED)
				return err
			})
		},
	}
}

func ctlLatch(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "latch open|close SLOT",
		Short: "Open or close a slot's retention latch",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "open" && args[0] != "close" {
				return fmt.Errorf("latch %q: want open or close", args[0])
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
				return c.Latch(ctx, args[1], args[0] == "open")
			}, func(w io.Writer, s control.Slot) error {
				_, err := fmt.Fprintf(w, "%s: latch %s; %s\n", s.Name, map[bool]string{true: "open", false: "closed"}[s.LatchOpen], s.Status)
				return err
			})
		},
	}
}

func ctlFault(o *ctlOptions) *cobra.Command {
	var list, clear bool
	cmd := &cobra.Command{
		Use:   "fault SLOT KIND | fault --list | fault --clear SLOT [KIND]",
		Short: "Arm an injected fault on a slot (deterministic under serve --fault-seed)",
		Long: `Arm a fault on a slot; it strikes at its stage of the next hot-add into the
slot and stays armed (like a defective part) until cleared. --list shows the
kinds with what they simulate and what the platform does.`,
		Example: "  bmcemu ctl fault --list\n  bmcemu ctl fault CPU0_DIMM_B2 calibration\n  bmcemu ctl fault --clear CPU0_DIMM_B2",
		RunE: func(cmd *cobra.Command, args []string) error {
			armed := func(w io.Writer, s control.Slot) error {
				_, err := fmt.Fprintf(w, "%s: faults armed: %s\n", s.Name, orDash(strings.Join(s.Faults, ", ")))
				return err
			}
			switch {
			case list:
				if len(args) != 0 {
					return errors.New("--list takes no arguments")
				}
				return show(o, cmd, func(ctx context.Context, c *control.Client) ([]control.FaultKind, error) {
					return c.FaultKinds(ctx)
				}, func(w io.Writer, kinds []control.FaultKind) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "KIND\tSTAGE\tSIMULATES\tOUTCOME")
					for _, k := range kinds {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Stage, k.Description, k.Outcome)
					}
					return tw.Flush()
				})
			case clear:
				if len(args) < 1 || len(args) > 2 {
					return errors.New("--clear takes SLOT [KIND]")
				}
				kind := "all"
				if len(args) == 2 {
					kind = args[1]
				}
				return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
					return c.ClearFault(ctx, args[0], kind)
				}, armed)
			}
			if len(args) != 2 {
				return errors.New("want SLOT KIND (see --list)")
			}
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Slot, error) {
				return c.ArmFault(ctx, args[0], args[1])
			}, armed)
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the fault kinds with descriptions")
	cmd.Flags().BoolVar(&clear, "clear", false, "disarm KIND (default: every kind) on SLOT")
	return cmd
}

func ctlEvents(o *ctlOptions) *cobra.Command {
	var since uint64
	var follow bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the platform's recent events (--follow: keep printing new ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := o.client()
			w := cmd.OutOrStdout()
			for {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				wait := time.Duration(0)
				if follow {
					wait = 20 * time.Second
				}
				page, err := c.Events(ctx, since, wait)
				cancel()
				if err != nil {
					return err
				}
				for _, r := range page.Records {
					since = r.Seq
					if o.output == "json" {
						b, _ := json.Marshal(r)
						fmt.Fprintln(w, string(b))
						continue
					}
					var f map[string]any
					_ = json.Unmarshal(r.Event, &f)
					fmt.Fprintf(w, "%6d %s %-14s %-26s %s\n", r.Seq, r.Time.Format("15:04:05.000"), orDash(r.Slot), r.Kind, describe(r.Kind, f))
				}
				if !follow {
					return nil
				}
			}
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "only records after this sequence number")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep waiting for new records")
	return cmd
}

func ctlDmesg(o *ctlOptions) *cobra.Command {
	var since uint64
	cmd := &cobra.Command{
		Use:   "dmesg",
		Short: "Print the emulated host's kernel ring buffer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) ([]control.DmesgLine, error) {
				return c.Dmesg(ctx, since)
			}, func(w io.Writer, lines []control.DmesgLine) error {
				for _, l := range lines {
					fmt.Fprintln(w, l.Line)
				}
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "only lines after this sequence number")
	return cmd
}

func ctlBlocks(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "blocks",
		Short: "List the host OS's memory blocks (/sys/devices/system/memory) with state, zone and node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, func(ctx context.Context, c *control.Client) (control.Blocks, error) {
				return c.Blocks(ctx)
			}, func(w io.Writer, b control.Blocks) error {
				fmt.Fprintf(w, "block_size_bytes: %#x (%d MiB)\n", b.BlockSizeBytes, b.BlockSizeBytes>>20)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BLOCK\tRANGE\tSIZE\tSTATE\tONLINE_TYPE\tVALID_ZONES\tNODE\tREMOVABLE\tBOOT")
				for _, bl := range b.Blocks {
					fmt.Fprintf(tw, "memory%d\t0x%016x-0x%016x\t%dM\t%s\t%s\t%s\t%d\t%v\t%v\n", bl.ID, bl.Start, bl.Start+bl.Size-1, bl.Size>>20,
						bl.State, bl.OnlineType, bl.ValidZones, bl.Node, bl.Removable, bl.Boot)
				}
				return tw.Flush()
			})
		},
	}
}

func ctlBlock(o *ctlOptions) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:     "block online|offline N",
		Short:   "Online or offline memory block N (echo ... > /sys/devices/system/memory/memoryN/state)",
		Example: "  bmcemu ctl block offline 140\n  bmcemu ctl block online 140 --type online_movable",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.Atoi(strings.TrimPrefix(args[1], "memory"))
			if err != nil || id < 0 {
				return fmt.Errorf("block %q: want a block number (N in memoryN)", args[1])
			}
			state := ""
			switch args[0] {
			case "online":
				state = typ
			case "offline":
				state = "offline"
			default:
				return fmt.Errorf("%q: want online or offline", args[0])
			}
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			b, err := o.client().SetBlockState(ctx, id, state)
			if err != nil {
				return err
			}
			if o.output == "json" {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return err
			}
			var v struct {
				State      string `json:"state"`
				ValidZones string `json:"valid_zones"`
				Node       int    `json:"node"`
			}
			_ = json.Unmarshal(b, &v)
			fmt.Fprintf(cmd.OutOrStdout(), "memory%d: %s (zone %s, node %d)\n", id, v.State, v.ValidZones, v.Node)
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "online", "online type: online (the policy picks the zone), online_kernel or online_movable")
	return cmd
}

func ctlMeminfo(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "meminfo",
		Short: "Print the host OS's /proc/meminfo",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, get[kernel.Meminfo]("/os/meminfo"), func(w io.Writer, m kernel.Meminfo) error {
				_, err := fmt.Fprint(w, m.String())
				return err
			})
		},
	}
}

func ctlDirectMap(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "directmap",
		Short: "Print the host OS's direct map: DirectMap4k/2M/1G, page-table writes, TLB shootdowns, mappings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			var d control.DirectMap
			if err := o.client().Get(ctx, "/os/directmap", &d); err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), d.DirectMap)
			}
			_, err := fmt.Fprint(cmd.OutOrStdout(), withNewline(d.Text))
			return err
		},
	}
}

func ctlVmstat(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "vmstat",
		Short: "Print the host OS's /proc/vmstat (free pages, memmap, TLB flush counters)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			var v control.Vmstat
			if err := o.client().Get(ctx, "/os/vmstat", &v); err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), v.Vmstat)
			}
			_, err := fmt.Fprint(cmd.OutOrStdout(), withNewline(v.Text))
			return err
		},
	}
}

func ctlIomem(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "iomem",
		Short: "Print the host OS's /proc/iomem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := o.ctx(cmd.Context())
			defer cancel()
			var io control.Iomem
			if err := o.client().Get(ctx, "/os/iomem", &io); err != nil {
				return err
			}
			if o.output == "json" {
				return writeJSON(cmd.OutOrStdout(), io.Resources)
			}
			_, err := fmt.Fprint(cmd.OutOrStdout(), withNewline(io.Text))
			return err
		},
	}
}

func ctlACPI(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:       "acpi srat|hmat|cedt",
		Short:     "Disassemble the firmware's current SRAT, HMAT or CEDT (iasl -d style)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"srat", "hmat", "cedt"},
		RunE: func(cmd *cobra.Command, args []string) error {
			t := strings.ToLower(args[0])
			if t != "srat" && t != "hmat" && t != "cedt" {
				return fmt.Errorf("acpi %q: want srat, hmat or cedt", args[0])
			}
			return show(o, cmd, get[control.ACPITable]("/firmware/acpi/"+t), func(w io.Writer, tab control.ACPITable) error {
				_, err := fmt.Fprint(w, withNewline(tab.Text))
				return err
			})
		},
	}
}

func ctlMemmap(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "memmap",
		Short: "Print the UEFI memory map handed to the OS, the memmap= parameters holding hot-plug ranges back, and the firmware's map per socket (interleave sets, hot-plug reservation)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(o, cmd, get[control.Memmap]("/firmware/memmap"), func(w io.Writer, m control.Memmap) error {
				fmt.Fprint(w, m.Text)
				for _, p := range m.MemmapParams {
					fmt.Fprintln(w, "kernel parameter:", p)
				}
				_, err := fmt.Fprint(w, m.MapText)
				return err
			})
		},
	}
}

func withNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

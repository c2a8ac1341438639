package kernel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// A command-sequence decoder shared by the property test and the fuzz
// test: every 4 bytes are one operation, interpreted against the kernel's
// current state so that most operations hit something real.

type opKind uint8

const (
	opAdd opKind = iota
	opOnline
	opOffline
	opAlloc
	opFree
	opRemove
	opAutoOnline
	opVeto
	opRebalance
	nrOps
)

type op struct {
	kind    opKind
	a, b, c uint8
}

func (o op) String() string {
	return fmt.Sprintf("%s(%d,%d,%d)", [...]string{"add", "online", "offline", "alloc", "free", "remove", "auto", "veto", "rebalance"}[o.kind], o.a, o.b, o.c)
}

func decodeOps(data []byte) []op {
	var ops []op
	for len(data) >= 4 {
		ops = append(ops, op{opKind(data[0] % uint8(nrOps)), data[1], data[2], data[3]})
		data = data[4:]
	}
	return ops
}

// harness is a small VM (128 MiB blocks) with a hot-plug window above it.
type harness struct {
	k       *Kernel
	handles []Handle
	veto    bool
}

const (
	hpWindow      = 8 * GiB
	hpWindowBlock = 64 // blocks of 128 MiB in the window
)

func newHarness(t testing.TB, movableNode bool) *harness {
	t.Helper()
	k, err := Boot(Config{MovableNode: movableNode, Clock: nil}, []Range{
		{Start: 0, Size: 2 * GiB, Node: 0},
		{Start: 4 * GiB, Size: 2 * GiB, Node: 1, HotPluggable: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{k: k}
	k.RegisterNotifier("veto", DefaultPri, func(m MemoryNotify) error {
		if h.veto && (m.Action == MemGoingOnline || m.Action == MemGoingOffline) {
			return EBUSY
		}
		return nil
	})
	return h
}

var onlineTypes = [...]OnlineType{Online, OnlineKernel, OnlineMovable, Offline}

func (h *harness) apply(o op) error {
	k := h.k
	// pickBlock picks any block, or (when focus) one matching want.
	pickBlock := func(n uint8, focus bool, want func(Block) bool) int {
		bs := k.Blocks()
		if focus {
			var sel []Block
			for _, b := range bs {
				if want(b) {
					sel = append(sel, b)
				}
			}
			if len(sel) > 0 {
				bs = sel
			}
		}
		return bs[int(n)%len(bs)].ID
	}
	switch o.kind {
	case opAdd:
		start := hpWindow + uint64(o.b%hpWindowBlock)*128*MiB
		size := uint64(o.c%8+1) * 128 * MiB
		res := [...]string{"", "System RAM (kmem)", "System RAM (virtio_mem)", "System RAM"}[o.c>>6]
		return k.AddMemory(int(o.a%4), start, size, res)
	case opOnline:
		return k.OnlineBlock(pickBlock(o.a, o.c%4 != 0, func(b Block) bool { return b.State == "offline" }), onlineTypes[o.b%3])
	case opOffline:
		return k.OfflineBlock(pickBlock(o.a, o.c%4 != 0, func(b Block) bool { return !b.Boot && b.State == "online" }))
	case opAlloc:
		hd, err := k.Alloc(int(o.a%3)-1, int(o.b%MaxOrder), o.c%3 != 0)
		if err == nil {
			h.handles = append(h.handles, hd)
		}
		return err
	case opFree:
		if len(h.handles) == 0 {
			return nil
		}
		i := int(o.a) % len(h.handles)
		err := k.Free(h.handles[i])
		h.handles = append(h.handles[:i], h.handles[i+1:]...)
		return err
	case opRemove:
		start := hpWindow + uint64(o.a%hpWindowBlock)*128*MiB
		if o.c%2 == 1 {
			id := pickBlock(o.a, true, func(b Block) bool { return !b.Boot && b.State == "offline" })
			start = uint64(id) * 128 * MiB
		}
		if o.c%4 == 0 {
			// Offline a whole range first, as an eject would.
			for id := k.BlockForAddr(start); id < k.BlockForAddr(start)+int(o.b%4+1); id++ {
				_ = k.OfflineBlock(id)
			}
		}
		return k.RemoveMemory(start, uint64(o.b%4+1)*128*MiB)
	case opAutoOnline:
		return k.SetAutoOnline(onlineTypes[o.a%4])
	case opVeto:
		h.veto = o.a%5 == 0
	case opRebalance:
		// Into a hot-added online block, out of the boot ranges (both
		// nodes': the other node's pages are not the caller's to move).
		id := pickBlock(o.a, o.c%4 != 0, func(b Block) bool { return !b.Boot && b.State == "online" })
		b, _ := k.Block(id)
		_, err := k.Rebalance(b.Node, PhysRange{b.Start, b.Size}, []PhysRange{{0, 2 * GiB}, {4 * GiB, 2 * GiB}})
		return err
	}
	return nil
}

// checkViews cross-checks the exported views against each other.
func (h *harness) checkViews() error {
	k := h.k
	var onlinePages, present, managed uint64
	for _, b := range k.Blocks() {
		if b.State == "online" {
			onlinePages += b.PresentPages
		}
	}
	for _, n := range k.Nodes() {
		present += n.PresentPages
		managed += n.ManagedPages
		var zp uint64
		for _, z := range n.Zones {
			zp += z.PresentPages
			if z.FreePages+z.MovablePages+z.UnmovablePages+z.MemmapPages != z.ManagedPages {
				return fmt.Errorf("node %d zone %s: free+allocated != managed: %+v", n.ID, z.Name, z)
			}
			var fa uint64
			for o, c := range z.FreeArea {
				fa += c << o
			}
			if fa != z.FreePages {
				return fmt.Errorf("node %d zone %s: free_area sums to %d pages, nr_free_pages %d", n.ID, z.Name, fa, z.FreePages)
			}
		}
		if zp != n.PresentPages {
			return fmt.Errorf("node %d: zones %d != node %d", n.ID, zp, n.PresentPages)
		}
	}
	if onlinePages != present {
		return fmt.Errorf("online blocks hold %d pages, nodes %d", onlinePages, present)
	}
	if managed != k.TotalRAMPages() || k.Meminfo().MemTotal != managed*4 {
		return fmt.Errorf("totalram_pages %d, managed %d, MemTotal %d kB", k.TotalRAMPages(), managed, k.Meminfo().MemTotal)
	}
	return nil
}

func checkErr(err error) error {
	if err == nil {
		return nil
	}
	var ke *Error
	if !errors.As(err, &ke) {
		return fmt.Errorf("untyped error %T: %v", err, err)
	}
	for _, s := range []error{ErrBusy, ErrNoMemory, ErrInvalid, ErrExist, ErrNotFound} {
		if errors.Is(err, s) {
			return nil
		}
	}
	return fmt.Errorf("error with unexpected errno: %v", err)
}

func runOps(t testing.TB, h *harness, ops []op) map[string]int {
	t.Helper()
	stats := map[string]int{}
	for i, o := range ops {
		err := h.apply(o)
		name := o.String()[:len(o.String())-len(fmt.Sprintf("(%d,%d,%d)", o.a, o.b, o.c))]
		var ke *Error
		if errors.As(err, &ke) {
			stats[name+":"+ke.Errno.Name()]++
		} else if err == nil {
			stats[name+":ok"]++
		}
		if err := checkErr(err); err != nil {
			t.Fatalf("step %d %v: %v", i, o, err)
		}
		if err := h.k.CheckInvariants(); err != nil {
			t.Fatalf("step %d %v: %v", i, o, err)
		}
		if err := h.checkViews(); err != nil {
			t.Fatalf("step %d %v: %v", i, o, err)
		}
	}
	return stats
}

func TestPropertyRandomHotplugSequences(t *testing.T) {
	seeds, steps := 24, 400
	if testing.Short() {
		seeds = 6
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 0x6b65726e656c))
			h := newHarness(t, seed%2 == 1)
			// Weight the mix towards allocation traffic and hot-plug.
			weights := [nrOps]int{opAdd: 6, opOnline: 5, opOffline: 5, opAlloc: 12, opFree: 8, opRemove: 4, opAutoOnline: 1, opVeto: 1, opRebalance: 3}
			var total int
			for _, w := range weights {
				total += w
			}
			ops := make([]op, steps)
			for i := range ops {
				x := r.IntN(total)
				var kind opKind
				for kind = 0; x >= weights[kind]; kind++ {
					x -= weights[kind]
				}
				ops[i] = op{kind, uint8(r.UintN(256)), uint8(r.UintN(256)), uint8(r.UintN(256))}
			}
			t.Logf("outcomes: %v", runOps(t, h, ops))
			// Tear down: free everything, offline and remove the window.
			for _, hd := range h.handles {
				if err := h.k.Free(hd); err != nil {
					t.Fatal(err)
				}
			}
			h.veto = false
			// A hot-added block may hold the memmap of blocks added after
			// it, so removal goes in passes until nothing is left.
			for pass := 0; ; pass++ {
				left, progress := 0, false
				for _, b := range h.k.Blocks() {
					if b.Boot {
						continue
					}
					if b.State == "online" {
						if err := h.k.OfflineBlock(b.ID); err != nil {
							left++
							continue
						}
					}
					if err := h.k.RemoveMemory(b.Start, b.Size); err != nil {
						t.Fatalf("remove offline memory%d: %v", b.ID, err)
					}
					progress = true
				}
				if left == 0 {
					break
				}
				if !progress {
					t.Fatalf("pass %d: %d hot-added blocks cannot be offlined", pass, left)
				}
			}
			mustCheck(t, h.k)
			if mi := h.k.Meminfo(); mi.Memmap != 0 || mi.AnonPages != 0 || mi.Unmovable != 0 || len(h.k.Nodes()) != 2 {
				t.Fatalf("after teardown: %+v, %d nodes", mi, len(h.k.Nodes()))
			}
		})
	}
}

func FuzzOpSequence(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{byte(opAdd), 2, 0, 7, byte(opAlloc), 3, 0, 0, byte(opOffline), 40, 0, 0, byte(opRemove), 0, 3, 0})
	f.Add([]byte{byte(opAutoOnline), 3, 0, 0, byte(opAdd), 1, 10, 3, byte(opOnline), 20, 2, 0, byte(opAlloc), 2, 10, 1, byte(opOffline), 20, 0, 0})
	f.Add([]byte{byte(opVeto), 0, 0, 0, byte(opAdd), 3, 60, 200, byte(opVeto), 1, 0, 0, byte(opOnline), 255, 0, 0, byte(opRemove), 60, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := decodeOps(data)
		if len(ops) > 64 {
			ops = ops[:64]
		}
		h := newHarness(t, len(data)%2 == 1)
		runOps(t, h, ops)
	})
}

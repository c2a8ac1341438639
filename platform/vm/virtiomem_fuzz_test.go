package vm

import (
	"fmt"
	"testing"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// FuzzVirtioMemOps drives a virtio-mem device in sub-block and big block
// mode through random requested-size changes, kernel allocations that
// pin memory, frees, and an operator onlining or offlining memory blocks,
// and checks after every step what the driver and the device must agree
// on: the driver's sub-block states equal the device's plugged bitmap,
// plugged-size counts it, the driver added exactly the memory blocks the
// kernel has in the region, each added unit is whole (BBM: all of a big
// block's memory blocks), and the kernel's own invariants hold.
func FuzzVirtioMemOps(f *testing.F) {
	// ops[0] picks the block size, ops[1] the online type; then pairs of
	// (op, argument). Requested sizes are in 128 MiB units.
	f.Add([]byte{0, 0, 0, 8, 1, 0, 0, 0})
	f.Add([]byte{3, 1, 0, 12, 5, 3, 0, 0})            // 512 MiB BBM, kernel pages pinned, shrink
	f.Add([]byte{4, 1, 0, 24, 5, 9, 0, 8, 0, 0})      // 1 GiB BBM
	f.Add([]byte{2, 1, 0, 6, 5, 1, 3, 2, 0, 1, 0, 0}) // 128 MiB: BBM with one memory block each
	f.Add([]byte{1, 1, 0, 10, 5, 4, 0, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 2 || len(ops) > 64 {
			return
		}
		// 4 and 64 MiB: SBM; 128 MiB (the memory block), 512 MiB and
		// 1 GiB: BBM.
		bs := []uint64{4 * MiB, 64 * MiB, 128 * MiB, 512 * MiB, GiB}[int(ops[0])%5]
		online := []kernel.OnlineType{kernel.OnlineMovable, kernel.OnlineKernel}[int(ops[1])%2]
		k := bootGuest(t, kernel.Config{AutoOnline: online})
		g, err := New(k, Config{VirtioMem: &VirtioMemConfig{Addr: 64 * GiB, RegionSize: 256 * GiB, BlockSize: bs}}, 16*GiB, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := g.vmem
		var held []kernel.Handle
		for i := 2; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%6, uint64(ops[i+1])
			switch op {
			case 0: // requested-size: arg units of 128 MiB, rounded to the block
				size := min(arg*128*MiB, 8*GiB) / bs * bs
				if _, err := g.SetRequestedSize(size); err != nil {
					t.Fatalf("set-requested %d (block %d): %v", size, bs, err)
				}
			case 1: // a kernel or user allocation (order 0..9)
				if h, err := k.Alloc(0, int(arg%10), arg%3 == 0); err == nil {
					held = append(held, h)
				}
			case 2: // free one
				if len(held) > 0 {
					j := int(arg) % len(held)
					if err := k.Free(held[j]); err != nil {
						t.Fatalf("free: %v", err)
					}
					held = append(held[:j], held[j+1:]...)
				}
			case 3: // the operator offlines one of the region's blocks
				if ids := regionBlocks(k, v); len(ids) > 0 {
					_ = k.OfflineBlock(ids[int(arg)%len(ids)])
				}
			case 4: // or onlines one, in any zone: a kernel block among
				// movable ones makes a big block that refuses midway
				if ids := regionBlocks(k, v); len(ids) > 0 {
					as := []kernel.OnlineType{online, kernel.OnlineKernel, kernel.OnlineMovable}[arg%3]
					_ = k.OnlineBlock(ids[int(arg/3)%len(ids)], as)
				}
			case 5: // kernel allocations until arg+1 of them sit in the
				// region: with online_kernel blocks they pin memory
				// there, so unplugs are refused and undone
				for n, tries := uint64(0), 0; n <= arg%8 && tries < 1<<13; tries++ {
					h, err := k.Alloc(0, 9, false)
					if err != nil {
						break
					}
					held = append(held, h)
					if pfn, _, _, _ := k.PFN(h); pfn*kernel.PageSize >= v.cfg.Addr {
						n++
					}
				}
			}
			if err := k.CheckInvariants(); err != nil {
				t.Fatalf("step %d (op %d): kernel: %v", i/2, op, err)
			}
			if err := deviceAgrees(k, v); err != nil {
				t.Fatalf("step %d (op %d, block %d MiB): %v", i/2, op, bs>>20, err)
			}
		}
	})
}

// regionBlocks lists the memory blocks the kernel has in v's region.
func regionBlocks(k *kernel.Kernel, v *virtioMem) []int {
	var ids []int
	for _, b := range k.Blocks() {
		if a := uint64(b.ID) * k.BlockSizeBytes(); a >= v.cfg.Addr && a < v.cfg.Addr+v.cfg.RegionSize {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

func deviceAgrees(k *kernel.Kernel, v *virtioMem) error {
	n := 0
	for i, h := range v.host {
		if h != v.sb[i] {
			return fmt.Errorf("device block %d: device plugged %v, driver %v", i, h, v.sb[i])
		}
		if h {
			n++
		}
	}
	if n != v.nHost || v.pluggedSize() > v.cfg.RegionSize {
		return fmt.Errorf("plugged-size %d with %d device blocks plugged (counted %d)", v.pluggedSize(), n, v.nHost)
	}
	// Each unit the driver added is in the kernel whole, and the kernel
	// has nothing else in the region.
	unit := v.mbSize
	if v.bbm {
		unit = v.cfg.BlockSize
	}
	want := map[int]bool{}
	for u, added := range v.added {
		// The device blocks of unit u: one big block (BBM) or the
		// memory block's sub-blocks (SBM).
		first, n := u, 1
		if !v.bbm {
			first, n = u*v.sbPerMB, v.sbPerMB
		}
		plugged := false
		for i := first; i < first+n; i++ {
			plugged = plugged || v.sb[i]
		}
		if !added {
			if plugged {
				return fmt.Errorf("unit %d: plugged device blocks the driver has not added", u)
			}
			continue
		}
		if v.bbm && !plugged {
			return fmt.Errorf("big block %d: added but not plugged", u)
		}
		for a := v.cfg.Addr + uint64(u)*unit; a < v.cfg.Addr+uint64(u+1)*unit; a += v.mbSize {
			want[k.BlockForAddr(a)] = true
		}
	}
	got := regionBlocks(k, v)
	if len(got) != len(want) {
		return fmt.Errorf("the kernel has %d memory blocks in the region, the driver added %d", len(got), len(want))
	}
	for _, id := range got {
		if !want[id] {
			return fmt.Errorf("memory%d is in the kernel but the driver did not add it", id)
		}
	}
	return nil
}

package iommu

import (
	"errors"
	"testing"
)

func FuzzParseBDF(f *testing.F) {
	for _, s := range []string{"0000:38:00.0", "38:00.0", "0001:ff:1f.7", "0000:00:02.0", "0000:38:20.0", "::.", "0000:38:00.0:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseBDF(s)
		if err != nil {
			return
		}
		if id.dev > 31 || id.fn > 7 {
			t.Fatalf("%q parsed to out-of-range %+v", s, id)
		}
		again, err := parseBDF(id.String())
		if err != nil || again != id {
			t.Fatalf("%q -> %s -> %+v, %v", s, id, again, err)
		}
		short, err := parseBDF(id.source())
		if err != nil || short.bus != id.bus || short.dev != id.dev || short.fn != id.fn {
			t.Fatalf("source %s -> %+v, %v", id.source(), short, err)
		}
	})
}

// opReader decodes the fuzz input; it yields zeros once exhausted.
type opReader struct {
	b []byte
	i int
}

func (r *opReader) done() bool { return r.i >= len(r.b) }

func (r *opReader) u8() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *opReader) u16() uint64 { return uint64(r.u8()) | uint64(r.u8())<<8 }

type fuzzDev struct {
	bdf       string
	untrusted bool
}

var fuzzDevs = []fuzzDev{{"0000:38:00.0", true}, {"0000:00:17.0", false}, {"0000:3a:00.0", false}}

// perm is what the model allows on one IOVA page.
type perm struct {
	phys uint64 // page frame the device reaches
	r, w bool
}

func mappingPages(m Mapping) (iovaPFN, physPFN, n uint64) {
	target := m.Phys
	if m.Bounced {
		target = m.Slot
	}
	off := target & (PageSize - 1)
	return m.IOVA >> pageShift, target >> pageShift, (off + m.Size + PageSize - 1) >> pageShift
}

func pagesOf(m Mapping) map[uint64]perm {
	ip, pp, n := mappingPages(m)
	out := make(map[uint64]perm, n)
	for i := range n {
		out[ip+i] = perm{pp + i, m.Dir != FromDevice, m.Dir != ToDevice}
	}
	return out
}

const fuzzSwiotlbSlots = 16

// FuzzOps runs a decoded sequence of attach/map/unmap/access/flush/detach
// against a model of what each device may reach and checks after every step:
// the swiotlb slots in use are exactly the live bounced mappings'; a device
// access succeeds only on pages of its live mappings with the permission, or
// on pages unmapped since the last flush in a lazy domain; an access writes
// only to the physical pages behind those; a faulting access writes nothing.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 4, 2, 1, 3, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 1, 2, 0, 0})
	f.Add([]byte{2, 0, 1, 1, 1, 0, 0, 0, 16, 3, 3, 1, 0, 3, 1, 0, 0, 0, 16, 1, 2, 1, 0, 3, 1, 0, 0, 0, 16, 1, 4, 1, 5, 1})
	f.Add([]byte{1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 2, 1, 1, 0, 1, 0, 8, 0, 1, 3, 0, 0, 0, 0, 0, 0, 16, 0, 1, 5, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0})
	// Strict: attach, map 64 bytes, read it, unmap it, read the gone IOVA.
	f.Add([]byte{1, 0, 1, 1, 1, 0, 0, 63, 0, 2, 3, 1, 0, 0, 16, 7, 0, 0, 2, 1, 0, 3, 1, 2, 0, 0, 7, 0, 0})
	// The same with lazy invalidation: the read after unmap is stale, then flushed.
	f.Add([]byte{0, 0, 1, 1, 1, 0, 0, 63, 0, 2, 3, 1, 0, 0, 16, 7, 0, 0, 2, 1, 0, 3, 1, 1, 0, 0, 7, 0, 1, 4, 0, 3, 1, 2, 0, 0, 7, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &opReader{b: data}
		flags := r.u8()
		cfg := Config{Strict: flags&1 != 0, SwiotlbBytes: fuzzSwiotlbSlots * IOTLBSize, SwiotlbBase: testSwiotlbBase}
		iovaTop := uint64(1) << 32 // where iova.c starts handing out addresses
		if flags&2 != 0 {
			cfg.IOVABits = 16 // 15 usable pages: exhaustion is reachable
			iovaTop = 1 << 16
		}
		mem := &recMem{SparseMemory: NewSparseMemory()}
		for p := uint64(0); p < 8; p++ {
			mem.WritePhys(kernelPage+p*PageSize, fill(byte('A'+p), PageSize))
		}
		u, err := New(cfg, mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		attached := make([]bool, len(fuzzDevs))
		live := make([][]Mapping, len(fuzzDevs))
		gone := make([][]Mapping, len(fuzzDevs)) // recently unmapped, any mode
		stale := make([]map[uint64]perm, len(fuzzDevs))
		for i := range stale {
			stale[i] = map[uint64]perm{}
		}
		lazy := func(d int) bool { return !cfg.Strict && !fuzzDevs[d].untrusted }

		for step := 0; step < 200 && !r.done(); step++ {
			op, d := r.u8()%6, int(r.u8())%len(fuzzDevs)
			dev := fuzzDevs[d]
			switch op {
			case 0: // attach
				err := u.AttachDevice(dev.bdf, dev.untrusted)
				if (err == nil) == attached[d] {
					t.Fatalf("attach %s (attached=%v): %v", dev.bdf, attached[d], err)
				}
				attached[d] = true
			case 1: // map
				phys := kernelPage + r.u16()%(8*PageSize)
				size := 1 + r.u16()%(3*PageSize)
				dir := Dir(1 + r.u8()%3)
				m, err := u.MapSingle(dev.bdf, phys, size, dir)
				if !attached[d] {
					if err == nil {
						t.Fatalf("map on detached %s succeeded", dev.bdf)
					}
					continue
				}
				if err != nil {
					continue // swiotlb or IOVA space full; checked by the invariants below
				}
				wantBounce := dev.untrusted && (phys|size)%PageSize != 0
				if m.Bounced != wantBounce || m.Phys != phys || m.Size != size || m.Dir != dir {
					t.Fatalf("map %#x+%d %v for %s: %+v", phys, size, dir, dev.bdf, m)
				}
				for p := range pagesOf(m) {
					for _, o := range live[d] {
						if _, clash := pagesOf(o)[p]; clash {
							t.Fatalf("IOVA page %#x mapped twice", p)
						}
					}
					if _, clash := stale[d][p]; clash {
						t.Fatalf("IOVA page %#x reused before its flush", p)
					}
				}
				live[d] = append(live[d], m)
			case 2: // unmap
				if len(live[d]) == 0 {
					if err := u.UnmapSingle(dev.bdf, r.u16()<<pageShift); err == nil {
						t.Fatal("unmap of nothing succeeded")
					}
					continue
				}
				k := int(r.u8()) % len(live[d])
				m := live[d][k]
				if err := u.UnmapSingle(dev.bdf, m.IOVA); err != nil {
					t.Fatalf("unmap %+v: %v", m, err)
				}
				live[d] = append(live[d][:k], live[d][k+1:]...)
				gone[d] = append(gone[d], m)
				if len(gone[d]) > 8 {
					gone[d] = gone[d][1:]
				}
				if lazy(d) {
					for p, pm := range pagesOf(m) {
						stale[d][p] = pm
					}
				}
			case 3: // device access
				var iova uint64
				switch sel := r.u8(); {
				case sel%4 == 0 && len(live[d]) > 0:
					m := live[d][int(sel/4)%len(live[d])]
					iova = m.IOVA&^(PageSize-1) + r.u16()%(m.Size+2*PageSize) - PageSize
				case sel%4 == 1 && len(stale[d]) > 0:
					for p := range stale[d] {
						iova = p<<pageShift + r.u16()%PageSize
						break
					}
				case sel%4 == 2 && len(gone[d]) > 0:
					m := gone[d][int(sel/4)%len(gone[d])]
					iova = m.IOVA + r.u16()%m.Size
				default:
					iova = iovaTop - r.u16()<<4
				}
				n := 1 + int(r.u16()%(2*PageSize))
				write := r.u8()&1 != 0
				b := fill('Z', n)
				mem.arm()
				err := u.DeviceAccess(dev.bdf, iova, b, write)
				writes := mem.disarm()
				allowed := map[uint64]perm{}
				for p, pm := range stale[d] {
					allowed[p] = pm
				}
				for _, m := range live[d] {
					for p, pm := range pagesOf(m) {
						allowed[p] = pm
					}
				}
				if err != nil {
					var fl *Fault
					if !errors.As(err, &fl) {
						t.Fatalf("access error is not a *Fault: %v", err)
					}
					if len(writes) != 0 {
						t.Fatalf("faulting access wrote %v", writes)
					}
					continue
				}
				if !attached[d] {
					t.Fatalf("access by detached %s succeeded", dev.bdf)
				}
				physOK := map[uint64]bool{}
				for p := iova >> pageShift; p <= (iova+uint64(n)-1)>>pageShift; p++ {
					pm, ok := allowed[p]
					if !ok || (write && !pm.w) || (!write && !pm.r) {
						t.Fatalf("access %#x+%d write=%v succeeded on page %#x (allowed %v)", iova, n, write, p, ok)
					}
					physOK[pm.phys] = true
				}
				for _, w := range writes {
					for a := w.addr &^ (PageSize - 1); a < w.addr+w.n; a += PageSize {
						if !physOK[a>>pageShift] {
							t.Fatalf("access %#x+%d wrote physical %#x outside its mappings", iova, n, a)
						}
					}
				}
				if !write && len(writes) != 0 {
					t.Fatalf("read wrote %v", writes)
				}
			case 4: // flush
				u.Flush()
				for i := range stale {
					stale[i] = map[uint64]perm{}
				}
			case 5: // detach
				err := u.DetachDevice(dev.bdf)
				if (err == nil) != attached[d] {
					t.Fatalf("detach %s (attached=%v): %v", dev.bdf, attached[d], err)
				}
				attached[d], live[d], gone[d], stale[d] = false, nil, nil, map[uint64]perm{}
			}

			// Invariants after every step.
			var slots uint64
			nlive := 0
			for _, ms := range live {
				nlive += len(ms)
				for _, m := range ms {
					if m.Bounced {
						slots += (m.Size + PageSize - 1) / PageSize * (PageSize / IOTLBSize)
					}
				}
			}
			c := u.Counters()
			if c.SwiotlbSlotsUsed != slots || c.SwiotlbSlotsTotal != fuzzSwiotlbSlots {
				t.Fatalf("slots used %d of %d, live bounced mappings hold %d", c.SwiotlbSlotsUsed, c.SwiotlbSlotsTotal, slots)
			}
			if c.Maps-c.Unmaps != uint64(nlive) {
				t.Fatalf("maps %d - unmaps %d != %d live", c.Maps, c.Unmaps, nlive)
			}
			ndev := 0
			for _, dv := range u.Devices() {
				ndev++
				for i, fd := range fuzzDevs {
					if fd.bdf == dv.BDF && len(dv.Mappings) != len(live[i]) {
						t.Fatalf("%s lists %d mappings, model %d", dv.BDF, len(dv.Mappings), len(live[i]))
					}
				}
			}
			natt := 0
			for _, a := range attached {
				if a {
					natt++
				}
			}
			if ndev != natt {
				t.Fatalf("%d devices listed, %d attached", ndev, natt)
			}
		}
	})
}

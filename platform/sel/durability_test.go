package sel

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// seqRecord encodes a unique sequence number into a record's sensor number
// and event data 2-3, so a record can be recognised after a restart.
func seqRecord(seq uint32) Record {
	return Event{GeneratorID: GeneratorBMC, EvMRev: EvMRev, SensorType: 0x0C, SensorNumber: uint8(seq >> 16),
		EventType: 0x6F, Data: [3]byte{0x36, uint8(seq >> 8), uint8(seq)}}.Record()
}

// TestHelperProcess is the appender the durability test kills: it adds
// records as fast as it can and prints each one once Add has returned,
// i.e. once the SEL has acknowledged it.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("BMCEMU_SEL_HELPER")
	if path == "" {
		t.Skip("helper process for TestKillDurability")
	}
	start, _ := strconv.Atoi(os.Getenv("BMCEMU_SEL_START"))
	s, err := Open(Options{Path: path, Capacity: 20000, Policy: Stop, CompactAfter: 24})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	w := bufio.NewWriter(os.Stdout)
	for seq := uint32(start); ; seq++ {
		r, err := s.Add(seqRecord(seq))
		if err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(4)
		}
		fmt.Fprintf(w, "%d %x\n", r.ID(), r[:])
		w.Flush()
		if seq%7 == 0 { // deletes and the compactions they trigger are killed too
			if _, err := s.Delete(r.ID()); err != nil {
				fmt.Fprintln(w, "error", err)
				w.Flush()
				os.Exit(5)
			}
			fmt.Fprintf(w, "del %d\n", r.ID())
			w.Flush()
		}
	}
}

// TestKillDurability kills an appending process with SIGKILL at random
// points, 25 times, and checks after every restart that each acknowledged
// record is present, byte for byte, and that the SEL is readable.
func TestKillDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "sel.journal")
	acked := map[uint16]string{} // id -> hex record
	deleted := map[uint16]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const cycles = 25
	for cycle := range cycles {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "BMCEMU_SEL_HELPER="+path, fmt.Sprintf("BMCEMU_SEL_START=%d", cycle*100000))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := rng.IntN(60) // 0: kill as soon as possible, often during Open
		// The helper deletes every seventh record right after adding it; a
		// kill between that delete and its report may legitimately lose it.
		var lastAdd uint16
		mayBeDeleted := false
		sc := bufio.NewScanner(out)
		for n := 0; n < want && sc.Scan(); n++ {
			line := sc.Text()
			var id uint16
			var hex string
			switch {
			case len(line) > 4 && line[:4] == "del ":
				fmt.Sscanf(line, "del %d", &id)
				deleted[id] = true
				delete(acked, id)
				mayBeDeleted = false
			case len(line) > 6 && line[:6] == "error ":
				t.Fatalf("cycle %d: helper: %s", cycle, line)
			default:
				if _, err := fmt.Sscanf(line, "%d %s", &id, &hex); err != nil {
					t.Fatalf("cycle %d: bad line %q", cycle, line)
				}
				acked[id] = hex
				lastAdd = id
				mayBeDeleted = seqOf(hex)%7 == 0
			}
		}
		if want > 0 && rng.IntN(2) == 0 {
			// Let it run on a little, so the kill lands mid-write.
			time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		s, err := Open(Options{Path: path, Capacity: 20000, Policy: Stop, CompactAfter: 24})
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		have := map[uint16]string{}
		for _, r := range s.Entries() {
			if _, dup := have[r.ID()]; dup {
				t.Fatalf("cycle %d: duplicate record ID %d", cycle, r.ID())
			}
			have[r.ID()] = fmt.Sprintf("%x", r[:])
		}
		if _, ok := have[lastAdd]; !ok && mayBeDeleted {
			deleted[lastAdd] = true
			delete(acked, lastAdd)
		}
		for id, hex := range acked {
			if have[id] != hex {
				t.Fatalf("cycle %d: acknowledged record %d lost or changed: have %q want %q", cycle, id, have[id], hex)
			}
		}
		for id := range have {
			if deleted[id] {
				t.Fatalf("cycle %d: deleted record %d came back", cycle, id)
			}
		}
		// Records the helper wrote but was killed before reporting are
		// legitimately present; adopt them so later cycles check them too.
		for id, hex := range have {
			acked[id] = hex
		}
		if info := s.Info(); info.Entries != len(have) {
			t.Fatalf("cycle %d: info %+v vs %d entries", cycle, info, len(have))
		}
		s.Close()
	}
	if len(acked) < cycles {
		t.Errorf("only %d records survived %d cycles; the helper barely ran", len(acked), cycles)
	}
}

// seqOf recovers the sequence number seqRecord encoded.
func seqOf(hex string) uint32 {
	n, _ := strconv.ParseUint(hex[22:24]+hex[28:32], 16, 32)
	return uint32(n)
}

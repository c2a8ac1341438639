package events

import (
	"testing"
	"time"
)

func TestOrderAndOverflow(t *testing.T) {
	b := NewBus(nil)
	fast := b.Subscribe("fast", 16)
	slow := b.Subscribe("slow", 2)
	for i := 0; i < 5; i++ {
		b.Publish(time.Unix(int64(i), 0), PowerChanged{On: i%2 == 0})
	}
	for want := uint64(1); want <= 5; want++ {
		r := <-fast.C
		if r.Seq != want {
			t.Fatalf("fast got seq %d, want %d", r.Seq, want)
		}
	}
	if got := slow.Dropped(); got != 3 {
		t.Fatalf("slow dropped %d, want 3", got)
	}
	if r := <-slow.C; r.Seq != 1 {
		t.Fatalf("slow first record seq %d, want 1", r.Seq)
	}
	slow.Close()
	slow.Close()
	b.Publish(time.Now(), PowerChanged{})
	if b.Seq() != 6 {
		t.Fatalf("seq %d, want 6", b.Seq())
	}
}

func TestSlotOf(t *testing.T) {
	if got := SlotOf(ModuleInserted{Slot: "CPU0_DIMM_A1"}); got != "CPU0_DIMM_A1" {
		t.Fatalf("SlotOf(ModuleInserted) = %q", got)
	}
	if got := SlotOf(&SPDCheckFailed{Slot: "CPU1_DIMM_H2"}); got != "CPU1_DIMM_H2" {
		t.Fatalf("SlotOf(*SPDCheckFailed) = %q", got)
	}
	if got := SlotOf(PowerChanged{On: true}); got != "" {
		t.Fatalf("SlotOf(PowerChanged) = %q", got)
	}
	var nilEv *SlotReady
	if got := SlotOf(nilEv); got != "" {
		t.Fatalf("SlotOf(nil) = %q", got)
	}
}

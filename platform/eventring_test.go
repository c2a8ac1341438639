package platform

import (
	"slices"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
)

// The poll ring at and around its wrap: for every number of records
// added, every since and a few max, since returns what the window of
// the last size sequence numbers says.
func TestEventRingWrap(t *testing.T) {
	const size = 4
	for added := 0; added <= 3*size+1; added++ {
		r := newEventRing(size)
		for s := 1; s <= added; s++ {
			r.add(events.Record{Seq: uint64(s), Time: time.Unix(int64(s), 0), Event: events.PowerChanged{On: s%2 == 0}})
		}
		first := uint64(max(added-size, 0) + 1)
		last := uint64(added)
		for since := uint64(0); since <= last+1; since++ {
			for _, limit := range []int{0, 1, 2, size + 1} {
				recs, trunc, gotLast, _ := r.since(since, limit)
				var got, want []uint64
				for _, rec := range recs {
					got = append(got, rec.Seq)
				}
				for s := max(since+1, first); s <= last && (limit == 0 || len(want) < limit); s++ {
					want = append(want, s)
				}
				wantTrunc := added > 0 && since+1 < first
				if !slices.Equal(got, want) || trunc != wantTrunc || gotLast != last {
					t.Errorf("%d added, since(%d, %d) = %v %v %d; want %v %v %d", added, since, limit, got, trunc, gotLast, want, wantTrunc, last)
				}
			}
		}
	}
}

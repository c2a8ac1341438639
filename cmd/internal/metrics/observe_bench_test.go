package metrics

import (
	"net/http"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
)

// BenchmarkObserve is the cost the metrics add to every HTTP request,
// from every P at once (-cpu 2 or more, as under load): the counter and
// the histogram are shared by the requests of all cores.
func BenchmarkObserve(b *testing.B) {
	m := New(func() []*bmc.BMC { return nil })
	o := m.Observer("bmc")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o("redfish", http.MethodGet, http.StatusOK, 300*time.Microsecond)
		}
	})
}

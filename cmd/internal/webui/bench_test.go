package webui_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/bmcemu/bmcemu/cmd/internal/bmc"
	"github.com/bmcemu/bmcemu/cmd/internal/webui"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/sel"
	"github.com/bmcemu/bmcemu/redfish"
)

// BenchmarkMemberCost is what the web UI adds to a fleet member: its
// handler (webui.New, no goroutine) against the baseline of a whole
// member (bmc.New, which includes it). Compare B/op.
func BenchmarkMemberCost(b *testing.B) {
	b.Run("baseline=bmc.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := bmc.New(bmc.Config{Profile: profile.Default(), User: "admin", Password: "password",
				Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = m.Close()
			b.StartTimer()
		}
	})
	m, err := bmc.New(bmc.Config{Profile: profile.Default(), User: "admin", Password: "password",
		Clock: clock.Real{Speed: 1000}, IPMIAddr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.Run("webui.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := webui.New(webui.Config{
				Authenticate: func(*http.Request) (redfish.Principal, error) {
					return redfish.Principal{}, redfish.ErrNotAuthenticated
				},
				Control: http.NotFoundHandler(), Board: m.Platform(), Events: m.Platform(), SEL: selOf{},
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

type selOf struct{}

func (selOf) Info() sel.Info                         { return sel.Info{} }
func (selOf) Get(uint16) (sel.Record, uint16, error) { return sel.Record{}, 0, sel.ErrNotFound }

// BenchmarkStormHeap is the server's live heap after a storm of platform
// events (correctable ECC errors injected through the UI's own API),
// with browsers watching (half of them stalled: they read nothing after
// the first event), against the baseline of the same storm with none.
// The streams hold no queue: the difference is what the open connections
// themselves cost, not the storm's length.
func BenchmarkStormHeap(b *testing.B) {
	for _, streams := range []int{0, 8} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := newServer(b)
				tok := s.login("admin", "password")
				var bodies []io.Closer
				for i := range streams {
					st, resp := s.openStream(tok, "")
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("stream %d: %d", i, resp.StatusCode)
					}
					bodies = append(bodies, st.body)
					if i%2 == 0 {
						go func() { _, _ = io.Copy(io.Discard, resp.Body) }()
					}
				}
				seq0 := s.b.Platform().LastEventSeq()
				before := heapAfterGC()
				b.StartTimer()
				for range 50 {
					code, _, body := s.do(http.MethodPost, "/ui/api/emulator/v1/ras/errors", tok,
						map[string]any{"slot": "CPU0_DIMM_A1", "rank": 0, "kind": "ce", "count": 1000})
					if code != http.StatusOK {
						b.Fatalf("inject: %d %s", code, body)
					}
				}
				b.StopTimer()
				after := heapAfterGC()
				b.ReportMetric(float64(s.b.Platform().LastEventSeq()-seq0), "events/op")
				b.ReportMetric(float64(int64(after)-int64(before))/1024, "heap-KiB/op")
				for _, c := range bodies {
					c.Close()
				}
				s.close()
				b.StartTimer()
			}
		})
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

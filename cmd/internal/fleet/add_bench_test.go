package fleet

import (
	"context"
	"net/netip"
	"testing"

	"github.com/bmcemu/bmcemu/platform/clock"
)

// BenchmarkAddMember is the cost of adding one member of the default
// profile to a running fleet (boot, stores, surfaces, sockets).
func BenchmarkAddMember(b *testing.B) {
	lay := Layout{First: netip.MustParseAddr("127.0.91.1"), SamePorts: true, IPMIPort: 26000, HTTPPort: 27000, User: "admin", Password: "password"}
	ms, err := Generate(b.N, 1, lay)
	if err != nil {
		b.Fatal(err)
	}
	f := New(Options{User: "admin", Password: "password", Clock: clock.Real{Speed: 1}})
	f.Start(context.Background())
	defer f.Close()
	b.ResetTimer()
	for _, m := range ms {
		if _, err := f.Add(m); err != nil {
			b.Fatal(err)
		}
	}
}

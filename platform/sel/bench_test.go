package sel

import (
	"path/filepath"
	"testing"
)

// BenchmarkSELAppend is durable appends: every Add is journalled and
// fsynced before it returns. Capacity is large and the policy wraps, so
// the benchmark also runs through compactions.
func BenchmarkSELAppend(b *testing.B) {
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "sel.journal")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := Event{GeneratorID: GeneratorBMC, EvMRev: EvMRev, SensorType: 0x0C, SensorNumber: 1, EventType: 0x6F,
		Data: [3]byte{0x30, 0xFF, 0x00}}.Record()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

package pages

import "testing"

// FuzzStoreReadWrite: a write then read of the same span round-trips and
// touches only the pages it covers.
func FuzzStoreReadWrite(f *testing.F) {
	f.Add(uint64(4090), []byte("abcdefghijkl"))
	f.Add(uint64(0), []byte{})
	f.Fuzz(func(t *testing.T, addr uint64, b []byte) {
		addr %= 1 << 50
		s := New()
		s.Write(addr, b)
		got := make([]byte, len(b))
		s.Read(addr, got)
		if string(got) != string(b) {
			t.Fatal("round trip")
		}
		want := 0
		if len(b) > 0 {
			want = int((addr+uint64(len(b))-1)>>PageShift - addr>>PageShift + 1)
		}
		if s.Len() != want {
			t.Fatalf("%d pages, want %d", s.Len(), want)
		}
	})
}

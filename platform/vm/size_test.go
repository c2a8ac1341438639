package vm

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]uint64{"0": 0, "4096": 4096, "4K": 4 << 10, "128M": 128 << 20, "128MiB": 128 << 20,
		"64G": 64 << 30, " 2 GiB ": 2 << 30, "1t": 1 << 40, "10b": 10}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{"": "empty", "G": "decimal number", "-1G": "decimal number", "1.5G": "unknown suffix",
		"4X": "unknown suffix", "99999999999999999999": "out of range", "18000000000G": "larger than"}
	for in, want := range bad {
		if _, err := ParseSize(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSize(%q) = %v; want an error containing %q", in, err, want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64G", "4MiB", "0", "1.5G", "18446744073709551615", "16E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		// A parsed size prints back to the same value in bytes.
		if m, err := ParseSize(strconvU(n)); err != nil || m != n {
			t.Fatalf("ParseSize(%q) = %d, but %d does not round-trip: %d, %v", s, n, n, m, err)
		}
	})
}

func strconvU(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

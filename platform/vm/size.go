package vm

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads a size as QEMU's monitor and command line take it: an
// integer with an optional binary suffix (K, M, G, T, also written KiB,
// MiB, GiB, TiB, or B for bytes; case-insensitive). "64G" is 64 GiB. It
// refuses fractions, signs, overflow and unknown suffixes, naming the
// problem.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("size %q: empty", s)
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: must start with a decimal number", s)
	}
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: number out of range", s)
	}
	var shift uint
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b":
	case "k", "kib", "kb":
		shift = 10
	case "m", "mib", "mb":
		shift = 20
	case "g", "gib", "gb":
		shift = 30
	case "t", "tib", "tb":
		shift = 40
	default:
		return 0, fmt.Errorf("size %q: unknown suffix %q (use K, M, G or T)", s, t[i:])
	}
	if n > (^uint64(0))>>shift {
		return 0, fmt.Errorf("size %q: larger than 2^64 bytes", s)
	}
	return n << shift, nil
}

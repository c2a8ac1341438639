package ringbuf

import (
	"slices"
	"testing"
)

// The ring against the slice it replaces (append, then drop the front
// once over size), for every push count around and past several wraps,
// and every sub-slice.
func TestRingMatchesShiftingSlice(t *testing.T) {
	for _, size := range []int{1, 2, 3, 5} {
		r := New[int](size)
		var want []int
		for v := range 4*size + 2 {
			r.Push(v)
			want = append(want, v)
			if len(want) > size {
				want = want[1:]
			}
			if r.Len() != len(want) {
				t.Fatalf("size %d after %d pushes: Len %d, want %d", size, v+1, r.Len(), len(want))
			}
			for i := range want {
				if r.At(i) != want[i] {
					t.Fatalf("size %d after %d pushes: At(%d) = %d, want %d", size, v+1, i, r.At(i), want[i])
				}
				for j := i; j <= len(want); j++ {
					got := r.Slice(i, j)
					if !slices.Equal(got, want[i:j]) || (i == j) != (got == nil) {
						t.Fatalf("size %d after %d pushes: Slice(%d, %d) = %v, want %v", size, v+1, i, j, got, want[i:j])
					}
				}
			}
		}
	}
}

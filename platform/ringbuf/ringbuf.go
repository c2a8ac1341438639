// Package ringbuf is a bounded FIFO that keeps the newest values: adding
// to a full one overwrites the oldest in place, without moving the rest.
package ringbuf

// Ring keeps the last size values pushed, oldest first.
type Ring[T any] struct {
	buf  []T // grows to size, then is overwritten from head
	head int // index in buf of the oldest value once full; 0 before
	size int
}

// New returns an empty Ring that keeps at most size (>= 1) values.
func New[T any](size int) *Ring[T] {
	return &Ring[T]{size: max(size, 1)}
}

// Push adds v, dropping the oldest value if the ring is full.
func (r *Ring[T]) Push(v T) {
	if len(r.buf) < r.size {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.head] = v
	r.head++
	if r.head == r.size {
		r.head = 0
	}
}

// Len is the number of values kept.
func (r *Ring[T]) Len() int { return len(r.buf) }

// At returns the i-th oldest value kept (0: the oldest); i must be in
// [0, Len()).
func (r *Ring[T]) At(i int) T {
	if i < 0 || i >= len(r.buf) {
		panic("ringbuf: index out of range")
	}
	i += r.head
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	return r.buf[i]
}

// Slice returns a copy of the values from the i-th to before the j-th
// oldest, nil if there are none; 0 <= i <= j <= Len().
func (r *Ring[T]) Slice(i, j int) []T {
	if i < 0 || j > len(r.buf) || i > j {
		panic("ringbuf: slice out of range")
	}
	if i == j {
		return nil
	}
	out := make([]T, 0, j-i)
	a, b := r.head+i, r.head+j
	n := len(r.buf)
	if b <= n {
		return append(out, r.buf[a:b]...)
	}
	if a >= n {
		return append(out, r.buf[a-n:b-n]...)
	}
	out = append(out, r.buf[a:]...)
	return append(out, r.buf[:b-n]...)
}

package relay

// deque is a FIFO ring that grows by doubling. The slow path uses it for
// timers and bubble-budget records, which are appended in time order, so the
// front is always the earliest. Not safe for concurrent use.
type deque[T any] struct {
	buf  []T
	head int
	n    int
}

func newDeque[T any](capacity int) deque[T] {
	return deque[T]{buf: make([]T, max(capacity, 16))}
}

func (d *deque[T]) push(v T) {
	if d.n == len(d.buf) {
		nb := make([]T, 2*len(d.buf))
		for i := range d.n {
			nb[i] = d.buf[(d.head+i)%len(d.buf)]
		}
		d.buf, d.head = nb, 0
	}
	d.buf[(d.head+d.n)%len(d.buf)] = v
	d.n++
}

// front returns a pointer to the first element, or nil when empty.
func (d *deque[T]) front() *T {
	if d.n == 0 {
		return nil
	}
	return &d.buf[d.head]
}

func (d *deque[T]) pop() {
	if d.n == 0 {
		return
	}
	var zero T
	d.buf[d.head] = zero
	d.head = (d.head + 1) % len(d.buf)
	d.n--
}

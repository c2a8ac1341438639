package fleet

import (
	"net"
	"sync"
)

// connQueue is the listener of the members' shared http.Server: the
// connections accepted on every member's sockets, each with its member.
type connQueue struct {
	ch     chan net.Conn
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	owners map[net.Conn]*member
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn, 256), done: make(chan struct{}), owners: map[net.Conn]*member{}}
}

// push queues c for the server; false once the queue is closed.
func (q *connQueue) push(c net.Conn, m *member) bool {
	q.mu.Lock()
	q.owners[c] = m
	q.mu.Unlock()
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		q.forget(c)
		return false
	}
}

// owner is the member c was accepted for.
func (q *connQueue) owner(c net.Conn) *member {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.owners[c]
}

// forget drops a closed connection and returns its member.
func (q *connQueue) forget(c net.Conn) *member {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.owners[c]
	delete(q.owners, c)
	return m
}

// Accept implements net.Listener.
func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; the members' sockets are closed by their
// members.
func (q *connQueue) Close() error {
	q.close()
	return nil
}

func (q *connQueue) close() { q.once.Do(func() { close(q.done) }) }

// Addr implements net.Listener: the queue has no address of its own.
func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

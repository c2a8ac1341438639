package fleet

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// poller watches every member's sockets with one goroutine: epoll(7) with
// EPOLLONESHOT, so a readable socket is reported once, handled on a
// goroutine that lives until the socket has nothing more to read, then
// re-armed. A member with no traffic costs a registration in the kernel's
// interest list and no goroutine; Go's own netpoller would park one
// goroutine per blocked Accept or ReadFrom instead.
type poller struct {
	epfd   int
	wakeR  int // a pipe whose write end stops the loop
	wakeW  int
	mu     sync.Mutex
	byTok  map[uint64]*watch
	next   uint64
	done   chan struct{}
	closed bool
}

// watch is one socket in the interest list.
type watch struct {
	p   *poller
	tok uint64
	rc  syscall.RawConn
	fn  func() // reads until the socket would block
	mu  sync.Mutex
	off bool // removed: never re-arm
}

const wakeToken = 0

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setToken(&ev, wakeToken)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	p := &poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], byTok: map[uint64]*watch{}, next: wakeToken + 1, done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// The event's 64-bit user data is split by Go into Fd and Pad.
func setToken(ev *syscall.EpollEvent, tok uint64) {
	ev.Fd, ev.Pad = int32(uint32(tok)), int32(uint32(tok>>32))
}

func token(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// add watches rc; fn runs (never twice at once) each time it is readable.
func (p *poller) add(rc syscall.RawConn, fn func()) (*watch, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("poller closed")
	}
	w := &watch{p: p, tok: p.next, rc: rc, fn: fn}
	p.next++
	p.byTok[w.tok] = w
	p.mu.Unlock()
	if err := w.ctl(syscall.EPOLL_CTL_ADD); err != nil {
		p.mu.Lock()
		delete(p.byTok, w.tok)
		p.mu.Unlock()
		return nil, err
	}
	return w, nil
}

func (w *watch) ctl(op int) error {
	var err error
	cerr := w.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLONESHOT}
		setToken(&ev, w.tok)
		err = syscall.EpollCtl(w.p.epfd, op, int(fd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// remove takes the socket out of the interest list before its owner closes
// it; a handler running now finishes, and is not re-armed.
func (w *watch) remove() {
	w.mu.Lock()
	w.off = true
	w.mu.Unlock()
	_ = w.ctl(syscall.EPOLL_CTL_DEL)
	w.p.mu.Lock()
	delete(w.p.byTok, w.tok)
	w.p.mu.Unlock()
}

func (w *watch) run() {
	w.fn()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.off {
		_ = w.ctl(syscall.EPOLL_CTL_MOD)
	}
}

func (p *poller) loop() {
	defer close(p.done)
	evs := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, evs, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for i := range evs[:n] {
			tok := token(&evs[i])
			if tok == wakeToken {
				return
			}
			p.mu.Lock()
			w := p.byTok[tok]
			p.mu.Unlock()
			if w != nil {
				go w.run()
			}
		}
	}
}

// close stops the loop; watches still registered are dropped.
func (p *poller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	_, _ = syscall.Write(p.wakeW, []byte{1})
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

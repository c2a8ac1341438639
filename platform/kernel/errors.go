package kernel

import (
	"errors"
	"strconv"
)

// Errno is a Linux error number. The Err* sentinels are Errno values, so
// errors.Is(err, ErrBusy) holds for every error the kernel returns with
// -EBUSY, and surfaces can map an errno to their own error form.
type Errno int

// The errnos this layer returns.
const (
	ENOENT    Errno = 2
	ENXIO     Errno = 6
	ENOMEM    Errno = 12
	EBUSY     Errno = 16
	EEXIST    Errno = 17
	EINVAL    Errno = 22
	EHWPOISON Errno = 133
)

// Sentinels for errors.Is.
var (
	ErrNotFound error = ENOENT // no such memory block, node or allocation
	ErrNoMemory error = ENOMEM // memmap (or an allocation) does not fit in free memory
	ErrBusy     error = EBUSY  // offline/remove refused: unmovable pages, online blocks, notifier veto
	ErrExist    error = EEXIST // hot-add overlaps an existing resource
	ErrInvalid  error = EINVAL // malformed or out-of-state request
)

var errnoNames = map[Errno][2]string{
	ENOENT:    {"ENOENT", "no such file or directory"},
	ENXIO:     {"ENXIO", "no such device or address"},
	EHWPOISON: {"EHWPOISON", "memory page has hardware error"},
	ENOMEM:    {"ENOMEM", "cannot allocate memory"},
	EBUSY:     {"EBUSY", "device or resource busy"},
	EEXIST:    {"EEXIST", "file exists"},
	EINVAL:    {"EINVAL", "invalid argument"},
}

// Name is the errno's symbolic name, e.g. "EBUSY".
func (e Errno) Name() string {
	if n, ok := errnoNames[e]; ok {
		return n[0]
	}
	return "E" + strconv.Itoa(int(e))
}

func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return n[1]
	}
	return "errno " + strconv.Itoa(int(e))
}

// Error is what every Kernel operation returns on failure: the operation in
// the kernel's own name (add_memory, online_pages, offline_pages,
// remove_memory, alloc_pages), the errno, and the message the kernel logged.
type Error struct {
	Op    string `json:"op"`
	Errno Errno  `json:"errno"`
	Msg   string `json:"msg"`
	// Err is an underlying cause, e.g. the error a memory notifier returned.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Msg + " (-" + e.Errno.Name() + ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the errno and the cause to errors.Is/As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Errno, e.Err}
	}
	return []error{e.Errno}
}

func kerr(op string, errno Errno, msg string) *Error {
	return &Error{Op: op, Errno: errno, Msg: msg}
}

// errnoOf picks the errno a notifier's error carries (notifier_to_errno),
// falling back to def.
func errnoOf(err error, def Errno) Errno {
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	return def
}

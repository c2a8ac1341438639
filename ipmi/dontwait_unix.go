//go:build unix

package ipmi

import "syscall"

// msgDontWait makes a batch read return at once when nothing waits.
const msgDontWait = syscall.MSG_DONTWAIT

//go:build !unix

package ipmi

// msgDontWait: without it Drain may block; only unix pollers call Drain.
const msgDontWait = 0

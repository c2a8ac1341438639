package ceiling

import "golang.org/x/sys/unix"

// threadCPU is the calling OS thread's CPU time (CLOCK_THREAD_CPUTIME_ID):
// unlike wall time it does not count the time the scheduler gave other
// processes of a shared machine.
func threadCPU() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}

//go:build !linux

package ceiling

func threadCPU() (int64, bool) { return 0, false }

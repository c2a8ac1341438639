//go:build !unix

package fleet

// CheckCapacity checks the addresses; descriptor limits are unix-only.
func CheckCapacity(ms []Member) error { return checkAddresses(ms) }

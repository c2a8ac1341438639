// Package conformance runs real, independently written clients (ipmitool,
// freeipmi, redfishtool) against a live bmcemu binary. Nothing here talks to
// the emulator through its own Go packages: the point is that tools nobody on
// this project wrote accept what it serves.
package conformance

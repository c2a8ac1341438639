package platform

import "github.com/bmcemu/bmcemu/platform/firmware"

// The sockets' home agents (seed item 15): snoop filter directories that
// follow the address map, and a core's read of one line as the home agent
// answers it (firmware/homeagent.go). This is hardware: it answers whether
// or not the OS runs.

// HomeAgents reports each socket's home agent.
func (p *Platform) HomeAgents() []firmware.HomeAgent { return p.l().fw.HomeAgents().Agents() }

// HomeAgentTrace returns the home agents' trace events after since.
func (p *Platform) HomeAgentTrace(since uint64) []firmware.HomeAgentTrace {
	return p.l().fw.HomeAgents().Trace(since)
}

// AccessLine is a core's read of the line holding addr.
func (p *Platform) AccessLine(addr uint64) (firmware.LineAccess, error) {
	return p.l().fw.HomeAgents().Access(addr)
}

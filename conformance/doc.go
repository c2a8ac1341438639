// Package conformance runs real, independently written clients (ipmitool,
// freeipmi, redfishtool) against a live bmcemu binary. Nothing here talks to
// the emulator through its own Go packages: the point is that tools nobody on
// this project wrote accept what it serves.
//
// TestSchemaCrawlLive also validates every payload against the DMTF JSON
// schemas (DSP8010), which are not in the repository: it reads them from
// $REDFISH_SCHEMA_DIR, or ../shared/redfish-schema/json-schema beside the
// module, and is skipped without them unless CI=true.
package conformance

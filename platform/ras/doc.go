// Package ras holds the memory RAS (reliability, availability,
// serviceability) models of the simulated server: the page contents store
// a workload writes and a verifier reads back (package pages), the ECC
// error model with firmware's leaky-bucket CE threshold (package ecc), and
// the redundancy engines over the page store: full mirroring (package
// mirror), RAID5 memory across five cartridges (package raid5) and rank
// sparing (package sparing).
//
// Everything here is pure and deterministic: no goroutines, no wall clock
// (callers pass the simulated time), and randomness only from seeded
// math/rand/v2 sources. Results are plain structs for the platform to map
// onto its events, SEL records and Redfish resources.
package ras

package platform

import (
	"slices"

	"github.com/bmcemu/bmcemu/platform/smc"
)

// The environment model: processor temperatures and power, fan speeds and
// the chassis' power draw, from the host's power state and load. Like the
// DIMM model (thermal.go) it is a pure function of the snapshot, so every
// surface that reads it agrees, and the same state always reads the same.
//
// Load is the share of the OS's memory in use, the one measure of work
// the simulated host has; it drives the processors' power (idle at
// CPUIdlePercent of TDP, up to CPUIdlePercent+CPULoadPercent), which
// drives their temperature, which drives the fans.

// Processor temperature limits (°C): the caution and critical levels a
// BMC arms below the junction limit (Tjmax), where the processor
// throttles and then trips.
const (
	CPUWarningC  = 90
	CPUCriticalC = 95
	CPUFatalC    = 100
)

const (
	// CPUIdlePercent and CPULoadPercent shape a running processor's
	// power: an idle package still draws about a third of its TDP.
	CPUIdlePercent = 30
	CPULoadPercent = 60
	// cpuRiseAtTDPC is how far above inlet air a package runs at TDP
	// behind its heat sink; cpuBaseRiseC what a powered, idle board adds
	// anyway; cpuSocketSpreadC how much warmer each socket further down
	// the air path runs.
	cpuRiseAtTDPC    = 50
	cpuBaseRiseC     = 8
	cpuSocketSpreadC = 2

	// The fan curve: minimum duty up to fanCurveLowC (hottest processor),
	// full speed from fanCurveHighC, linear between.
	fanMinDutyPercent = 30
	fanCurveLowC      = 50
	fanCurveHighC     = 85
	// fanMaxWatts is one fan at full speed; a fan's power goes with the
	// cube of its speed (the fan affinity laws).
	fanMaxWatts = 25

	// Board draw: chipset, VRM losses and the BMC while the host runs;
	// the standby rails (BMC, NC-SI) while it is off.
	boardOnWatts      = 55
	boardStandbyWatts = 12
	// Per-module DIMM power, idle and the extra at full load.
	dimmIdleWatts = 3
	dimmLoadWatts = 3
)

// driveWatts is a spinning or idle drive's draw by kind.
func driveWatts(d Drive) int {
	switch {
	case d.Protocol == "NVMe":
		return 8
	case d.Media == "HDD":
		return 8
	case d.Protocol == "SAS":
		return 4
	}
	return 2
}

// portWatts is a linked port's draw: a 10G-and-faster PHY and its optics
// draw far more than a 1GBASE-T one.
func portWatts(p NICPort) int {
	if p.SpeedMbps >= 10000 {
		return 6
	}
	return 1
}

// hostLoad is the share of the OS's memory in use, in percent.
func hostLoad(k KernelSummary) int {
	if k.TotalRAMBytes == 0 || k.FreeBytes > k.TotalRAMBytes {
		return 0
	}
	return int((k.TotalRAMBytes - k.FreeBytes) * 100 / k.TotalRAMBytes)
}

// readings returns the installed hardware with what each part reads now.
// The installed slices are copied before their readings are set: the
// result is a snapshot's own.
func (in *installed) readings(powerOn bool, k KernelSummary, slots []Slot) Hardware {
	h := in.hw
	h.Processors = slices.Clone(in.hw.Processors)
	h.Fans = slices.Clone(in.hw.Fans)
	h.PowerSupplies = slices.Clone(in.hw.PowerSupplies)
	h.InletC = AmbientC
	load := hostLoad(k)

	watts := boardStandbyWatts
	hottest := AmbientC
	for i := range h.Processors {
		c := &h.Processors[i]
		if !powerOn {
			c.TemperatureC, c.PowerWatts = AmbientC+c.Socket%2, 0
			continue
		}
		c.PowerWatts = c.TDPWatts * (CPUIdlePercent + CPULoadPercent*load/100) / 100
		c.TemperatureC = AmbientC + cpuBaseRiseC + cpuRiseAtTDPC*c.PowerWatts/c.TDPWatts + cpuSocketSpreadC*c.Socket
		hottest = max(hottest, c.TemperatureC)
		watts += c.PowerWatts
	}
	if powerOn {
		watts += boardOnWatts - boardStandbyWatts
		for _, s := range slots {
			if s.Module != nil && s.Power == smc.PowerNominal.String() {
				watts += dimmIdleWatts + dimmLoadWatts*load/100
			}
		}
		for _, c := range h.Storage {
			for _, d := range c.Drives {
				watts += driveWatts(d)
			}
		}
		for _, n := range h.NICs {
			for _, p := range n.Ports {
				if p.LinkUp {
					watts += portWatts(p)
				}
			}
		}
	}
	duty := 0
	if powerOn {
		duty = fanMinDutyPercent
		if hottest >= fanCurveHighC {
			duty = 100
		} else if hottest > fanCurveLowC {
			duty += (100 - fanMinDutyPercent) * (hottest - fanCurveLowC) / (fanCurveHighC - fanCurveLowC)
		}
	}
	for i := range h.Fans {
		f := &h.Fans[i]
		f.DutyPercent = duty
		if duty == 0 {
			f.RPM = 0
			continue
		}
		// Fans of one model differ by a percent or two at one duty; a
		// fixed per-position spread keeps them from all reading alike.
		rpm := f.MaxRPM * duty / 100 * (100 - f.Index%3) / 100
		f.RPM = roundRPM(max(rpm, f.MinRPM))
		watts += fanMaxWatts * duty * duty * duty / 1_000_000
	}
	h.Power.OutputWatts = watts
	if n := len(h.PowerSupplies); n > 0 {
		share := watts / n
		for i := range h.PowerSupplies {
			ps := &h.PowerSupplies[i]
			ps.OutputWatts = share
			if i == 0 {
				ps.OutputWatts += watts - share*n
			}
			// Rounded up: conversion losses never round away.
			ps.InputWatts = (ps.OutputWatts*100 + ps.EfficiencyPercent - 1) / ps.EfficiencyPercent
			h.Power.ConsumedWatts += ps.InputWatts
		}
	}
	return h
}

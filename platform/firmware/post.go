package firmware

import (
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// TrainAtPOST is memory training as the memory reference code runs it at
// POST for a module seated when the host powers on: the same per-lane
// DQ/DQS delay training and Vref sweep a hot-add's _L01 handler runs, on
// the fault panel's random stream for the slot so the figures differ by
// module and boot yet repeat under one seed. Armed faults strike hot-adds
// (see smc.FaultTraining), not POST, so a boot module always trains.
func TrainAtPOST(mod spd.Module, slot smc.Slot, speed int, faults *smc.Faults) TrainingResult {
	return train(mod, slot.Position, speed, faults.Rand(slot.Name, "post-training"), false, false)
}

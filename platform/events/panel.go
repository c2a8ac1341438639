package events

// FaultArmed: the operator armed a fault kind on a slot through the
// emulator's fault-injection panel (it strikes at the kind's stage).
type FaultArmed struct {
	Slot  string `json:"slot"`
	Fault string `json:"fault"`
}

// FaultCleared: a fault kind (or, with Fault "all", every kind) was
// disarmed on a slot.
type FaultCleared struct {
	Slot  string `json:"slot"`
	Fault string `json:"fault"`
}

func (FaultArmed) Kind() string   { return "FaultArmed" }
func (FaultCleared) Kind() string { return "FaultCleared" }

package events

// CXLDeviceChanged: something happened to a CXL slot or the expander in
// it. Op is one of:
//
//	inserted     a card was seated (presence detect)
//	enabled      the button powered it on and the drivers brought it up;
//	             Region/Node/Bytes say what memory came online
//	refused      powered and enumerated, but unusable: Reason says why
//	             (no bridge window for its BAR, no CFMWS, a full window)
//	removal-refused  the button asked for removal and the memory could
//	             not be offlined: nothing changed
//	disabled     orderly removal: memory offlined and removed, slot off
//	pulled       a card left an unpowered slot
//	surprise     a card left a powered slot: Poisoned pages lost, Leaked
//	             bytes the kernel could not take back
type CXLDeviceChanged struct {
	Slot     string `json:"slot"`
	Op       string `json:"op"`
	Memdev   string `json:"memdev,omitempty"`
	Region   string `json:"region,omitempty"`
	Node     int    `json:"node"`
	Bytes    uint64 `json:"bytes,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Poisoned int    `json:"poisoned_pages,omitempty"`
	Leaked   uint64 `json:"leaked_bytes,omitempty"`
}

// IOMMUFault: the DMA remapping unit blocked a device's access and
// recorded a fault (a DMAR fault on VT-d).
type IOMMUFault struct {
	Slot   string `json:"slot"`
	BDF    string `json:"bdf"`
	Addr   uint64 `json:"addr"`
	Write  bool   `json:"write"`
	Reason string `json:"reason"`
}

func (CXLDeviceChanged) Kind() string { return "CXLDeviceChanged" }
func (IOMMUFault) Kind() string       { return "IOMMUFault" }

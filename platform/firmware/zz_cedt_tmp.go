package firmware

// TEMPORARY scaffolding until the cxlwire branch lands; never merged.

type CHBS struct {
	UID        uint32 `json:"uid"`
	CXLVersion uint32 `json:"cxl_version"`
	Base       uint64 `json:"base"`
	Length     uint64 `json:"length"`
}

const (
	CHBSVersionRCH  uint32 = 0
	CHBSVersionCXL2 uint32 = 1
)

type CFMWS struct {
	BaseHPA              uint64   `json:"base_hpa"`
	WindowSize           uint64   `json:"window_size"`
	InterleaveWays       int      `json:"interleave_ways"`
	InterleaveArithmetic uint8    `json:"interleave_arithmetic"`
	GranularityBytes     uint32   `json:"granularity_bytes"`
	Restrictions         uint16   `json:"restrictions"`
	QTGID                uint16   `json:"qtg_id"`
	Targets              []uint32 `json:"targets"`
}

const (
	CFMWSDeviceCoherent   uint16 = 1 << 0
	CFMWSHostOnlyCoherent uint16 = 1 << 1
	CFMWSVolatile         uint16 = 1 << 2
	CFMWSPersistent       uint16 = 1 << 3
	CFMWSFixedConfig      uint16 = 1 << 4
)

type CEDT struct {
	Header      Header  `json:"header"`
	HostBridges []CHBS  `json:"host_bridges"`
	Windows     []CFMWS `json:"windows"`
	Unknown     int     `json:"unknown,omitempty"`
}

func (t *CEDT) Encode() ([]byte, error)        { return nil, nil }
func DisassembleCEDT(b []byte) (string, error) { return "", nil }

type GenericPortAffinity struct {
	ProximityDomain uint32 `json:"proximity_domain"`
	HID             string `json:"hid"`
	UID             uint32 `json:"uid"`
	Flags           uint32 `json:"flags"`
}

package cxl

// TEMPORARY scaffolding until the cxlwire branch lands; never merged.

type DSMAS struct {
	Handle             uint8
	Flags              uint8
	DPABase, DPALength uint64
}
type DSLBIS struct {
	Handle   uint8
	Flags    uint8
	DataType uint8
	BaseUnit uint64
	Entries  [3]uint16
}
type DSEMTS struct {
	Handle               uint8
	MemoryType           uint8
	DPAOffset, DPALength uint64
}
type CDAT struct {
	Revision uint8    `json:"revision"`
	Sequence uint32   `json:"sequence"`
	DSMAS    []DSMAS  `json:"dsmas"`
	DSLBIS   []DSLBIS `json:"dslbis"`
	DSEMTS   []DSEMTS `json:"dsemts"`
	Unknown  int      `json:"unknown,omitempty"`
}

func (c *CDAT) Encode() []byte                                        { return nil }
func DisassembleCDAT(b []byte) (string, error)                        { return "", nil }
func (c *CDAT) Latency(handle uint8, dataType uint8) (uint64, bool)   { return 0, false }
func (c *CDAT) Bandwidth(handle uint8, dataType uint8) (uint64, bool) { return 0, false }

type TableAccess struct{ image []byte }

func NewTableAccess(image []byte) (*TableAccess, error)        { return &TableAccess{image}, nil }
func (t *TableAccess) Exchange(req []uint32) ([]uint32, error) { return nil, nil }
func ReadCDAT(m interface {
	Exchange([]uint32) ([]uint32, error)
}) (*CDAT, []byte, int, error) {
	return nil, nil, 0, nil
}

// Package sel is the System Event Log of IPMI v2.0 chapter 31: a bounded,
// non-volatile list of 16-byte records with 16-bit record IDs, a reservation
// that guards destructive and partial operations, and its own clock.
//
// It knows nothing of go-ipmi or of the wire: the IPMI command handlers, the
// platform event pump and (later) the Redfish LogService all use the same
// *SEL through its methods, or the read-only Log interface.
package sel

import (
	"encoding/binary"
	"time"
)

// RecordSize is the size of every SEL record.
const RecordSize = 16

// Record types (v2.0 §32).
const (
	TypeSystemEvent = 0x02
	// Types C0h-DFh are OEM records with a timestamp, E0h-FFh OEM records
	// without one.
	typeOEMNonTimestamped = 0xE0
)

// GeneratorBMC is the generator ID of events the BMC itself detects: IPMB
// slave address 20h, LUN 0, channel 0.
const GeneratorBMC uint16 = 0x0020

// Record is one raw SEL record as it appears on the wire.
type Record [RecordSize]byte

// ID is the record ID (bytes 1-2).
func (r Record) ID() uint16 { return binary.LittleEndian.Uint16(r[0:2]) }

// Type is the record type (byte 3).
func (r Record) Type() uint8 { return r[2] }

// Timestamped reports whether the record type carries a timestamp, which the
// SEL fills in when the record is added.
func (r Record) Timestamped() bool { return r[2] < typeOEMNonTimestamped }

// Timestamp is the raw SEL time of a timestamped record (seconds since
// 1970-01-01 in the SEL's clock).
func (r Record) Timestamp() uint32 { return binary.LittleEndian.Uint32(r[3:7]) }

// Time is Timestamp as a time.Time.
func (r Record) Time() time.Time { return time.Unix(int64(r.Timestamp()), 0).UTC() }

func (r *Record) setID(id uint16)       { binary.LittleEndian.PutUint16(r[0:2], id) }
func (r *Record) setTimestamp(t uint32) { binary.LittleEndian.PutUint32(r[3:7], t) }

// Event is the content of a system event record (type 02h, v2.0 Table 32-1)
// or of a Platform Event Message.
type Event struct {
	GeneratorID  uint16 // byte 1: slave address or software ID; byte 2: channel, LUN
	EvMRev       uint8  // 04h for IPMI v1.5 / v2.0
	SensorType   uint8
	SensorNumber uint8
	Deassertion  bool  // bit 7 of the event dir/type byte
	EventType    uint8 // event/reading type code, 7 bits (6Fh sensor-specific)
	Data         [3]byte
}

// EvMRev is the event message format revision of IPMI v1.5 and v2.0.
const EvMRev = 0x04

// DirType is the event dir | event type byte.
func (e Event) DirType() uint8 {
	b := e.EventType & 0x7f
	if e.Deassertion {
		b |= 0x80
	}
	return b
}

// Offset is the event offset in event data 1 [3:0].
func (e Event) Offset() uint8 { return e.Data[0] & 0x0f }

// Record builds a system event record with ID and timestamp left zero (Add
// fills them in).
func (e Event) Record() Record {
	var r Record
	r[2] = TypeSystemEvent
	binary.LittleEndian.PutUint16(r[7:9], e.GeneratorID)
	r[9] = e.EvMRev
	r[10] = e.SensorType
	r[11] = e.SensorNumber
	r[12] = e.DirType()
	copy(r[13:16], e.Data[:])
	return r
}

// Event decodes a system event record; ok is false for other record types.
func (r Record) Event() (e Event, ok bool) {
	if r.Type() != TypeSystemEvent {
		return Event{}, false
	}
	e = Event{
		GeneratorID:  binary.LittleEndian.Uint16(r[7:9]),
		EvMRev:       r[9],
		SensorType:   r[10],
		SensorNumber: r[11],
		Deassertion:  r[12]&0x80 != 0,
		EventType:    r[12] & 0x7f,
	}
	copy(e.Data[:], r[13:16])
	return e, true
}

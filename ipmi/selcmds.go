package ipmi

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/sel"
)

// SEL commands (IPMI v2.0 §31) over the sel package, and the event receiver
// (Platform Event Message, §29.3).

// selCode maps a sel error to its completion code.
func selCode(err error) types.CompletionCode {
	switch {
	case err == nil:
		return types.CodeOK
	case errors.Is(err, sel.ErrNotFound):
		return types.CodeRequestedDataNotPresent
	case errors.Is(err, sel.ErrFull):
		return types.CodeOutOfSpace
	case errors.Is(err, sel.ErrReservation):
		return types.CodeReservationCanceled
	case errors.Is(err, sel.ErrOutOfRange):
		return types.CodeParameterOutOfRange
	case errors.Is(err, sel.ErrLength):
		return 0x80 // Partial Add: record length mismatch (Table 31-7)
	}
	return types.CodeUnspecifiedError
}

// Get SEL Info operation-support bits (Table 31-2, byte 14).
const (
	selSupportsAllocInfo  = 0x01
	selSupportsReserve    = 0x02
	selSupportsPartialAdd = 0x04
	selSupportsDelete     = 0x08
	selOverflow           = 0x80
)

func handleGetSELInfo(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		info := m.sel.Info()
		resp := []byte{sel.Version}
		resp = binary.LittleEndian.AppendUint16(resp, uint16(info.Entries))
		resp = binary.LittleEndian.AppendUint16(resp, uint16(min(info.FreeBytes, 0xFFFF)))
		resp = binary.LittleEndian.AppendUint32(resp, info.LastAdd)
		resp = binary.LittleEndian.AppendUint32(resp, info.LastErase)
		ops := byte(selSupportsAllocInfo | selSupportsReserve | selSupportsPartialAdd | selSupportsDelete)
		if info.Overflow {
			ops |= selOverflow
		}
		return append(resp, ops), types.CodeOK, nil
	}
}

// handleGetSELAllocInfo (Table 31-3): one allocation unit per record.
func handleGetSELAllocInfo(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		info := m.sel.Info()
		free := uint16(info.Capacity - info.Entries)
		resp := binary.LittleEndian.AppendUint16(nil, uint16(info.Capacity))
		resp = binary.LittleEndian.AppendUint16(resp, sel.RecordSize)
		resp = binary.LittleEndian.AppendUint16(resp, free)
		resp = binary.LittleEndian.AppendUint16(resp, free) // largest free block: the SEL never fragments
		return append(resp, 1), types.CodeOK, nil
	}
}

func handleReserveSEL(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		return binary.LittleEndian.AppendUint16(nil, m.sel.Reserve()), types.CodeOK, nil
	}
}

// handleGetSELEntry (Table 31-5): reservation(2), record ID(2), offset,
// bytes to read (FFh: to the end). Only reads at a non-zero offset need the
// reservation.
func handleGetSELEntry(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 6 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		res, id, off, n := binary.LittleEndian.Uint16(req[0:2]), binary.LittleEndian.Uint16(req[2:4]), int(req[4]), int(req[5])
		if off >= sel.RecordSize {
			return nil, types.CodeParameterOutOfRange, nil
		}
		if off > 0 && !m.sel.ReservationValid(res) {
			return nil, types.CodeReservationCanceled, nil
		}
		r, next, err := m.sel.Get(id)
		if err != nil {
			return nil, selCode(err), nil
		}
		end := sel.RecordSize
		if n != 0xFF {
			end = min(off+n, sel.RecordSize)
		}
		resp := binary.LittleEndian.AppendUint16(make([]byte, 0, 2+sel.RecordSize), next)
		return append(resp, r[off:end]...), types.CodeOK, nil
	}
}

// handleAddSELEntry (Table 31-6): the SEL assigns the record ID and, for
// timestamped record types, the timestamp.
func handleAddSELEntry(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != sel.RecordSize {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		r, err := m.sel.Add(sel.Record(req))
		if err != nil {
			m.log.Warn("Add SEL Entry failed", "err", err)
			return nil, selCode(err), nil
		}
		return binary.LittleEndian.AppendUint16(nil, r.ID()), types.CodeOK, nil
	}
}

// handlePartialAddSELEntry (Table 31-7): reservation(2), record ID(2),
// offset, progress (01h: last fragment), data.
func handlePartialAddSELEntry(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) < 6 || len(req) > 6+sel.RecordSize {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[5]&^0x01 != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		id, err := m.sel.PartialAdd(binary.LittleEndian.Uint16(req[0:2]), binary.LittleEndian.Uint16(req[2:4]),
			int(req[4]), req[5] == 1, req[6:])
		if err != nil {
			return nil, selCode(err), nil
		}
		return binary.LittleEndian.AppendUint16(nil, id), types.CodeOK, nil
	}
}

// handleDeleteSELEntry (Table 31-8): reservation(2), record ID(2).
func handleDeleteSELEntry(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 4 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		id, err := m.sel.DeleteReserved(binary.LittleEndian.Uint16(req[0:2]), binary.LittleEndian.Uint16(req[2:4]))
		if err != nil {
			return nil, selCode(err), nil
		}
		return binary.LittleEndian.AppendUint16(nil, id), types.CodeOK, nil
	}
}

// Clear SEL actions and erasure progress (Table 31-9).
const (
	clearInitiate  = 0xAA
	clearGetStatus = 0x00
	eraseCompleted = 0x01
)

// handleClearSEL: reservation(2), 'C', 'L', 'R', action. The erase is
// synchronous, so the answer is always "completed". A status query needs no
// live reservation: the erase it asks about has just cancelled it.
func handleClearSEL(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 6 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[2] != 'C' || req[3] != 'L' || req[4] != 'R' {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		switch req[5] {
		case clearGetStatus:
			return []byte{eraseCompleted}, types.CodeOK, nil
		case clearInitiate:
			if err := m.sel.ClearReserved(binary.LittleEndian.Uint16(req[0:2])); err != nil {
				return nil, selCode(err), nil
			}
			m.log.Info("SEL cleared")
			return []byte{eraseCompleted}, types.CodeOK, nil
		}
		return nil, types.CodeRequestDataFieldInvalid, nil
	}
}

func handleGetSELTime(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		return binary.LittleEndian.AppendUint32(nil, uint32(m.sel.Time().Unix())), types.CodeOK, nil
	}
}

func handleSetSELTime(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 4 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		t := time.Unix(int64(binary.LittleEndian.Uint32(req)), 0)
		if err := m.sel.SetTime(t); err != nil {
			return nil, selCode(err), nil
		}
		m.log.Info("SEL time set", "time", t.UTC())
		return nil, types.CodeOK, nil
	}
}

func handleGetSELTimeUTCOffset(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		return binary.LittleEndian.AppendUint16(nil, uint16(m.sel.UTCOffset())), types.CodeOK, nil
	}
}

func handleSetSELTimeUTCOffset(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 2 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if err := m.sel.SetUTCOffset(int16(binary.LittleEndian.Uint16(req))); err != nil {
			return nil, selCode(err), nil
		}
		return nil, types.CodeOK, nil
	}
}

// remoteConsoleSWID is the requester address remote consoles use on LAN
// (software ID 40h, v2.0 §5.5): what a LAN event's generator ID names.
const remoteConsoleSWID = 0x81

// handlePlatformEvent is the event receiver (Table 29-5). Over LAN the
// request is EvMRev, sensor type, sensor number, dir|type, event data 1 and
// optionally 2 and 3; the generator is the requester, a remote console on
// the LAN channel. The system-interface form, 8 bytes with the generator ID
// first, is accepted too.
func handlePlatformEvent(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		e, cc := parsePlatformEvent(req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		if _, err := m.logEvent(e); err != nil {
			return nil, selCode(err), nil
		}
		return nil, types.CodeOK, nil
	}
}

func parsePlatformEvent(req []byte) (sel.Event, types.CompletionCode) {
	gen := uint16(remoteConsoleSWID) | lanChannel<<12
	switch {
	case len(req) == 8:
		gen = uint16(req[0]) | lanChannel<<12
		req = req[1:]
	case len(req) < 5 || len(req) > 8:
		return sel.Event{}, types.CodeRequestDataLengthInvalid
	}
	e := sel.Event{
		GeneratorID:  gen,
		EvMRev:       req[0],
		SensorType:   req[1],
		SensorNumber: req[2],
		Deassertion:  req[3]&0x80 != 0,
		EventType:    req[3] & 0x7f,
		Data:         [3]byte{0xFF, 0xFF, 0xFF},
	}
	copy(e.Data[:], req[4:])
	return e, types.CodeOK
}

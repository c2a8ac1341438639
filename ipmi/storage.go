package ipmi

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/bougou/go-ipmi/pkg/command/storage"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// repositoryCapacity is the nominal repository size go-ipmi's allocation
// info also assumes; free space is reported against it so both agree.
const repositoryCapacity = 64 * 1024

// maxSDRRead is the most record bytes one Get SDR returns. Every record this
// BMC builds fits, so clients asking for a whole record (FFh) get it at once.
const maxSDRRead = 64

// reservations implements SDR repository reservations (v2.0 §33.11). A
// reservation dies when another is taken or when the repository content
// changes, which is how a client learns that a partial read would mix two
// versions of a record list.
type reservations struct {
	mu          sync.Mutex
	id          uint16
	fingerprint uint64
}

func (r *reservations) reserve(fingerprint uint64) uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.id++
	if r.id == 0 {
		r.id = 1
	}
	r.fingerprint = fingerprint
	return r.id
}

func (r *reservations) valid(id uint16, fingerprint uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return id != 0 && id == r.id && fingerprint == r.fingerprint
}

func handleGetSDRRepoInfo(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		r := m.repository()
		free := max(repositoryCapacity-r.size(), 0)
		resp := &storage.GetSDRRepoInfoResponse{
			SDRVersion:             types.SDRCommandSetVersion,
			RecordCount:            uint16(len(r.records)),
			FreeSpaceBytes:         uint16(min(free, 0xFFFE)),
			MostRecentAdditionTime: r.changedAt(),
			MostRecentEraseTime:    r.changedAt(),
			SDROperationSupport: storage.SDROperationSupport{
				SupportReserveSDRRepo:      true,
				SupportGetSDRRepoAllocInfo: true,
			},
		}
		return resp.Pack(), types.CodeOK, nil
	}
}

func handleReserveSDR(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		id := m.res.reserve(m.repository().fingerprint)
		return binary.LittleEndian.AppendUint16(nil, id), types.CodeOK, nil
	}
}

// getSDRRequest is the Get SDR / Get Device SDR request (v2.0 §33.12, §35.3).
type getSDRRequest struct {
	reservation uint16
	recordID    uint16
	offset      uint8
	count       uint8 // FFh: the rest of the record
}

func parseGetSDR(req []byte) (getSDRRequest, types.CompletionCode) {
	if len(req) != 6 {
		return getSDRRequest{}, types.CodeRequestDataLengthInvalid
	}
	return getSDRRequest{
		reservation: binary.LittleEndian.Uint16(req[0:2]),
		recordID:    binary.LittleEndian.Uint16(req[2:4]),
		offset:      req[4],
		count:       req[5],
	}, types.CodeOK
}

func handleGetSDR(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		q, cc := parseGetSDR(req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		r := m.repository()
		// Only partial reads past the header need a reservation (§33.12).
		if q.offset > 0 && !m.res.valid(q.reservation, r.fingerprint) {
			return nil, types.CodeReservationCanceled, nil
		}
		i, ok := r.index(q.recordID)
		if !ok {
			return nil, types.CodeRequestedDataNotPresent, nil
		}
		rec := r.records[i].data
		if int(q.offset) >= len(rec) {
			return nil, types.CodeParameterOutOfRange, nil
		}
		n := len(rec) - int(q.offset)
		if q.count != 0xFF {
			n = min(n, int(q.count))
		}
		if n > maxSDRRead {
			return nil, types.CodeCannotReturnRequestedDataBytes, nil
		}
		resp := binary.LittleEndian.AppendUint16(make([]byte, 0, 2+n), r.next(i))
		resp = append(resp, rec[q.offset:int(q.offset)+n]...)
		return resp, types.CodeOK, nil
	}
}

// handleGetDeviceSDRInfo answers Get Device SDR Info (v2.0 §35.2). The
// device SDRs are the repository itself: this BMC is the only controller.
// The population is dynamic (FRU locators follow the DIMMs), so the change
// indicator is the repository timestamp.
func handleGetDeviceSDRInfo(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) > 1 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		r := m.repository()
		count := 0
		if len(req) == 1 && req[0]&0x01 != 0 {
			count = len(r.records)
		} else {
			for _, s := range r.snap.Slots {
				if described(s) {
					count += 2 // its Memory and its Slot/Connector sensor
				}
			}
			count += len(boardSensorRecords(r.snap)) + len(cxlSensorRecords(r.snap))
		}
		resp := []byte{byte(min(count, 0xFF)), 0x80 | 0x01} // dynamic population; LUN 0 has sensors
		resp = binary.LittleEndian.AppendUint32(resp, uint32(r.changedAt().Unix()))
		return resp, types.CodeOK, nil
	}
}

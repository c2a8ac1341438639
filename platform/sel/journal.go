package sel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"

	"github.com/bmcemu/bmcemu/platform/store"
)

// The SEL is durable as an append-only journal of fixed-size frames:
//
//	[0]     magic B5h
//	[1]     op
//	[2:4]   zero
//	[4:8]   SEL time of the change (LE)
//	[8:24]  payload (a whole record for an add)
//	[24:28] CRC-32C of bytes 0..23
//
// Why a journal rather than rewriting the whole file per change: an add is
// then one 28-byte write and one fsync, whatever the SEL holds (a full
// 3,639-entry SEL rewritten per event would be ~100 KiB per fsync). Every
// change is written and fsynced before it is applied or acknowledged, so an
// acknowledged entry is on disk. A kill -9 can only leave the last frame
// short or, after power loss, unwritten garbage: a frame is accepted only if
// its magic and CRC check, a short tail is dropped, and a damaged journal is
// rewritten clean at once, so later appends never follow garbage. The
// journal is compacted (current state rewritten with
// store.WriteFileAtomic: temp file, fsync, rename, directory fsync) after
// CompactAfter frames and on Clear, so it stays bounded; a kill during
// compaction leaves either the old or the new file, both complete.
const (
	frameSize  = 28
	frameMagic = 0xB5

	opHeader   = 0 // payload: headerMagic
	opAdd      = 1 // payload: the record
	opDelete   = 2 // payload[0:2]: record ID
	opClear    = 3
	opOverflow = 4 // payload[0]: flag
	opClock    = 5 // payload[0:8]: SEL-minus-host seconds; [8:10]: UTC offset minutes
	opMarks    = 6 // payload: next ID(2), last add(4), last erase(4), overflow(1)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func headerPayload() [16]byte {
	var p [16]byte
	copy(p[:], "bmcemu SEL v1")
	return p
}

type frame struct {
	op      uint8
	ts      uint32
	payload [16]byte
}

func (f frame) encode(b []byte) []byte {
	var buf [frameSize]byte
	buf[0] = frameMagic
	buf[1] = f.op
	binary.LittleEndian.PutUint32(buf[4:8], f.ts)
	copy(buf[8:24], f.payload[:])
	binary.LittleEndian.PutUint32(buf[24:28], crc32.Checksum(buf[:24], crcTable))
	return append(b, buf[:]...)
}

func decodeFrame(b []byte) (frame, error) {
	if len(b) < frameSize || b[0] != frameMagic || b[2] != 0 || b[3] != 0 ||
		binary.LittleEndian.Uint32(b[24:28]) != crc32.Checksum(b[:24], crcTable) {
		return frame{}, errInvalidFrame
	}
	f := frame{op: b[1], ts: binary.LittleEndian.Uint32(b[4:8])}
	copy(f.payload[:], b[8:24])
	return f, nil
}

func clockPayload(offset int64, utc int16) [16]byte {
	var p [16]byte
	binary.LittleEndian.PutUint64(p[0:8], uint64(offset))
	binary.LittleEndian.PutUint16(p[8:10], uint16(utc))
	return p
}

type journal struct {
	path   string
	f      *os.File // nil after a failed reopen; the next append retries
	size   int64
	frames int
}

// openJournal replays path into s, creating the file if it does not exist.
func openJournal(path string, s *SEL) (*journal, error) {
	// A kill during compaction leaves its temporary file; the journal
	// itself is still the complete old one, so the leftover is dropped.
	removed, err := store.RemoveStaleTemps(path)
	if err != nil {
		return nil, fmt.Errorf("sel: %w", err)
	}
	if len(removed) > 0 {
		s.log.Warn("removed temporary files an interrupted compaction left", "files", removed)
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return nil, fmt.Errorf("sel: read %s: %w", path, err)
	}
	j := &journal{path: path}
	if len(data) == 0 {
		if err := s.writeSnapshot(j); err != nil {
			return nil, err
		}
		return j, nil
	}
	hdr, err := decodeFrame(data)
	if err != nil || hdr.op != opHeader || hdr.payload != headerPayload() {
		return nil, fmt.Errorf("sel: %s: %w", path, errWrongFile)
	}
	dropped := 0
	for off := frameSize; off < len(data); off += frameSize {
		f, err := decodeFrame(data[off:])
		if err != nil {
			dropped++
			continue
		}
		s.replay(f)
	}
	if dropped > 0 || len(data)%frameSize != 0 {
		s.log.Warn("SEL journal had a damaged tail; dropped the unreadable frames and rewrote it",
			"path", path, "bad_frames", dropped, "torn_bytes", len(data)%frameSize)
		if err := s.writeSnapshot(j); err != nil {
			return nil, err
		}
		return j, nil
	}
	if err := j.reopen(); err != nil {
		return nil, err
	}
	j.frames = len(data)/frameSize - 1
	return j, nil
}

// replay applies one journal frame to s during Open.
func (s *SEL) replay(f frame) {
	p := f.payload
	switch f.op {
	case opAdd:
		r := Record(p)
		s.applyAdd(r, f.ts)
		s.nextID = r.ID() + 1
		if s.nextID == 0 || s.nextID == 0xFFFF {
			s.nextID = 1
		}
	case opDelete:
		s.applyDelete(binary.LittleEndian.Uint16(p[0:2]), f.ts)
	case opClear:
		s.applyClear(f.ts)
	case opOverflow:
		s.overflow = p[0] != 0
	case opClock:
		s.clockOffset = int64(binary.LittleEndian.Uint64(p[0:8]))
		s.utcOffset = int16(binary.LittleEndian.Uint16(p[8:10]))
	case opMarks:
		s.nextID = binary.LittleEndian.Uint16(p[0:2])
		if s.nextID == 0 || s.nextID == 0xFFFF {
			s.nextID = 1
		}
		s.lastAdd = binary.LittleEndian.Uint32(p[2:6])
		s.lastErs = binary.LittleEndian.Uint32(p[6:10])
		s.overflow = s.overflow || p[10] != 0
	default:
		// A frame from a newer version: its CRC is fine, its meaning
		// unknown. Ignoring it keeps everything else readable.
		s.log.Warn("SEL journal frame with unknown op ignored", "op", f.op)
	}
}

// writeSnapshot replaces the journal with s's current state.
func (s *SEL) writeSnapshot(j *journal) error {
	buf := make([]byte, 0, frameSize*(len(s.entries)+4))
	buf = frame{op: opHeader, payload: headerPayload()}.encode(buf)
	for _, r := range s.entries {
		buf = frame{op: opAdd, ts: r.Timestamp(), payload: r}.encode(buf)
	}
	var marks [16]byte
	binary.LittleEndian.PutUint16(marks[0:2], s.nextID)
	binary.LittleEndian.PutUint32(marks[2:6], s.lastAdd)
	binary.LittleEndian.PutUint32(marks[6:10], s.lastErs)
	if s.overflow {
		marks[10] = 1
	}
	buf = frame{op: opMarks, payload: marks}.encode(buf)
	buf = frame{op: opClock, payload: clockPayload(s.clockOffset, s.utcOffset)}.encode(buf)
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if err := store.WriteFileAtomic(j.path, buf, 0o600); err != nil {
		return fmt.Errorf("sel: %w", err)
	}
	if err := j.reopen(); err != nil {
		return err
	}
	j.frames = len(buf)/frameSize - 1
	return nil
}

func (s *SEL) compactLocked() error { return s.writeSnapshot(s.j) }

func (j *journal) reopen() error {
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sel: open %s: %w", j.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("sel: stat %s: %w", j.path, err)
	}
	j.f, j.size = f, st.Size()
	return nil
}

// append writes one frame and fsyncs it. On failure the file is cut back to
// its previous length so that no half frame precedes later appends.
func (j *journal) append(f frame) error {
	if j.f == nil {
		if err := j.reopen(); err != nil {
			return err
		}
	}
	b := f.encode(nil)
	if _, err := j.f.Write(b); err != nil {
		_ = j.f.Truncate(j.size)
		return fmt.Errorf("sel: append to %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		_ = j.f.Truncate(j.size)
		return fmt.Errorf("sel: fsync %s: %w", j.path, err)
	}
	j.size += frameSize
	j.frames++
	return nil
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

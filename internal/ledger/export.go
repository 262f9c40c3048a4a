package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// ExportFormat is the first line's format tag of an export file.
const ExportFormat = "mlsec-ledger-export/v1"

// An export is JSON Lines: a header, every record in order, then every
// signed checkpoint.
type exportLine struct {
	Type   string          `json:"type"` // header, record, checkpoint
	Format string          `json:"format,omitempty"`
	Origin string          `json:"origin,omitempty"`
	Key    string          `json:"public_key,omitempty"`
	Size   *int64          `json:"size,omitempty"`
	Index  *int64          `json:"index,omitempty"`
	Record json.RawMessage `json:"record,omitempty"`
	Note   string          `json:"note,omitempty"`
}

// Export writes the whole ledger to w.
func (l *Ledger) Export(ctx context.Context, w io.Writer) error {
	head, err := l.st.Head(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	size := head.Size
	if err := enc.Encode(exportLine{Type: "header", Format: ExportFormat, Origin: head.Origin, Key: head.VKey, Size: &size}); err != nil {
		return err
	}
	if err := l.st.ScanRecords(ctx, 0, head.Size, func(idx int64, data []byte) error {
		return enc.Encode(exportLine{Type: "record", Index: &idx, Record: data})
	}); err != nil {
		return fmt.Errorf("export records: %w", err)
	}
	if err := l.st.ScanCheckpoints(ctx, func(size int64, msg []byte) error {
		if size > head.Size {
			return nil
		}
		return enc.Encode(exportLine{Type: "checkpoint", Size: &size, Note: string(msg)})
	}); err != nil {
		return fmt.Errorf("export checkpoints: %w", err)
	}
	return bw.Flush()
}

// ImportVerify reads an export and verifies it offline: every record is
// rehashed and every checkpoint's signature and root checked, with the
// trusted public key vkey ("" trusts the key in the file, which proves
// only internal consistency). Each record is passed to fn (if non-nil) in
// order after it has been read; nothing is trusted until the returned
// error is nil.
func ImportVerify(ctx context.Context, r io.Reader, vkey string, fn func(idx int64, data []byte) error) (*VerifyResult, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 4*MaxRecordSize)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read export: %w", err)
		}
		return nil, fmt.Errorf("read export: empty file")
	}
	var h exportLine
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Type != "header" || h.Format != ExportFormat || h.Size == nil {
		return nil, fmt.Errorf("read export: not an %s file", ExportFormat)
	}
	e, err := newVerifyEngine(h.Key, vkey)
	if err != nil {
		return nil, err
	}
	e.res.HeadSize = *h.Size
	// Records come before checkpoints; keep record lines' data until the
	// checkpoints are known (hash as we go, compare roots at the end).
	type rec struct {
		idx  int64
		data []byte
	}
	var recs []rec
	var notes []checkpointNote
	line := 1
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var x exportLine
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return nil, fmt.Errorf("read export line %d: %w", line, err)
		}
		switch x.Type {
		case "record":
			if x.Index == nil {
				return nil, fmt.Errorf("read export line %d: record without index", line)
			}
			data := bytes.Clone([]byte(x.Record))
			recs = append(recs, rec{*x.Index, data})
		case "checkpoint":
			if x.Size == nil {
				return nil, fmt.Errorf("read export line %d: checkpoint without size", line)
			}
			notes = append(notes, checkpointNote{size: *x.Size, msg: []byte(x.Note)})
		default:
			return nil, fmt.Errorf("read export line %d: unknown line type %q", line, x.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read export: %w", err)
	}
	e.checkpoints(ctx, notes)
	if err := e.run(ctx, func(ctx context.Context, fn func(idx int64, data []byte) error) error {
		for _, r := range recs {
			if err := fn(r.idx, r.data); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	e.finish(*h.Size)
	res, verr := e.result()
	if verr != nil {
		return res, verr
	}
	if fn != nil {
		for _, r := range recs {
			if err := fn(r.idx, r.data); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

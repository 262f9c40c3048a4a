package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Proof file types.
const (
	InclusionProofType   = "mlsec-ledger-inclusion-proof/v1"
	ConsistencyProofType = "mlsec-ledger-consistency-proof/v1"
	maxProofFile         = 1 << 20
)

// Proof is a self-contained, offline-checkable proof: either that a record
// is in the tree a signed checkpoint commits to (inclusion), or that one
// signed checkpoint's tree is a prefix of another's (consistency).
type Proof struct {
	Type string `json:"type"`
	// Inclusion: the record, its index and the checkpoint it is proved in.
	Index int64 `json:"index,omitempty"`
	// Record is the record's canonical JSON as a string, so reformatting
	// the proof file cannot change the hashed bytes.
	Record string `json:"record,omitempty"`
	// Consistency: the older checkpoint.
	Old string `json:"old_checkpoint,omitempty"`
	// Checkpoint is the (newer) signed checkpoint note.
	Checkpoint string      `json:"checkpoint"`
	Hashes     []tlog.Hash `json:"proof"`
}

// ErrProof marks a proof that does not verify.
var ErrProof = errors.New("proof does not verify")

func (l *Ledger) storeReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		got, err := l.st.ReadHashes(ctx, idx)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(got))
		for i := range got {
			out[i] = got[i]
		}
		return out, nil
	})
}

// checkpointAt returns the signed checkpoint for size (0: the latest).
func (l *Ledger) checkpointAt(ctx context.Context, size int64) (Checkpoint, []byte, error) {
	if size == 0 {
		return l.LatestCheckpoint(ctx)
	}
	msg, err := l.st.Checkpoint(ctx, size)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, err := OpenCheckpoint(msg, l.verifier)
	return c, msg, err
}

// ProveInclusion proves that record index is in the tree of the stored
// checkpoint for size (0: the latest checkpoint).
func (l *Ledger) ProveInclusion(ctx context.Context, index, size int64) (*Proof, error) {
	c, msg, err := l.checkpointAt(ctx, size)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= c.Size {
		return nil, fmt.Errorf("index %d is not in the checkpoint for size %d", index, c.Size)
	}
	data, err := l.st.Record(ctx, index)
	if err != nil {
		return nil, err
	}
	p, err := tlog.ProveRecord(c.Size, index, l.storeReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove record %d: %w", index, err)
	}
	return &Proof{Type: InclusionProofType, Index: index, Record: string(data), Checkpoint: string(msg), Hashes: p}, nil
}

// ProveConsistency proves that the tree of the checkpoint for oldSize is a
// prefix of the tree of the checkpoint for newSize (0: the latest).
func (l *Ledger) ProveConsistency(ctx context.Context, oldSize, newSize int64) (*Proof, error) {
	nc, nmsg, err := l.checkpointAt(ctx, newSize)
	if err != nil {
		return nil, err
	}
	if oldSize <= 0 || oldSize > nc.Size {
		return nil, fmt.Errorf("old size %d must be in 1..%d", oldSize, nc.Size)
	}
	_, omsg, err := l.checkpointAt(ctx, oldSize)
	if err != nil {
		return nil, err
	}
	p, err := tlog.ProveTree(nc.Size, oldSize, l.storeReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove consistency %d→%d: %w", oldSize, nc.Size, err)
	}
	return &Proof{Type: ConsistencyProofType, Old: string(omsg), Checkpoint: string(nmsg), Hashes: p}, nil
}

// ParseProof decodes a proof file.
func ParseProof(data []byte) (*Proof, error) {
	if len(data) > maxProofFile {
		return nil, fmt.Errorf("proof file is %d bytes (max %d)", len(data), maxProofFile)
	}
	var p Proof
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode proof: %w", err)
	}
	if len(p.Hashes) > 128 {
		return nil, fmt.Errorf("proof has %d hashes (max 128)", len(p.Hashes))
	}
	return &p, nil
}

// ProofResult describes a verified proof.
type ProofResult struct {
	Type       string
	Checkpoint Checkpoint
	Old        Checkpoint // consistency proofs
	Event      Event      // inclusion proofs
}

// VerifyProof checks a proof offline with only the ledger's public key.
func VerifyProof(p *Proof, vkey string) (*ProofResult, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	c, err := OpenCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	res := &ProofResult{Type: p.Type, Checkpoint: c}
	switch p.Type {
	case InclusionProofType:
		if p.Index < 0 || p.Index >= c.Size {
			return nil, fmt.Errorf("%w: index %d outside tree of size %d", ErrProof, p.Index, c.Size)
		}
		ev, err := ParseRecord([]byte(p.Record))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProof, err)
		}
		if ev.Seq != p.Index {
			return nil, fmt.Errorf("%w: record carries sequence number %d, proof claims index %d", ErrProof, ev.Seq, p.Index)
		}
		if err := tlog.CheckRecord(p.Hashes, c.Size, c.Root, p.Index, tlog.RecordHash([]byte(p.Record))); err != nil {
			return nil, fmt.Errorf("%w: record %d is not in the tree of size %d: %v", ErrProof, p.Index, c.Size, err)
		}
		res.Event = ev
	case ConsistencyProofType:
		old, err := OpenCheckpoint([]byte(p.Old), v)
		if err != nil {
			return nil, fmt.Errorf("%w: old checkpoint: %v", ErrProof, err)
		}
		if old.Size > c.Size {
			return nil, fmt.Errorf("%w: old checkpoint (size %d) is newer than new (size %d)", ErrProof, old.Size, c.Size)
		}
		if err := tlog.CheckTree(p.Hashes, c.Size, c.Root, old.Size, old.Root); err != nil {
			return nil, fmt.Errorf("%w: tree of size %d is not a prefix of tree of size %d: %v", ErrProof, old.Size, c.Size, err)
		}
		res.Old = old
	default:
		return nil, fmt.Errorf("unknown proof type %q", p.Type)
	}
	return res, nil
}

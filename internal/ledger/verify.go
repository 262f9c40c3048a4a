package ledger

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Problem is one inconsistency found by Verify. Index is the first record
// index the problem affects.
type Problem struct {
	Index  int64  `json:"index"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

func (p Problem) String() string { return fmt.Sprintf("index %d: %s: %s", p.Index, p.Kind, p.Detail) }

// Problem kinds.
const (
	ProblemMissing     = "missing-record"
	ProblemExtra       = "unexpected-record"
	ProblemRecord      = "bad-record"
	ProblemSequence    = "out-of-order"
	ProblemLeafHash    = "record-hash-mismatch"
	ProblemStoredHash  = "stored-hash-mismatch"
	ProblemCheckpoint  = "checkpoint-mismatch"
	ProblemSignature   = "bad-checkpoint-signature"
	ProblemUnsigned    = "unsigned-tail"
	ProblemWrongKey    = "untrusted-key"
	maxProblems        = 100
	maxCheckpointNotes = 3
)

// VerifyResult is the outcome of a full verification.
type VerifyResult struct {
	Size        int64      `json:"size"`        // records found and hashed
	HeadSize    int64      `json:"head_size"`   // size the store's head claims
	Checkpoints int        `json:"checkpoints"` // signed checkpoints checked
	Latest      Checkpoint `json:"-"`
	LatestText  string     `json:"latest_checkpoint,omitempty"`
	KeyTrusted  bool       `json:"key_trusted"` // checked against a key given by the caller
	Problems    []Problem  `json:"problems,omitempty"`
	Truncated   bool       `json:"problems_truncated,omitempty"`
}

// OK reports whether no problem was found.
func (r *VerifyResult) OK() bool { return len(r.Problems) == 0 }

// FirstBad returns the lowest problem index.
func (r *VerifyResult) FirstBad() (int64, bool) {
	if len(r.Problems) == 0 {
		return 0, false
	}
	return r.Problems[0].Index, true
}

// VerifyError is returned by Verify when the log is inconsistent.
type VerifyError struct{ Result *VerifyResult }

func (e *VerifyError) Error() string {
	p := e.Result.Problems[0]
	return fmt.Sprintf("ledger does not verify: first bad index %d: %s: %s", p.Index, p.Kind, p.Detail)
}

// Verify recomputes the Merkle tree from every stored record and checks
// it against the stored hashes and every stored signed checkpoint. vkey is
// the public key to trust; "" trusts the key stored in the database
// (which an attacker with write access could replace: pass the key you
// were given for an audit). A failing ledger yields a result and a
// *VerifyError naming the first bad index.
//
// Records are streamed in pages and decoded, hashed and checked for
// canonical form on every core; the tree is then extended in index order,
// so the first bad index reported does not depend on scheduling.
func (l *Ledger) Verify(ctx context.Context, vkey string) (*VerifyResult, error) {
	head, err := l.st.Head(ctx)
	if err != nil {
		return nil, err
	}
	e, err := newVerifyEngine(head.VKey, vkey)
	if err != nil {
		return nil, err
	}
	e.res.HeadSize = head.Size
	var notes []checkpointNote
	// Appenders may run while we verify: check the log as of the head
	// read above, and judge rows beyond it against the head read after.
	if err := l.st.ScanCheckpoints(ctx, func(size int64, msg []byte) error {
		if size > head.Size {
			return nil
		}
		notes = append(notes, checkpointNote{size: size, msg: bytes.Clone(msg)})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	e.checkpoints(ctx, notes)

	// Read in chunks, each chunk's stored hashes just before its records,
	// so that this Verify holds one connection at a time.
	stored := newHashStream()
	e.stored = stored
	beyond, maxIdx := int64(0), int64(-1)
	err = e.run(ctx, func(ctx context.Context, fn func(idx int64, data []byte) error) error {
		defer stored.end()
		for lo := int64(0); lo < head.Size; lo += verifyChunk {
			hi := min(lo+verifyChunk, head.Size)
			stored.read(ctx, l.st, tlog.StoredHashCount(lo), tlog.StoredHashCount(hi))
			if err := l.st.ScanRecords(ctx, lo, hi, fn); err != nil {
				return err
			}
		}
		stored.end()
		return l.st.ScanRecords(ctx, head.Size, -1, func(idx int64, _ []byte) error {
			beyond++
			maxIdx = idx
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	if beyond > 0 {
		if h2, err := l.st.Head(ctx); err != nil || maxIdx >= h2.Size {
			e.problem(head.Size, ProblemExtra, fmt.Sprintf("%d records beyond the head (size %d)", beyond, head.Size))
		}
	}
	extra, gap, err := stored.drain(e.nh)
	if err != nil {
		return nil, fmt.Errorf("read stored hashes: %w", err)
	}
	if gap >= 0 && gap < e.nh {
		_, n := tlog.SplitStoredHashIndex(gap)
		e.problem(n, ProblemStoredHash, fmt.Sprintf("stored hash %d missing or malformed", gap))
	}
	e.extraStored = extra
	e.finish(head.Size)
	return e.result()
}

var errStop = fmt.Errorf("stop")

// verifyChunk is how many records Verify reads per query pair.
const verifyChunk = 16384

type checkpointNote struct {
	size int64
	msg  []byte
}

type cpRoot struct {
	size int64
	root tlog.Hash
	ok   bool
}

// verifyEngine recomputes a tree from records in order and compares it
// with signed checkpoints and (optionally) stored hashes. It keeps only
// the tree's right edge (one hash per level), not every hash.
type verifyEngine struct {
	v       note.Verifier
	res     VerifyResult
	edge    []tlog.Hash // complete subtrees of the tree so far, largest first
	nh      int64       // stored hashes recomputed so far
	stored  *hashStream // hashes found in the store (nil for exports)
	cps     []cpRoot    // by size
	next    int         // next checkpoint to compare
	lastCP  int64       // size of the last checkpoint compared
	badCPs  int
	n       int64 // records processed
	seenIdx int64 // next expected row index

	extraStored int64 // stored hashes found beyond the recomputed ones
}

func newVerifyEngine(storedKey, trustedKey string) (*verifyEngine, error) {
	e := &verifyEngine{}
	key := strings.TrimSpace(trustedKey)
	if key == "" {
		key = storedKey
	} else {
		e.res.KeyTrusted = true
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("ledger public key: %w", err)
	}
	e.v = v
	if e.res.KeyTrusted && strings.TrimSpace(storedKey) != key && storedKey != "" {
		e.problem(0, ProblemWrongKey, "the key stored with the ledger is not the key given to verify")
	}
	return e, nil
}

func (e *verifyEngine) problem(idx int64, kind, detail string) {
	if len(e.res.Problems) >= maxProblems {
		e.res.Truncated = true
		return
	}
	e.res.Problems = append(e.res.Problems, Problem{Index: idx, Kind: kind, Detail: detail})
}

// checkpoints verifies every note's signature (in parallel) and keeps
// the roots of good ones, sorted by size.
func (e *verifyEngine) checkpoints(ctx context.Context, notes []checkpointNote) {
	sort.Slice(notes, func(i, j int) bool { return notes[i].size < notes[j].size })
	roots := make([]cpRoot, len(notes))
	errs := make([]error, len(notes))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (len(notes) + workers - 1) / max(workers, 1)
	for w := 0; w < workers && w*chunk < len(notes); w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(notes))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				c, err := OpenCheckpoint(notes[i].msg, e.v)
				if err == nil && c.Size != notes[i].size {
					err = fmt.Errorf("signed size %d stored as size %d", c.Size, notes[i].size)
				}
				roots[i] = cpRoot{size: notes[i].size, root: c.Root, ok: err == nil}
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	prev := int64(0)
	for i, err := range errs {
		if err != nil {
			e.problem(prev, ProblemSignature, fmt.Sprintf("checkpoint for size %d: %v", notes[i].size, err))
		}
		prev = notes[i].size
	}
	e.cps = roots
	e.res.Checkpoints = len(notes)
	if len(notes) > 0 && errs[len(notes)-1] == nil {
		last := notes[len(notes)-1]
		e.res.LatestText = string(last.msg)
		e.res.Latest, _ = ParseCheckpoint(strings.SplitN(string(last.msg), "\n\n", 2)[0] + "\n")
	}
}

// record processes the row stored at index idx, given the result of
// checking it (see recordChecker): its leaf hash and either its sequence
// number or why it is not a valid record.
func (e *verifyEngine) record(idx int64, leaf tlog.Hash, seq int64, bad string) {
	p := e.n
	if idx != e.seenIdx {
		if idx > e.seenIdx {
			e.problem(e.seenIdx, ProblemMissing, fmt.Sprintf("records %d..%d are missing", e.seenIdx, idx-1))
		} else {
			e.problem(idx, ProblemExtra, "duplicate or out-of-order row")
		}
	}
	e.seenIdx = idx + 1
	if bad != "" {
		e.problem(p, ProblemRecord, bad)
	} else if seq != p {
		e.problem(p, ProblemSequence, fmt.Sprintf("record carries sequence number %d", seq))
	}
	// The stored hashes record p adds (tlog.StoredHashes): its leaf hash,
	// then one interior node per subtree it completes.
	base := e.nh
	h := leaf
	compared := e.stored == nil
	for level := 0; ; level++ {
		if !compared {
			x := base + int64(level)
			if s, ok := e.stored.next(x); ok && s != h {
				kind := ProblemStoredHash
				if level == 0 {
					kind = ProblemLeafHash
				}
				e.problem(p, kind, fmt.Sprintf("stored hash %d does not match the record", x))
				compared = true
			}
		}
		e.nh++
		if p>>level&1 == 0 {
			break
		}
		h = tlog.NodeHash(e.edge[len(e.edge)-1], h)
		e.edge = e.edge[:len(e.edge)-1]
	}
	e.edge = append(e.edge, h)
	e.n++
	for e.next < len(e.cps) && e.cps[e.next].size <= e.n {
		c := e.cps[e.next]
		e.next++
		if c.size < e.n || !c.ok {
			continue
		}
		if e.root() != c.root {
			e.badCPs++
			if e.badCPs <= maxCheckpointNotes {
				e.problem(e.lastCP, ProblemCheckpoint, fmt.Sprintf("records %d..%d do not match the signed checkpoint for size %d", e.lastCP, c.size-1, c.size))
			}
		}
		e.lastCP = c.size
	}
}

// root is the RFC 6962 root hash of the records processed so far.
func (e *verifyEngine) root() tlog.Hash {
	if len(e.edge) == 0 {
		h, _ := tlog.TreeHash(0, nil)
		return h
	}
	h := e.edge[len(e.edge)-1]
	for i := len(e.edge) - 2; i >= 0; i-- {
		h = tlog.NodeHash(e.edge[i], h)
	}
	return h
}

func (e *verifyEngine) finish(headSize int64) {
	if e.n < headSize {
		e.problem(e.n, ProblemMissing, fmt.Sprintf("head claims %d records, found %d", headSize, e.n))
	}
	if e.n > headSize {
		e.problem(headSize, ProblemExtra, fmt.Sprintf("%d records beyond the head (size %d)", e.n-headSize, headSize))
	}
	for ; e.next < len(e.cps); e.next++ {
		e.problem(e.n, ProblemMissing, fmt.Sprintf("signed checkpoint for size %d but only %d records", e.cps[e.next].size, e.n))
		break
	}
	latest := int64(0)
	if len(e.cps) > 0 {
		latest = e.cps[len(e.cps)-1].size
	}
	if latest < e.n {
		e.problem(latest, ProblemUnsigned, fmt.Sprintf("records %d..%d are not covered by a signed checkpoint", latest, e.n-1))
	}
	if e.extraStored > 0 {
		e.problem(e.n, ProblemExtra, fmt.Sprintf("%d stored hashes beyond the records", e.extraStored))
	}
	e.res.Size = e.n
}

func (e *verifyEngine) result() (*VerifyResult, error) {
	r := &e.res
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].Index < r.Problems[j].Index })
	if len(r.Problems) > 0 {
		return r, &VerifyError{Result: r}
	}
	return r, nil
}

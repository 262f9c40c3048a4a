package ledger

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/mlsec/mlsec/internal/store"
)

// Storage is what the ledger needs from a database; *store.Store has it.
type Storage interface {
	InitLog(ctx context.Context, origin, vkey string) error
	Head(ctx context.Context) (store.LogHead, error)
	UpdateLog(ctx context.Context, fn func(ctx context.Context, tx store.LogTx) error) error
	AppendIfHead(ctx context.Context, head store.LogHead, a store.LogAppend) (bool, error)
	ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
	Record(ctx context.Context, idx int64) ([]byte, error)
	ScanRecords(ctx context.Context, start, end int64, fn func(idx int64, data []byte) error) error
	ScanHashes(ctx context.Context, start, end int64, fn func(idx int64, hash []byte) error) error
	ScanCheckpoints(ctx context.Context, fn func(size int64, note []byte) error) error
	Checkpoint(ctx context.Context, size int64) ([]byte, error)
	LatestCheckpoint(ctx context.Context) (int64, []byte, error)
}

// Errors.
var (
	ErrNoSigner = errors.New("ledger: no signing key (pass --key or run 'mlsec ledger init')")
	ErrWrongKey = errors.New("ledger: key does not match the ledger's checkpoint key")
)

// DefaultOrigin is the checkpoint origin line used when none is given.
const DefaultOrigin = "mlsec.local/ledger"

// Ledger appends to and reads a log in a Storage. It is safe for
// concurrent use: concurrent Appends are committed together in batches,
// each batch in one transaction that ends with one signed checkpoint.
type Ledger struct {
	st       Storage
	signer   note.Signer
	verifier note.Verifier
	origin   string
	vkey     string
	now      func() time.Time
	maxBatch int

	mu      sync.Mutex
	pending []*appendReq
	leading bool

	// front is the right edge of the tree as this ledger last wrote it;
	// with it an append needs no reads (see appendEvents).
	frontMu sync.Mutex
	front   frontier
}

// frontier holds the stored hashes of the complete subtrees of the tree
// of size size: all that extending the tree and computing its root read
// (tlog.StoredHashes, tlog.TreeHash). Stored hashes never change once
// written, so its entries stay valid after other appenders move the head.
type frontier struct {
	size   int64
	hashes map[int64]tlog.Hash // nil: unknown
}

// frontierIndexes lists the stored hash indexes of the frontier of a tree
// of size n: one per set bit of n.
func frontierIndexes(n int64) []int64 {
	var idx []int64
	for l := 0; n>>l > 0; l++ {
		if n>>l&1 == 1 {
			idx = append(idx, tlog.StoredHashIndex(l, n>>l-1))
		}
	}
	return idx
}

var errNotCached = errors.New("ledger: hash not in the frontier")

// Option configures Open.
type Option func(*Ledger) error

// WithSignerKey sets the private note key ("PRIVATE+KEY+…") used to sign
// checkpoints. Without it the ledger is read-only.
func WithSignerKey(skey string) Option {
	return func(l *Ledger) error {
		s, err := note.NewSigner(strings.TrimSpace(skey))
		if err != nil {
			return fmt.Errorf("ledger signing key: %w", err)
		}
		l.signer = s
		return nil
	}
}

// WithClock replaces time.Now for event times (tests).
func WithClock(now func() time.Time) Option {
	return func(l *Ledger) error { l.now = now; return nil }
}

// WithMaxBatch bounds how many concurrent Appends are committed in one
// transaction (default 1000).
func WithMaxBatch(n int) Option {
	return func(l *Ledger) error {
		if n < 1 {
			return errors.New("ledger: max batch must be positive")
		}
		l.maxBatch = n
		return nil
	}
}

// GenerateKey makes a new Ed25519 note key pair named origin.
func GenerateKey(origin string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, origin)
}

// Init creates an empty ledger in st whose checkpoints are signed by the
// key vkey names; the key's name is the checkpoint origin line.
func Init(ctx context.Context, st Storage, vkey string) error {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return fmt.Errorf("ledger public key: %w", err)
	}
	return st.InitLog(ctx, v.Name(), strings.TrimSpace(vkey))
}

// Open opens the ledger stored in st. It fails with store.ErrNotInitialized
// if Init has not run, and with ErrWrongKey if a signer key is given that
// does not match the ledger's public key.
func Open(ctx context.Context, st Storage, opts ...Option) (*Ledger, error) {
	l := &Ledger{st: st, now: time.Now, maxBatch: 1000}
	for _, o := range opts {
		if err := o(l); err != nil {
			return nil, err
		}
	}
	h, err := st.Head(ctx)
	if err != nil {
		return nil, err
	}
	l.origin, l.vkey = h.Origin, h.VKey
	if l.verifier, err = note.NewVerifier(h.VKey); err != nil {
		return nil, fmt.Errorf("ledger public key in store: %w", err)
	}
	if l.signer != nil && (l.signer.Name() != l.verifier.Name() || l.signer.KeyHash() != l.verifier.KeyHash()) {
		return nil, ErrWrongKey
	}
	return l, nil
}

// Origin is the checkpoint origin line.
func (l *Ledger) Origin() string { return l.origin }

// PublicKey is the note verifier key stored with the ledger.
func (l *Ledger) PublicKey() string { return l.vkey }

// Storage returns the ledger's storage.
func (l *Ledger) Storage() Storage { return l.st }

// Size is the number of records in the stored log.
func (l *Ledger) Size(ctx context.Context) (int64, error) {
	h, err := l.st.Head(ctx)
	return h.Size, err
}

type appendReq struct {
	ctx  context.Context
	ev   []Event
	done chan struct{}
	idx  int64
	err  error
}

// Append records one event and returns its index. It returns once the
// event and a signed checkpoint covering it are committed.
func (l *Ledger) Append(ctx context.Context, ev Event) (int64, error) {
	return l.AppendBatch(ctx, []Event{ev})
}

// AppendBatch records events atomically, in order, and returns the index
// of the first. Concurrent calls may share one transaction and checkpoint.
func (l *Ledger) AppendBatch(ctx context.Context, evs []Event) (int64, error) {
	if l.signer == nil {
		return 0, ErrNoSigner
	}
	if len(evs) == 0 {
		return 0, errors.New("ledger: no events")
	}
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return 0, err
		}
	}
	req := &appendReq{ctx: ctx, ev: evs, done: make(chan struct{})}
	l.mu.Lock()
	l.pending = append(l.pending, req)
	if l.leading {
		l.mu.Unlock()
		select {
		case <-req.done:
			return req.idx, req.err
		case <-ctx.Done():
			// The batch may still commit it; the caller only stops waiting.
			return 0, ctx.Err()
		}
	}
	l.leading = true
	for {
		batch, n := l.takeBatch()
		l.mu.Unlock()
		if len(batch) > 0 {
			l.commit(ctx, batch, n)
		}
		l.mu.Lock()
		if len(l.pending) == 0 {
			l.leading = false
			l.mu.Unlock()
			break
		}
	}
	<-req.done
	return req.idx, req.err
}

// takeBatch removes up to maxBatch events' worth of requests (at least
// one request) from the queue. Called with l.mu held.
func (l *Ledger) takeBatch() ([]*appendReq, int) {
	var batch []*appendReq
	n := 0
	for len(l.pending) > 0 {
		r := l.pending[0]
		if len(batch) > 0 && n+len(r.ev) > l.maxBatch {
			break
		}
		l.pending = l.pending[1:]
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		batch = append(batch, r)
		n += len(r.ev)
	}
	return batch, n
}

func (l *Ledger) commit(ctx context.Context, batch []*appendReq, n int) {
	evs := make([]Event, 0, n)
	for _, r := range batch {
		evs = append(evs, r.ev...)
	}
	// A batch carries other callers' events: finish it even if the
	// leader's context is cancelled mid-way.
	first, err := l.appendEvents(context.WithoutCancel(ctx), evs)
	off := int64(0)
	for _, r := range batch {
		r.idx, r.err = first+off, err
		off += int64(len(r.ev))
		close(r.done)
	}
}

// appendEvents writes evs in one transaction and returns the index of
// the first.
//
// When this ledger made the last append it knows the head and the tree's
// frontier, so it prepares the whole append (records, stored hashes,
// signed checkpoint) without reading anything and hands it to
// AppendIfHead: one statement on PostgreSQL. If another appender moved
// the head meanwhile nothing was written, and it falls back to locking
// the head, reading what it needs and preparing the append again.
func (l *Ledger) appendEvents(ctx context.Context, evs []Event) (int64, error) {
	now := l.now()
	l.frontMu.Lock()
	fr := l.front
	l.frontMu.Unlock()
	if fr.hashes != nil {
		a, next, err := l.prepare(ctx, nil, fr, fr.size, evs, now)
		switch {
		case err == nil:
			head := store.LogHead{Size: fr.size, Origin: l.origin, VKey: l.vkey}
			ok, err := l.st.AppendIfHead(ctx, head, a)
			if err != nil {
				return 0, fmt.Errorf("append to ledger: %w", err)
			}
			if ok {
				l.setFront(fr.size+int64(len(evs)), next)
				return fr.size, nil
			}
		case !errors.Is(err, errNotCached):
			return 0, err
		}
	}
	var first int64
	var next map[int64]tlog.Hash
	err := l.st.UpdateLog(ctx, func(ctx context.Context, tx store.LogTx) error {
		h := tx.Head()
		if h.VKey != l.vkey || h.Origin != l.origin {
			return ErrWrongKey
		}
		first = h.Size
		a, nx, err := l.prepare(ctx, tx, fr, first, evs, now)
		if err != nil {
			return err
		}
		next = nx
		return tx.Append(ctx, a)
	})
	if err != nil {
		return 0, fmt.Errorf("append to ledger: %w", err)
	}
	l.setFront(first+int64(len(evs)), next)
	return first, nil
}

func (l *Ledger) setFront(size int64, hashes map[int64]tlog.Hash) {
	l.frontMu.Lock()
	l.front = frontier{size: size, hashes: hashes}
	l.frontMu.Unlock()
}

// prepare encodes evs as the records at first.., computes the stored
// hashes they add and signs the checkpoint of the new tree. It reads
// stored hashes from fr and, for those it lacks, from tx (tx nil: fail
// with errNotCached). It also returns the new tree's frontier.
func (l *Ledger) prepare(ctx context.Context, tx store.LogTx, fr frontier, first int64, evs []Event, now time.Time) (store.LogAppend, map[int64]tlog.Hash, error) {
	records := make([][]byte, len(evs))
	for i := range evs {
		ev := evs[i]
		ev.Seq = first + int64(i)
		if ev.Time.IsZero() {
			ev.Time = now
		}
		data, err := ev.Canonical()
		if err != nil {
			return store.LogAppend{}, nil, fmt.Errorf("encode event: %w", err)
		}
		if len(data) > MaxRecordSize {
			return store.LogAppend{}, nil, invalid("record is %d bytes (max %d)", len(data), MaxRecordSize)
		}
		records[i] = data
	}
	hashes, root, next, err := extend(ctx, tx, fr.hashes, first, records)
	if err != nil {
		return store.LogAppend{}, nil, err
	}
	size := first + int64(len(records))
	cp, err := l.signCheckpoint(size, root)
	if err != nil {
		return store.LogAppend{}, nil, err
	}
	return store.LogAppend{
		Records:    records,
		FirstHash:  tlog.StoredHashCount(first),
		Hashes:     hashes,
		Checkpoint: cp,
	}, next, nil
}

// extend computes the stored hashes that records add to a tree of size n,
// the new tree's root hash and its frontier. Existing stored hashes come
// from known, else from tx.
func extend(ctx context.Context, tx store.LogTx, known map[int64]tlog.Hash, n int64, records [][]byte) ([][32]byte, tlog.Hash, map[int64]tlog.Hash, error) {
	base := tlog.StoredHashCount(n)
	var added []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		var miss []int64
		for i, x := range idx {
			if x >= base && x-base < int64(len(added)) {
				out[i] = added[x-base]
			} else if h, ok := known[x]; ok && x < base {
				out[i] = h
			} else {
				miss = append(miss, x)
			}
		}
		if len(miss) == 0 {
			return out, nil
		}
		if tx == nil {
			return nil, errNotCached
		}
		got, err := tx.ReadHashes(ctx, miss)
		if err != nil {
			return nil, err
		}
		j := 0
		for i, x := range idx {
			if x >= base && x-base < int64(len(added)) {
				continue
			}
			if _, ok := known[x]; ok && x < base {
				continue
			}
			out[i] = got[j]
			j++
		}
		return out, nil
	})
	for i, rec := range records {
		hs, err := tlog.StoredHashes(n+int64(i), rec, r)
		if err != nil {
			return nil, tlog.Hash{}, nil, treeErr(err)
		}
		added = append(added, hs...)
	}
	size := n + int64(len(records))
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return nil, tlog.Hash{}, nil, treeErr(err)
	}
	fidx := frontierIndexes(size)
	fh, err := r.ReadHashes(fidx)
	if err != nil {
		return nil, tlog.Hash{}, nil, treeErr(err)
	}
	next := make(map[int64]tlog.Hash, len(fidx))
	for i, x := range fidx {
		next[x] = fh[i]
	}
	out := make([][32]byte, len(added))
	for i := range added {
		out[i] = added[i]
	}
	return out, root, next, nil
}

func treeErr(err error) error {
	if errors.Is(err, errNotCached) {
		return err
	}
	return fmt.Errorf("tree hashes: %w", err)
}

// Checkpoint is a parsed C2SP tlog checkpoint body.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text formats the checkpoint body: origin, size and base64 root hash,
// one per line.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint body (extension lines are allowed
// and ignored).
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return c, errors.New("malformed checkpoint: want origin, size and root hash lines")
	}
	c.Origin = lines[0]
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || lines[1] != strconv.FormatInt(n, 10) {
		return c, fmt.Errorf("malformed checkpoint size %q", lines[1])
	}
	c.Size = n
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != len(c.Root) {
		return c, fmt.Errorf("malformed checkpoint root hash %q", lines[2])
	}
	copy(c.Root[:], h)
	return c, nil
}

func (l *Ledger) signCheckpoint(size int64, root tlog.Hash) ([]byte, error) {
	text := Checkpoint{Origin: l.origin, Size: size, Root: root}.Text()
	msg, err := note.Sign(&note.Note{Text: text}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint note with vkey and parses it.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return c, err
	}
	if c.Origin != v.Name() {
		// Our ledgers name the key after the origin; a different origin
		// means a checkpoint from another log.
		return c, fmt.Errorf("checkpoint origin %q does not match key name %q", c.Origin, v.Name())
	}
	return c, nil
}

// LatestCheckpoint returns the newest stored signed checkpoint, verified.
func (l *Ledger) LatestCheckpoint(ctx context.Context) (Checkpoint, []byte, error) {
	_, msg, err := l.st.LatestCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, err := OpenCheckpoint(msg, l.verifier)
	return c, msg, err
}

// Record returns the event at index idx.
func (l *Ledger) Record(ctx context.Context, idx int64) (Event, []byte, error) {
	data, err := l.st.Record(ctx, idx)
	if err != nil {
		return Event{}, nil, err
	}
	ev, err := ParseRecord(data)
	return ev, data, err
}

// Scan calls fn for every record up to the current head, in order.
func (l *Ledger) Scan(ctx context.Context, fn func(Event) error) error {
	h, err := l.st.Head(ctx)
	if err != nil {
		return err
	}
	return l.st.ScanRecords(ctx, 0, h.Size, func(idx int64, data []byte) error {
		ev, err := ParseRecord(data)
		if err != nil {
			return fmt.Errorf("record %d: %w", idx, err)
		}
		return fn(ev)
	})
}

package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"hash"
	"runtime"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// The verify pipeline: one reader fills pages of records from the store,
// GOMAXPROCS workers check the records of a page (leaf hash, decoding,
// canonical form), and the engine consumes the pages in the order they
// were read, so problems are found in index order exactly as a
// sequential pass would find them. Pages and their buffers are recycled.
const (
	pageRecords = 1024
	pageBytes   = 1 << 20
)

type recPage struct {
	idx  []int64
	off  []int // record i is buf[off[i]:off[i+1]]
	buf  []byte
	leaf []tlog.Hash
	seq  []int64
	bad  []string // why record i is invalid; "" if it is a valid record
	done chan struct{}
}

func newRecPage() *recPage {
	return &recPage{
		idx:  make([]int64, 0, pageRecords),
		off:  make([]int, 1, pageRecords+1),
		leaf: make([]tlog.Hash, 0, pageRecords),
		seq:  make([]int64, 0, pageRecords),
		bad:  make([]string, 0, pageRecords),
		done: make(chan struct{}, 1),
	}
}

func (p *recPage) add(idx int64, data []byte) {
	p.idx = append(p.idx, idx)
	p.buf = append(p.buf, data...)
	p.off = append(p.off, len(p.buf))
}

func (p *recPage) full() bool { return len(p.idx) >= pageRecords || len(p.buf) >= pageBytes }

func (p *recPage) reset() {
	p.idx, p.off, p.buf = p.idx[:0], p.off[:1], p.buf[:0]
	p.leaf, p.seq, p.bad = p.leaf[:0], p.seq[:0], p.bad[:0]
}

func (p *recPage) data(i int) []byte { return p.buf[p.off[i]:p.off[i+1]] }

// check fills in the results for every record of the page.
func (p *recPage) check(c *recordChecker) {
	for i := range p.idx {
		leaf, seq, bad := c.check(p.data(i))
		p.leaf = append(p.leaf, leaf)
		p.seq = append(p.seq, seq)
		p.bad = append(p.bad, bad)
	}
}

// recordChecker hashes and validates records, reusing its buffers. It
// accepts exactly the records ParseRecord accepts.
type recordChecker struct {
	h   hash.Hash
	ev  Event
	buf []byte
}

func newRecordChecker() *recordChecker {
	return &recordChecker{h: sha256.New()}
}

var zeroPrefix = []byte{0}

// check returns the record's RFC 6962 leaf hash and its sequence number,
// or why it is not a valid record.
func (c *recordChecker) check(data []byte) (leaf tlog.Hash, seq int64, bad string) {
	c.h.Reset()
	c.h.Write(zeroPrefix)
	c.h.Write(data)
	c.h.Sum(leaf[:0])
	if c.valid(data) {
		return leaf, c.ev.Seq, ""
	}
	// The fast path does not say why; ParseRecord does.
	if _, err := ParseRecord(data); err != nil {
		return leaf, 0, err.Error()
	}
	return leaf, 0, "record is not in canonical form"
}

// valid decodes data into c.ev and reports whether it is a canonical
// record. Unmarshal ignores unknown fields and accepts trailing space,
// but then the re-encoding cannot equal data, so this accepts the same
// records as ParseRecord (which uses a strict Decoder) at less cost.
func (c *recordChecker) valid(data []byte) bool {
	if len(data) > MaxRecordSize {
		return false
	}
	c.ev = Event{}
	if err := json.Unmarshal(data, &c.ev); err != nil {
		return false
	}
	ev := &c.ev
	ev.Time = ev.Time.UTC().Truncate(timePrecision)
	var err error
	c.buf, err = appendCanonical(c.buf[:0], ev)
	return err == nil && bytes.Equal(c.buf, data)
}

// recordScan calls fn for every record to verify, in index order.
type recordScan func(ctx context.Context, fn func(idx int64, data []byte) error) error

// run feeds every record from scan through the pipeline into e.record.
// It returns scan's error or ctx's.
func (e *verifyEngine) run(ctx context.Context, scan recordScan) error {
	ctx, cancel := context.WithCancel(ctx)
	workers := max(runtime.GOMAXPROCS(0), 1)
	pages := 2*workers + 2
	free := make(chan *recPage, pages)
	work := make(chan *recPage, pages)
	order := make(chan *recPage, pages)
	for range pages {
		free <- newRecPage()
	}
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // no goroutine outlives run
	var scanErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(work)
		var p *recPage
		send := func() error {
			// Never blocks: the channels hold every page there is.
			work <- p
			order <- p
			p = nil
			return nil
		}
		scanErr = scan(ctx, func(idx int64, data []byte) error {
			if p == nil {
				select {
				case p = <-free:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			p.add(idx, data)
			if p.full() {
				return send()
			}
			return nil
		})
		if scanErr == nil && p != nil {
			scanErr = send()
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newRecordChecker()
			for p := range work {
				if ctx.Err() == nil {
					p.check(c)
				}
				p.done <- struct{}{}
			}
		}()
	}
	for p := range order {
		<-p.done
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, idx := range p.idx {
			e.record(idx, p.leaf[i], p.seq[i], p.bad[i])
		}
		p.reset()
		free <- p
	}
	if scanErr != nil {
		return scanErr
	}
	return ctx.Err()
}

// hashStream hands the stored hashes, in index order, from the pipeline's
// reader (which reads each chunk's hashes just before the chunk's
// records, so one Verify never holds two connections at once) to the
// engine. The queue is unbounded, but the reader is never more than a
// chunk ahead of the records in flight.
type hashStream struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]tlog.Hash
	spare  [][]tlog.Hash
	closed bool
	gap    int64 // first index missing or malformed, or -1
	err    error

	// Reader side.
	want    int64
	page    []tlog.Hash
	stopped bool

	// Engine side.
	cur []tlog.Hash
	pos int64 // index of cur[0]
	eof bool
}

const hashPage = 8192

func newHashStream() *hashStream {
	s := &hashStream{gap: -1}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// read appends the stored hashes [start, end) to the stream. After a gap
// or a read error the stream ends and read does nothing.
func (s *hashStream) read(ctx context.Context, st Storage, start, end int64) {
	if s.stopped || start >= end {
		return
	}
	err := st.ScanHashes(ctx, start, end, func(idx int64, h []byte) error {
		if idx != s.want || len(h) != len(tlog.Hash{}) {
			return errStop
		}
		s.want++
		if s.page == nil {
			s.mu.Lock()
			if n := len(s.spare); n > 0 {
				s.page, s.spare = s.spare[n-1], s.spare[:n-1]
			}
			s.mu.Unlock()
			if s.page == nil {
				s.page = make([]tlog.Hash, 0, hashPage)
			}
		}
		s.page = append(s.page, tlog.Hash(h))
		if len(s.page) == cap(s.page) {
			s.flush()
		}
		return nil
	})
	if err == nil && s.want < end {
		err = errStop // rows missing at the end of the range
	}
	if err != nil {
		if err == errStop {
			s.gap = s.want
		} else {
			s.err = err
		}
		s.end()
		return
	}
	s.flush()
}

func (s *hashStream) flush() {
	if len(s.page) == 0 {
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, s.page)
	s.page = nil
	s.cond.Signal()
	s.mu.Unlock()
}

// end closes the stream (reader side); it is idempotent.
func (s *hashStream) end() {
	if s.stopped {
		return
	}
	s.flush()
	s.stopped = true
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// take returns the next page, or nil once the stream has ended.
func (s *hashStream) take() []tlog.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.spare = append(s.spare, s.cur[:0])
	}
	for len(s.queue) == 0 && !s.closed {
		s.cond.Wait()
	}
	if len(s.queue) == 0 {
		return nil
	}
	p := s.queue[0]
	s.queue = s.queue[1:]
	return p
}

// next returns stored hash x; x must not be below the last x asked for.
// ok is false if the hash is missing.
func (s *hashStream) next(x int64) (h tlog.Hash, ok bool) {
	for !s.eof && x >= s.pos+int64(len(s.cur)) {
		s.pos += int64(len(s.cur))
		s.cur = s.take()
		if s.cur == nil {
			s.eof = true
		}
	}
	if x < s.pos || x >= s.pos+int64(len(s.cur)) {
		return h, false
	}
	return s.cur[x-s.pos], true
}

// drain reads the rest of the ended stream and returns how many hashes
// are stored beyond the first asked ones, the first missing or malformed
// index (or -1), and the read error if any.
func (s *hashStream) drain(asked int64) (extra, gap int64, err error) {
	total := s.pos + int64(len(s.cur))
	for !s.eof {
		if s.cur = s.take(); s.cur == nil {
			s.eof = true
			break
		}
		total += int64(len(s.cur))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, 0, s.err
	}
	return max(total-asked, 0), s.gap, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// LogHead is the ledger's current state: its size (number of records),
// its origin line and the verifier key of its checkpoint signer.
type LogHead struct {
	Size   int64
	Origin string
	VKey   string
}

// LogAppend is one atomic extension of the log: records appended at the
// head, the RFC 6962 stored hashes they add (contiguous from
// FirstHash) and the signed checkpoint covering the new size.
type LogAppend struct {
	Records    [][]byte
	FirstHash  int64
	Hashes     [][32]byte
	Checkpoint []byte
}

// LogTx is the view an appender has inside its transaction, while it
// holds the log's write lock.
type LogTx interface {
	// Head is the locked head; no other appender can move it.
	Head() LogHead
	// ReadHashes returns stored hashes by index (see tlog.StoredHashIndex).
	ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
	// Append writes a, which must start at Head().Size, and advances the head.
	Append(ctx context.Context, a LogAppend) error
}

// InitLog creates the log head. It fails with ErrAlreadyInitialized if the
// log exists.
func (s *Store) InitLog(ctx context.Context, origin, vkey string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_head`).Scan(&n); err != nil {
			return fmt.Errorf("init ledger: %w", err)
		}
		if n > 0 {
			return ErrAlreadyInitialized
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO ledger_head (id, size, origin, vkey) VALUES (1, 0, $1, $2)`), origin, vkey)
		if err != nil {
			return fmt.Errorf("init ledger: %w", err)
		}
		return nil
	})
}

// Head returns the log head, or ErrNotInitialized.
func (s *Store) Head(ctx context.Context) (LogHead, error) {
	return s.head(ctx, s.db, false)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) head(ctx context.Context, q queryer, lock bool) (LogHead, error) {
	query := `SELECT size, origin, vkey FROM ledger_head WHERE id = 1`
	if lock && s.backend == Postgres {
		query += ` FOR UPDATE`
	}
	var h LogHead
	err := q.QueryRowContext(ctx, query).Scan(&h.Size, &h.Origin, &h.VKey)
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotInitialized
	}
	if err != nil {
		return h, fmt.Errorf("read ledger head: %w", err)
	}
	return h, nil
}

// UpdateLog runs fn inside a write transaction holding the log's lock
// (SELECT … FOR UPDATE on the head row on PostgreSQL; the database write
// lock on SQLite). Concurrent appenders in this or other processes queue;
// the log can never fork. If fn or the commit fails nothing is written.
func (s *Store) UpdateLog(ctx context.Context, fn func(ctx context.Context, tx LogTx) error) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		h, err := s.head(ctx, tx, true)
		if err != nil {
			return err
		}
		lt := &logTx{s: s, tx: tx, head: h}
		return fn(ctx, lt)
	})
}

type logTx struct {
	s       *Store
	tx      *sql.Tx
	head    LogHead
	written bool
}

func (t *logTx) Head() LogHead { return t.head }

func (t *logTx) ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	return t.s.readHashes(ctx, t.tx, indexes)
}

func (t *logTx) Append(ctx context.Context, a LogAppend) error {
	if t.written {
		return errors.New("store: one Append per transaction")
	}
	if err := checkAppend(a); err != nil {
		return err
	}
	s, tx := t.s, t.tx
	start := t.head.Size
	newSize := start + int64(len(a.Records))
	idx, hidx, hval := appendRows(start, a)
	if s.backend == Postgres {
		// One round trip; the head row is already locked by this transaction.
		var n int
		if err := tx.QueryRowContext(ctx, pgAppendIfHead, newSize, start, t.head.Origin, t.head.VKey,
			idx, a.Records, hidx, hval, a.Checkpoint).Scan(&n); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		if n != 1 {
			return ErrConflict
		}
	} else {
		if err := s.insertAppend(ctx, tx, newSize, idx, hidx, hval, a); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE ledger_head SET size = ?1 WHERE id = 1 AND size = ?2`, newSize, start)
		if err != nil {
			return fmt.Errorf("advance head: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrConflict
		}
	}
	t.written = true
	t.head.Size = newSize
	return nil
}

// AppendIfHead appends a at head.Size in one transaction if the log's head
// is still head (same size, origin and key), and reports whether it did;
// if another appender moved the head nothing is written. It lets an
// appender that knows the head (because it made the last append) skip
// reading it: on PostgreSQL the whole append is a single statement, one
// round trip; on SQLite one write transaction that updates the head first.
// Concurrent appenders never fork the log: the head row's conditional
// update serialises them, and the loser writes nothing.
func (s *Store) AppendIfHead(ctx context.Context, head LogHead, a LogAppend) (bool, error) {
	if err := checkAppend(a); err != nil {
		return false, err
	}
	start := head.Size
	newSize := start + int64(len(a.Records))
	idx, hidx, hval := appendRows(start, a)
	if s.backend == Postgres {
		var n int
		err := s.db.QueryRowContext(ctx, pgAppendIfHead, newSize, start, head.Origin, head.VKey,
			idx, a.Records, hidx, hval, a.Checkpoint).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("append: %w", err)
		}
		return n == 1, nil
	}
	st, err := s.appendStmts(ctx)
	if err != nil {
		return false, err
	}
	moved := false
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, st.head).ExecContext(ctx, newSize, start, head.Origin, head.VKey)
		if err != nil {
			return fmt.Errorf("advance head: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			moved = true
			return errMoved
		}
		if len(idx)+len(hidx) > maxRowStmts {
			return s.insertAppend(ctx, tx, newSize, idx, hidx, hval, a)
		}
		// A small append: prepared one-row inserts, no SQL to parse.
		if err := execRows(ctx, tx.StmtContext(ctx, st.record), idx, a.Records); err != nil {
			return fmt.Errorf("append records: %w", err)
		}
		if err := execRows(ctx, tx.StmtContext(ctx, st.hash), hidx, hval); err != nil {
			return fmt.Errorf("append hashes: %w", err)
		}
		if _, err := tx.StmtContext(ctx, st.checkpoint).ExecContext(ctx, newSize, a.Checkpoint); err != nil {
			return fmt.Errorf("append checkpoint: %w", err)
		}
		return nil
	})
	if moved {
		return false, nil
	}
	return err == nil, err
}

var errMoved = errors.New("store: log head moved")

// maxRowStmts is the largest append (records plus hashes) SQLite writes
// with prepared one-row statements rather than multi-row inserts.
const maxRowStmts = 16

// appendStmts are SQLite's prepared statements for AppendIfHead.
type appendStmts struct {
	head, record, hash, checkpoint *sql.Stmt
}

func (a *appendStmts) close() {
	for _, st := range []*sql.Stmt{a.head, a.record, a.hash, a.checkpoint} {
		if st != nil {
			st.Close()
		}
	}
}

// appendStmts prepares the statements once. It must not be called inside
// a transaction: preparing takes a connection from the pool.
func (s *Store) appendStmts(ctx context.Context) (*appendStmts, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts != nil {
		return s.stmts, nil
	}
	a := &appendStmts{}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&a.head, `UPDATE ledger_head SET size = ?1 WHERE id = 1 AND size = ?2 AND origin = ?3 AND vkey = ?4`},
		{&a.record, `INSERT INTO ledger_records (idx, data) VALUES (?1, ?2)`},
		{&a.hash, `INSERT INTO ledger_hashes (idx, hash) VALUES (?1, ?2)`},
		{&a.checkpoint, `INSERT INTO ledger_checkpoints (size, note) VALUES (?1, ?2)`},
	} {
		st, err := s.db.PrepareContext(ctx, p.q)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("prepare append: %w", err)
		}
		*p.st = st
	}
	s.stmts = a
	return a, nil
}

func execRows(ctx context.Context, st *sql.Stmt, keys []int64, vals [][]byte) error {
	for i := range keys {
		if _, err := st.ExecContext(ctx, keys[i], vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// pgAppendIfHead is AppendIfHead on PostgreSQL: the inserts happen only
// if the conditional update of the head row (which takes its row lock)
// succeeded. $1 new size, $2 old size, $3 origin, $4 key, $5/$6 records,
// $7/$8 hashes, $9 checkpoint.
const pgAppendIfHead = `WITH h AS (
	UPDATE ledger_head SET size = $1 WHERE id = 1 AND size = $2 AND origin = $3 AND vkey = $4 RETURNING size
), r AS (
	INSERT INTO ledger_records (idx, data) SELECT t.i, t.d FROM unnest($5::bigint[], $6::bytea[]) AS t(i, d) WHERE EXISTS (SELECT 1 FROM h)
), x AS (
	INSERT INTO ledger_hashes (idx, hash) SELECT t.i, t.d FROM unnest($7::bigint[], $8::bytea[]) AS t(i, d) WHERE EXISTS (SELECT 1 FROM h)
), c AS (
	INSERT INTO ledger_checkpoints (size, note) SELECT $1, $9::bytea WHERE EXISTS (SELECT 1 FROM h)
)
SELECT count(*) FROM h`

func checkAppend(a LogAppend) error {
	if len(a.Records) == 0 {
		return errors.New("store: empty append")
	}
	if len(a.Checkpoint) == 0 {
		return errors.New("store: append without a checkpoint")
	}
	return nil
}

// appendRows returns the record indexes, hash indexes and hash values of a
// at start.
func appendRows(start int64, a LogAppend) (idx, hidx []int64, hval [][]byte) {
	idx = make([]int64, len(a.Records))
	for i := range idx {
		idx[i] = start + int64(i)
	}
	hidx = make([]int64, len(a.Hashes))
	hval = make([][]byte, len(a.Hashes))
	for i := range a.Hashes {
		hidx[i] = a.FirstHash + int64(i)
		hval[i] = a.Hashes[i][:]
	}
	return idx, hidx, hval
}

// insertAppend writes a's records, hashes and checkpoint.
func (s *Store) insertAppend(ctx context.Context, tx *sql.Tx, newSize int64, idx, hidx []int64, hval [][]byte, a LogAppend) error {
	if err := s.insertPairs(ctx, tx, "ledger_records", "idx", "data", idx, a.Records); err != nil {
		return fmt.Errorf("append records: %w", err)
	}
	if err := s.insertPairs(ctx, tx, "ledger_hashes", "idx", "hash", hidx, hval); err != nil {
		return fmt.Errorf("append hashes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO ledger_checkpoints (size, note) VALUES ($1, $2)`), newSize, a.Checkpoint); err != nil {
		return fmt.Errorf("append checkpoint: %w", err)
	}
	return nil
}

// insertPairs bulk-inserts (key, value) rows: unnest arrays on
// PostgreSQL, multi-row VALUES on SQLite.
func (s *Store) insertPairs(ctx context.Context, tx *sql.Tx, table, kcol, vcol string, keys []int64, vals [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	if s.backend == Postgres {
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s, %s) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, table, kcol, vcol), keys, vals)
		return err
	}
	const chunk = 400
	for lo := 0; lo < len(keys); lo += chunk {
		hi := min(lo+chunk, len(keys))
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s (%s, %s) VALUES ", table, kcol, vcol)
		args := make([]any, 0, 2*(hi-lo))
		for i := lo; i < hi; i++ {
			if i > lo {
				b.WriteByte(',')
			}
			b.WriteString("(?,?)")
			args = append(args, keys[i], vals[i])
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// ReadHashes returns stored hashes by index. A missing index is an error.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	return s.readHashes(ctx, s.db, indexes)
}

func (s *Store) readHashes(ctx context.Context, q queryer, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	pos := make(map[int64][]int, len(indexes))
	for i, x := range indexes {
		pos[x] = append(pos[x], i)
	}
	var rows *sql.Rows
	var err error
	if s.backend == Postgres {
		rows, err = q.QueryContext(ctx, `SELECT idx, hash FROM ledger_hashes WHERE idx = ANY($1::bigint[])`, indexes)
	} else {
		var b strings.Builder
		b.WriteString("SELECT idx, hash FROM ledger_hashes WHERE idx IN (")
		args := make([]any, len(indexes))
		for i, x := range indexes {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
			args[i] = x
		}
		b.WriteByte(')')
		rows, err = q.QueryContext(ctx, b.String(), args...)
	}
	if err != nil {
		return nil, fmt.Errorf("read hashes: %w", err)
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var idx int64
		var h []byte
		if err := rows.Scan(&idx, &h); err != nil {
			return nil, fmt.Errorf("read hashes: %w", err)
		}
		if len(h) != 32 {
			return nil, fmt.Errorf("read hashes: stored hash %d has %d bytes", idx, len(h))
		}
		for _, i := range pos[idx] {
			copy(out[i][:], h)
			found++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read hashes: %w", err)
	}
	if found != len(indexes) {
		return nil, fmt.Errorf("read hashes: %w: %d of %d stored hashes missing", ErrNotFound, len(indexes)-found, len(indexes))
	}
	return out, nil
}

// ScanRecords calls fn for each stored record with start <= idx < end
// (end < 0: to the last row, including any beyond the head), in index
// order. The data slice is only valid during the call.
func (s *Store) ScanRecords(ctx context.Context, start, end int64, fn func(idx int64, data []byte) error) error {
	return s.scanPairs(ctx, `SELECT idx, data FROM ledger_records WHERE idx >= $1 AND idx < $2 ORDER BY idx`, start, end, fn)
}

// ScanHashes calls fn for each stored hash with start <= idx < end, in
// order. The hash slice is only valid during the call.
func (s *Store) ScanHashes(ctx context.Context, start, end int64, fn func(idx int64, hash []byte) error) error {
	return s.scanPairs(ctx, `SELECT idx, hash FROM ledger_hashes WHERE idx >= $1 AND idx < $2 ORDER BY idx`, start, end, fn)
}

// ScanCheckpoints calls fn for each stored checkpoint in size order. The
// note slice is only valid during the call.
func (s *Store) ScanCheckpoints(ctx context.Context, fn func(size int64, note []byte) error) error {
	return s.scanPairs(ctx, `SELECT size, note FROM ledger_checkpoints WHERE size >= $1 AND size < $2 ORDER BY size`, 0, -1, fn)
}

func (s *Store) scanPairs(ctx context.Context, query string, start, end int64, fn func(int64, []byte) error) error {
	if end < 0 {
		end = 1<<63 - 1
	}
	// Page through the table so no single query holds a huge result set.
	const page = 50000
	for start < end {
		rows, err := s.db.QueryContext(ctx, s.q(query+` LIMIT `+fmt.Sprint(page)), start, end)
		if err != nil {
			return err
		}
		n := 0
		last := start
		for rows.Next() {
			var k int64
			var v sql.RawBytes // valid until the next row: fn must copy
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			n++
			last = k
			if err := fn(k, v); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if n < page {
			return nil
		}
		start = last + 1
	}
	return nil
}

// Checkpoint returns the stored checkpoint for a tree size.
func (s *Store) Checkpoint(ctx context.Context, size int64) ([]byte, error) {
	var note []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT note FROM ledger_checkpoints WHERE size = $1`), size).Scan(&note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("checkpoint for size %d: %w", size, ErrNotFound)
	}
	return note, err
}

// LatestCheckpoint returns the checkpoint with the largest size.
func (s *Store) LatestCheckpoint(ctx context.Context) (int64, []byte, error) {
	var size int64
	var note []byte
	err := s.db.QueryRowContext(ctx, `SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("latest checkpoint: %w", ErrNotFound)
	}
	return size, note, err
}

// Record returns one stored record.
func (s *Store) Record(ctx context.Context, idx int64) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT data FROM ledger_records WHERE idx = $1`), idx).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("record %d: %w", idx, ErrNotFound)
	}
	return data, err
}

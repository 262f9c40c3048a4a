package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file holds the control plane's incidents, API tokens, UI sessions,
// settings and background jobs.

// Incident statuses.
const (
	IncidentOpen         = "open"
	IncidentAcknowledged = "acknowledged"
	IncidentResolved     = "resolved"
)

// Incident is something someone must handle: a gateway alert, a policy
// violation, a critical finding.
type Incident struct {
	ID       int64     `json:"id"`
	Title    string    `json:"title"`
	Severity int       `json:"-"`
	Status   string    `json:"status"`
	Assignee string    `json:"assignee"`
	Source   string    `json:"source"`
	Model    string    `json:"model"`
	Detail   string    `json:"detail"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// IncidentEvent is one entry in an incident's timeline.
type IncidentEvent struct {
	ID    int64     `json:"id"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	Kind  string    `json:"kind"` // opened, status, assigned, note
	Note  string    `json:"note"`
}

// IncidentFilter selects incidents, most severe and newest first.
type IncidentFilter struct {
	Status string // "" for all; "active" for open or acknowledged
	Model  string
	Limit  int
	Offset int
}

// IncidentChange is an update to an incident; nil fields are unchanged.
type IncidentChange struct {
	Status   *string
	Assignee *string
	Note     string
}

const incidentCols = `id, title, severity, status, assignee, source, model, detail, created, updated`

func scanIncident(sc interface{ Scan(...any) error }) (Incident, error) {
	var i Incident
	err := sc.Scan(&i.ID, &i.Title, &i.Severity, &i.Status, &i.Assignee, &i.Source, &i.Model, &i.Detail, dbTime{&i.Created}, dbTime{&i.Updated})
	return i, err
}

// OpenIncident records a new open incident and its first timeline entry.
func (s *Store) OpenIncident(ctx context.Context, in Incident, actor string) (Incident, error) {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		var id int64
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO incidents (title, severity, status, assignee, source, model, detail, created, updated)
			VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $7) RETURNING id`),
			in.Title, in.Severity, in.Assignee, in.Source, in.Model, in.Detail, now).Scan(&id); err != nil {
			return fmt.Errorf("insert incident: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO incident_events (incident_id, time, actor, kind, note) VALUES ($1, $2, $3, 'opened', $4)`),
			id, now, actor, in.Source); err != nil {
			return err
		}
		var err error
		in, err = scanIncident(tx.QueryRowContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE id = $1`), id))
		return err
	})
	return in, err
}

// Incident returns one incident and its timeline.
func (s *Store) Incident(ctx context.Context, id int64) (Incident, []IncidentEvent, error) {
	in, err := scanIncident(s.db.QueryRowContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, nil, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return in, nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, time, actor, kind, note FROM incident_events WHERE incident_id = $1 ORDER BY id LIMIT 1000`), id)
	if err != nil {
		return in, nil, err
	}
	defer rows.Close()
	evs := []IncidentEvent{}
	for rows.Next() {
		var e IncidentEvent
		if err := rows.Scan(&e.ID, dbTime{&e.Time}, &e.Actor, &e.Kind, &e.Note); err != nil {
			return in, nil, err
		}
		evs = append(evs, e)
	}
	return in, evs, rows.Err()
}

// ListIncidents returns one page of incidents and the total matching.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, int, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	switch f.Status {
	case "":
	case "active":
		where = append(where, "status <> 'resolved'")
	default:
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Model != "" {
		where = append(where, "model = "+arg(f.Model))
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM incidents`+w), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count incidents: %w", err)
	}
	q := `SELECT ` + incidentCols + ` FROM incidents` + w + ` ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END, severity DESC, id DESC LIMIT ` +
		arg(clampLimit(f.Limit)) + ` OFFSET ` + arg(max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []Incident{}
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, in)
	}
	return out, total, rows.Err()
}

// UpdateIncident applies a change and records it in the timeline.
func (s *Store) UpdateIncident(ctx context.Context, id int64, c IncidentChange, actor string) (Incident, error) {
	var in Incident
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		cur, err := scanIncident(tx.QueryRowContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE id = $1`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("incident %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		event := func(kind, note string) error {
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO incident_events (incident_id, time, actor, kind, note) VALUES ($1, $2, $3, $4, $5)`), id, now, actor, kind, note)
			return err
		}
		if c.Status != nil && *c.Status != cur.Status {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET status = $1, updated = $2 WHERE id = $3`), *c.Status, now, id); err != nil {
				return err
			}
			if err := event("status", cur.Status+" → "+*c.Status); err != nil {
				return err
			}
		}
		if c.Assignee != nil && *c.Assignee != cur.Assignee {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET assignee = $1, updated = $2 WHERE id = $3`), *c.Assignee, now, id); err != nil {
				return err
			}
			if err := event("assigned", *c.Assignee); err != nil {
				return err
			}
		}
		if strings.TrimSpace(c.Note) != "" {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE incidents SET updated = $1 WHERE id = $2`), now, id); err != nil {
				return err
			}
			if err := event("note", c.Note); err != nil {
				return err
			}
		}
		in, err = scanIncident(tx.QueryRowContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE id = $1`), id))
		return err
	})
	return in, err
}

// Token is an API token. Only the SHA-256 of the secret is stored.
type Token struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	Role     string     `json:"role"`
	Hash     []byte     `json:"-"`
	Created  time.Time  `json:"created"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

const tokenCols = `id, name, role, hash, created, revoked, last_used`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var revoked, used time.Time
	err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, dbTime{&t.Created}, dbTime{&revoked}, dbTime{&used})
	if !revoked.IsZero() {
		t.Revoked = &revoked
	}
	if !used.IsZero() {
		t.LastUsed = &used
	}
	return t, err
}

// CreateToken stores a token hash.
func (s *Store) CreateToken(ctx context.Context, name, role string, hash []byte) (Token, error) {
	var t Token
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, s.q(`INSERT INTO api_tokens (name, role, hash, created) VALUES ($1, $2, $3, $4) RETURNING `+tokenCols),
			name, role, hash, s.now()))
		return err
	})
	if err != nil {
		return t, fmt.Errorf("create token: %w", err)
	}
	return t, nil
}

// CreateFirstToken stores a token only if no token exists yet, and
// reports whether it did; concurrent first starts create one token.
func (s *Store) CreateFirstToken(ctx context.Context, name, role string, hash []byte) (bool, error) {
	created := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if s.backend == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7346010002)`); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO api_tokens (name, role, hash, created) VALUES ($1, $2, $3, $4)`), name, role, hash, s.now())
		created = err == nil
		return err
	})
	return created, err
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// TokenByID returns one token.
func (s *Store) TokenByID(ctx context.Context, id int64) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %d: %w", id, ErrNotFound)
	}
	return t, err
}

// TouchToken records that a token was used (at most once a minute).
func (s *Store) TouchToken(ctx context.Context, id int64) error {
	cut := s.timeArg(time.Now().Add(-time.Minute))
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE api_tokens SET last_used = $1 WHERE id = $2 AND (last_used IS NULL OR last_used < $3)`), s.now(), id, cut)
	return err
}

// ListTokens lists every token, newest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id DESC LIMIT 1000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token and ends its sessions.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE api_tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL`), s.now(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := s.tokenInTx(ctx, tx, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_id = $1`), id)
		return err
	})
}

func (s *Store) tokenInTx(ctx context.Context, tx *sql.Tx, id int64) (Token, error) {
	t, err := scanToken(tx.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %d: %w", id, ErrNotFound)
	}
	return t, err
}

// Session is a logged-in browser.
type Session struct {
	TokenID int64
	CSRF    string
	Expires time.Time
}

// CreateSession stores a session under the hash of its cookie value.
func (s *Store) CreateSession(ctx context.Context, hash []byte, sess Session) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires < $1`), s.now()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO sessions (hash, token_id, csrf, expires) VALUES ($1, $2, $3, $4)`),
			hash, sess.TokenID, sess.CSRF, s.timeArg(sess.Expires))
		return err
	})
}

// SessionByHash returns a live session and its (unrevoked) token.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (Session, Token, error) {
	var sess Session
	row := s.db.QueryRowContext(ctx, s.q(`SELECT s.token_id, s.csrf, s.expires, t.id, t.name, t.role, t.hash, t.created, t.revoked, t.last_used
		FROM sessions s JOIN api_tokens t ON t.id = s.token_id WHERE s.hash = $1 AND s.expires > $2 AND t.revoked IS NULL`), hash, s.now())
	var t Token
	var revoked, used time.Time
	err := row.Scan(&sess.TokenID, &sess.CSRF, dbTime{&sess.Expires}, &t.ID, &t.Name, &t.Role, &t.Hash, dbTime{&t.Created}, dbTime{&revoked}, dbTime{&used})
	if errors.Is(err, sql.ErrNoRows) {
		return sess, t, ErrNotFound
	}
	return sess, t, err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE hash = $1`), hash)
		return err
	})
}

// Setting returns a stored setting ("" when unset).
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE key = $1`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SwapSetting sets key to value and, if the value changed, runs onChange
// in the same transaction (so that of several replicas starting together
// exactly one reacts to a change). It reports whether the value changed.
func (s *Store) SwapSetting(ctx context.Context, key, value string, onChange func(ctx context.Context, enqueue func(kind, payload string) error) error) (bool, error) {
	changed := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE settings.value <> excluded.value RETURNING key`), key, value)
		if err != nil {
			return err
		}
		changed = rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !changed || onChange == nil {
			return nil
		}
		return onChange(ctx, func(kind, payload string) error { return s.enqueueTx(ctx, tx, kind, payload) })
	})
	return changed, err
}

// Job is a unit of background work.
type Job struct {
	ID       int64
	Kind     string
	Payload  string
	Attempts int
}

// JobCounts counts jobs by state.
type JobCounts struct {
	Queued, Running, Done, Failed int
}

func (s *Store) enqueueTx(ctx context.Context, tx *sql.Tx, kind, payload string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO jobs (kind, payload, run_after, created) VALUES ($1, $2, $3, $3)`), kind, payload, s.now())
	return err
}

// Enqueue adds a job.
func (s *Store) Enqueue(ctx context.Context, kind, payload string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error { return s.enqueueTx(ctx, tx, kind, payload) })
}

// ClaimJob takes the oldest runnable job for worker, or returns
// ErrNotFound. On PostgreSQL concurrent claimers skip each other's rows
// (FOR UPDATE SKIP LOCKED), so replicas share one queue; jobs running for
// longer than stale are taken back.
func (s *Store) ClaimJob(ctx context.Context, worker string, stale time.Duration) (Job, error) {
	var j Job
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		lock := ""
		if s.backend == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, kind, payload, attempts FROM jobs
			WHERE (state = 'queued' AND run_after <= $1) OR (state = 'running' AND locked_at < $2)
			ORDER BY id LIMIT 1`+lock), s.timeArg(now), s.timeArg(now.Add(-stale))).Scan(&j.ID, &j.Kind, &j.Payload, &j.Attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		j.Attempts++
		_, err = tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'running', locked_by = $1, locked_at = $2, attempts = $3 WHERE id = $4`),
			worker, s.timeArg(now), j.Attempts, j.ID)
		return err
	})
	return j, err
}

// FinishJob marks a job done, or on failure requeues it after retry (or
// marks it failed when retry is zero).
func (s *Store) FinishJob(ctx context.Context, id int64, jobErr error, retry time.Duration) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		switch {
		case jobErr == nil:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'done', error = '' WHERE id = $1`), id)
		case retry > 0:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'queued', error = $1, run_after = $2 WHERE id = $3`),
				jobErr.Error(), s.timeArg(time.Now().Add(retry)), id)
		default:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'failed', error = $1 WHERE id = $2`), jobErr.Error(), id)
		}
		return err
	})
}

// CountJobs counts jobs by state.
func (s *Store) CountJobs(ctx context.Context) (JobCounts, error) {
	var c JobCounts
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return c, err
		}
		switch st {
		case "queued":
			c.Queued = n
		case "running":
			c.Running = n
		case "done":
			c.Done = n
		case "failed":
			c.Failed = n
		}
	}
	return c, rows.Err()
}

// TimelineEntry is one indexed ledger record about a subject.
type TimelineEntry struct {
	Seq     int64     `json:"seq"`
	Subject string    `json:"subject"`
	Version string    `json:"version,omitempty"`
	Action  string    `json:"action"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason,omitempty"`
	Time    time.Time `json:"time"`
}

// IndexedLedgerSize is one past the highest indexed ledger record.
func (s *Store) IndexedLedgerSize(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM ledger_index`).Scan(&n)
	if !n.Valid {
		return 0, err
	}
	return n.Int64 + 1, err
}

// IndexLedger adds entries to the timeline index (existing seqs are kept).
func (s *Store) IndexLedger(ctx context.Context, es []TimelineEntry) error {
	if len(es) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, e := range es {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO ledger_index (seq, subject, version, action, actor, reason, time) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (seq) DO NOTHING`),
				e.Seq, e.Subject, e.Version, e.Action, e.Actor, e.Reason, s.timeArg(e.Time)); err != nil {
				return fmt.Errorf("index ledger: %w", err)
			}
		}
		return nil
	})
}

// Timeline returns the newest indexed ledger records about subject.
func (s *Store) Timeline(ctx context.Context, subject string, limit int) ([]TimelineEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, subject, version, action, actor, reason, time FROM ledger_index WHERE subject = $1 ORDER BY seq DESC LIMIT $2`), subject, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TimelineEntry{}
	for rows.Next() {
		var e TimelineEntry
		if err := rows.Scan(&e.Seq, &e.Subject, &e.Version, &e.Action, &e.Actor, &e.Reason, dbTime{&e.Time}); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Package store is mlsec's persistence layer: one Store type over two real
// backends, SQLite (pure Go, the embedded default) and PostgreSQL (for
// several processes and scale), with embedded, versioned migrations.
//
// Callers see methods and small value types, never SQL. Consumers declare
// the narrow interface they need (the ledger's is ledger.Storage) and a
// *Store satisfies it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Backend names a storage engine.
type Backend string

// The supported backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Sentinel errors.
var (
	ErrNotFound           = errors.New("not found")
	ErrNotInitialized     = errors.New("ledger not initialised (run 'mlsec ledger init')")
	ErrAlreadyInitialized = errors.New("ledger already initialised")
	ErrConflict           = errors.New("conflicting concurrent update")
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	backend Backend
	where   string // path or redacted URL, for messages

	// writeMu serialises writers inside one process on SQLite, where a
	// second writer would otherwise spin on SQLITE_BUSY; other processes
	// are excluded by BEGIN IMMEDIATE and the busy timeout.
	writeMu sync.Mutex

	stmtMu sync.Mutex
	stmts  *appendStmts // SQLite append statements, prepared on first use
}

// Option configures Open.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	maxConns    int
}

// WithBusyTimeout sets how long a SQLite writer waits for another
// process's write transaction (default 30s).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithMaxConns caps the connection pool (default: 8 for PostgreSQL, 4 for SQLite).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// IsPostgresDSN reports whether dsn names a PostgreSQL database.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// DefaultPath is the embedded database used when no --db is given:
// mlsec/mlsec.db under the user data directory ($XDG_DATA_HOME or
// ~/.local/share on Unix, ~/Library/Application Support on macOS,
// %LocalAppData% on Windows).
func DefaultPath() (string, error) {
	dir, err := UserDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mlsec", "mlsec.db"), nil
}

// UserDataDir returns the per-user data directory.
func UserDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && runtime.GOOS != "windows" {
		return d, nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return d, nil
		}
		return os.UserConfigDir()
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Application Support"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locate user data dir: %w", err)
	}
	return filepath.Join(home, ".local", "share"), nil
}

// Open opens (creating if needed) the database named by dsn and applies
// pending migrations. dsn is a postgres:// URL, a SQLite file path, or ""
// for DefaultPath.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{}
	var err error
	if IsPostgresDSN(dsn) {
		s.backend = Postgres
		s.where = redact(dsn)
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", s.where, err)
		}
		n := o.maxConns
		if n <= 0 {
			n = 8
		}
		s.db.SetMaxOpenConns(n)
		s.db.SetMaxIdleConns(n)
	} else {
		s.backend = SQLite
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" {
			if path, err = DefaultPath(); err != nil {
				return nil, err
			}
		}
		s.where = path
		if path != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, fmt.Errorf("open %s: %w", path, err)
			}
		}
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		s.db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		n := o.maxConns
		if n <= 0 {
			n = 4
		}
		s.db.SetMaxOpenConns(n)
		s.db.SetMaxIdleConns(n)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open %s: %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("migrate %s: %w", s.where, err)
	}
	return s, nil
}

// Backend reports which engine the store uses.
func (s *Store) Backend() Backend { return s.backend }

// String names the database (PostgreSQL passwords redacted).
func (s *Store) String() string { return string(s.backend) + ":" + s.where }

// Close releases the database.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	if s.stmts != nil {
		s.stmts.close()
		s.stmts = nil
	}
	s.stmtMu.Unlock()
	return s.db.Close()
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// q rewrites PostgreSQL-style $N placeholders for SQLite (?N).
func (s *Store) q(query string) string {
	if s.backend == SQLite {
		return strings.ReplaceAll(query, "$", "?")
	}
	return query
}

// writeTx runs fn in a write transaction. On SQLite the transaction is
// BEGIN IMMEDIATE (via _txlock) so it holds the write lock from the start.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.backend == SQLite {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

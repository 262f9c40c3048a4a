package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one embedded schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations for a backend in order. Files
// are migrations/<backend>/NNNN_name.sql; versions must be dense from 1.
func Migrations(b Backend) ([]Migration, error) {
	dir := path.Join("migrations", string(b))
	ents, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: rest, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions not dense: want %d, have %d", i+1, m.Version)
		}
	}
	return ms, nil
}

// SchemaVersion reports the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// migrate applies pending migrations, each in its own transaction. Several
// processes may start at once: PostgreSQL serialises them with an advisory
// lock, SQLite with BEGIN IMMEDIATE.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations(s.backend)
	if err != nil {
		return err
	}
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)`
	if s.backend == Postgres {
		// CREATE TABLE IF NOT EXISTS races between sessions on PostgreSQL;
		// take the lock first.
		return s.writeTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7346010001)`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return err
			}
			return s.applyMigrations(ctx, tx, ms)
		})
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, create); err != nil {
			return err
		}
		return s.applyMigrations(ctx, tx, ms)
	})
}

func (s *Store) applyMigrations(ctx context.Context, tx *sql.Tx, ms []Migration) error {
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&cur); err != nil {
		return err
	}
	if int(cur.Int64) > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this mlsec (%d)", cur.Int64, len(ms))
	}
	for _, m := range ms[cur.Int64:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`),
			m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// Package storetest opens real stores for tests: a fresh SQLite file, and
// a fresh schema in the PostgreSQL test database (MLSEC_TEST_POSTGRES,
// default postgres://postgres@127.0.0.1:5432/test), so parallel test
// packages never see each other's tables.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/store"
)

// DefaultPostgres is the PostgreSQL server tests use.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the server URL tests use.
func PostgresURL() string {
	if u := os.Getenv("MLSEC_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultPostgres
}

// Backends lists the backends every store-backed suite runs against.
var Backends = []store.Backend{store.SQLite, store.Postgres}

// DSN returns a data source name for a fresh, empty database of the given
// backend, removed when the test ends.
func DSN(tb testing.TB, b store.Backend) string {
	tb.Helper()
	switch b {
	case store.SQLite:
		return filepath.Join(tb.TempDir(), "mlsec.db")
	case store.Postgres:
		return NewSchema(tb)
	}
	tb.Fatalf("unknown backend %q", b)
	return ""
}

// NewSchema creates a uniquely named schema in the PostgreSQL test
// database, drops it at cleanup and returns a URL whose search_path
// selects it.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	base := PostgresURL()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema := "t_" + hex.EncodeToString(rnd[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("postgres at %s is required for this test (start it with .ci/services): %v", base, err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("postgres url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a fresh store of backend b, closed when the test ends.
func Open(tb testing.TB, b store.Backend, opts ...store.Option) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), DSN(tb, b), opts...)
	if err != nil {
		tb.Fatalf("open %s store: %v", b, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// RawDB opens the database behind dsn directly, bypassing the store, for
// tests that tamper with rows.
func RawDB(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	var db *sql.DB
	var err error
	if store.IsPostgresDSN(dsn) {
		db, err = sql.Open("pgx", dsn)
	} else {
		db, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Rebind rewrites $N placeholders for the backend of dsn.
func Rebind(dsn, query string) string {
	if store.IsPostgresDSN(dsn) {
		return query
	}
	return strings.ReplaceAll(query, "$", "?")
}

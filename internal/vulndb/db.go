package vulndb

import (
	"archive/zip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// SchemaVersion is the version of the database layout; a file with another
// version must be re-imported.
const SchemaVersion = "1"

// EnvPath names the environment variable that overrides the default
// database location (the CLI maps it to --vulndb).
const EnvPath = "MLSEC_VULNDB"

// ErrNotImported means the database file does not exist or holds no data:
// run `mlsec db import` first.
var ErrNotImported = errors.New("vulnerability database not imported (run 'mlsec db import PATH')")

// DefaultPath returns the default database file: $XDG_DATA_HOME/mlsec/
// vulndb.sqlite, else the platform's user data directory.
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "mlsec", "vulndb.sqlite"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locate user data directory: %w", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "mlsec", "vulndb.sqlite"), nil
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "mlsec", "vulndb.sqlite"), nil
		}
	}
	return filepath.Join(home, ".local", "share", "mlsec", "vulndb.sqlite"), nil
}

// DB is an open vulnerability database.
type DB struct {
	sql      *sql.DB
	path     string
	readOnly bool
}

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS advisories (
	id        TEXT PRIMARY KEY,
	modified  TEXT NOT NULL,
	withdrawn INTEGER NOT NULL DEFAULT 0,
	malicious INTEGER NOT NULL DEFAULT 0,
	data      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
	ecosystem   TEXT NOT NULL,
	name        TEXT NOT NULL,
	advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_adv ON affected (advisory_id);
`

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(DELETE)")
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database for writing.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	s, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
	}
	s.SetMaxOpenConns(1)
	if _, err := s.ExecContext(ctx, schema); err != nil {
		s.Close()
		return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
	}
	db := &DB{sql: s, path: path}
	if err := db.checkSchema(ctx, true); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens an existing database for lookups. A missing file is
// ErrNotImported.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNotImported, path)
		}
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	s, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
	}
	s.SetMaxOpenConns(runtime.GOMAXPROCS(0))
	db := &DB{sql: s, path: path, readOnly: true}
	if err := db.checkSchema(ctx, false); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) checkSchema(ctx context.Context, init bool) error {
	var v string
	err := db.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows) && init:
		_, err = db.sql.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('schema_version', ?)`, SchemaVersion)
		if err != nil {
			return fmt.Errorf("vulndb: %s: %w", db.path, err)
		}
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s holds no data", ErrNotImported, db.path)
	case err != nil:
		if strings.Contains(err.Error(), "no such table") {
			return fmt.Errorf("%w: %s is not an mlsec vulnerability database", ErrNotImported, db.path)
		}
		return fmt.Errorf("vulndb: %s: %w", db.path, err)
	case v != SchemaVersion:
		return fmt.Errorf("vulndb: %s has schema version %s, this mlsec needs %s: re-import with --replace", db.path, v, SchemaVersion)
	}
	return nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// ImportOptions control Import.
type ImportOptions struct {
	// Replace empties the database first (in the same transaction).
	Replace bool
	// Ecosystems keeps only advisories affecting these ecosystems
	// (default: PyPI only).
	Ecosystems []string
	// Progress, if set, is called every 1,000 records.
	Progress func(records int)
}

// ImportStats says what an import did.
type ImportStats struct {
	Source    string
	Records   int // records read
	Added     int // new advisories
	Updated   int // replaced by a newer record
	Unchanged int // same or older than what the database had
	Skipped   int // not affecting a kept ecosystem
	Invalid   int // malformed records (skipped)
	// Errors lists the first malformed records.
	Errors   []string
	Duration time.Duration
}

const maxReportedErrors = 20

// Import reads an osv.dev ecosystem export (a zip of OSV JSON files such as
// PyPI's all.zip), a directory tree of OSV JSON or YAML files, or one such
// file, and merges it into the database in one transaction: newer records
// (by "modified") replace older ones with the same ID; the database is
// unchanged if the import fails. Zip members are read one at a time.
func (db *DB) Import(ctx context.Context, src string, opts ImportOptions) (ImportStats, error) {
	start := time.Now()
	st := ImportStats{Source: src}
	if db.readOnly {
		return st, errors.New("vulndb: database opened read-only")
	}
	eco := map[string]bool{}
	for _, e := range opts.Ecosystems {
		eco[e] = true
	}
	if len(eco) == 0 {
		eco[EcosystemPyPI] = true
	}
	info, err := os.Stat(src)
	if err != nil {
		return st, fmt.Errorf("vulndb: import: %w", err)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("vulndb: import: %w", err)
	}
	defer tx.Rollback()
	w, err := newWriter(ctx, tx)
	if err != nil {
		return st, err
	}
	defer w.close()
	if opts.Replace {
		for _, q := range []string{`DELETE FROM affected`, `DELETE FROM advisories`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return st, fmt.Errorf("vulndb: import: %w", err)
			}
		}
	}
	handle := func(name string, b []byte) error {
		st.Records++
		if opts.Progress != nil && st.Records%1000 == 0 {
			opts.Progress(st.Records)
		}
		if isYAML(name) {
			b, err = yamlToJSON(b)
			if err != nil {
				st.invalid(name, err)
				return nil
			}
		}
		a, err := ParseRecord(b)
		if err != nil {
			st.invalid(name, err)
			return nil
		}
		keep := false
		for _, af := range a.Affected {
			keep = keep || eco[af.Ecosystem]
		}
		if !keep {
			st.Skipped++
			return nil
		}
		res, err := w.upsert(ctx, a, eco)
		if err != nil {
			return fmt.Errorf("vulndb: import %s: %w", name, err)
		}
		switch res {
		case added:
			st.Added++
		case updated:
			st.Updated++
		default:
			st.Unchanged++
		}
		return nil
	}
	switch {
	case info.IsDir():
		err = walkDir(ctx, src, handle)
	case strings.EqualFold(filepath.Ext(src), ".zip"):
		err = walkZip(ctx, src, handle)
	default:
		var b []byte
		b, err = readBounded(src)
		if err == nil {
			err = handle(filepath.Base(src), b)
		}
	}
	if err != nil {
		return st, err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	abs, _ := filepath.Abs(src)
	for k, v := range map[string]string{"imported_at": now, "source": abs} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return st, fmt.Errorf("vulndb: import: %w", err)
		}
	}
	w.close()
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("vulndb: import: commit: %w", err)
	}
	st.Duration = time.Since(start)
	return st, nil
}

func (st *ImportStats) invalid(name string, err error) {
	st.Invalid++
	if len(st.Errors) < maxReportedErrors {
		st.Errors = append(st.Errors, fmt.Sprintf("%s: %v", name, err))
	}
}

func isYAML(name string) bool {
	e := strings.ToLower(filepath.Ext(name))
	return e == ".yaml" || e == ".yml"
}

func isRecordName(name string) bool {
	e := strings.ToLower(filepath.Ext(name))
	return e == ".json" || e == ".yaml" || e == ".yml"
}

// yamlToJSON converts a YAML OSV record (as pypa/advisory-database keeps
// them) to JSON, keeping scalars as written.
func yamlToJSON(b []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("%w: yaml: %v", ErrInvalidRecord, err)
	}
	v, err := yamlValue(&n, 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > 64 {
		return nil, fmt.Errorf("%w: yaml nested too deeply", ErrInvalidRecord)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.AliasNode:
		return nil, fmt.Errorf("%w: yaml aliases are not allowed", ErrInvalidRecord)
	default:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	}
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vulndb: import: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("vulndb: import %s: %w", path, err)
	}
	return b, nil
}

func walkDir(ctx context.Context, root string, handle func(string, []byte) error) error {
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if d.Type().IsRegular() && isRecordName(p) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vulndb: import: %w", err)
	}
	sort.Strings(names)
	for _, p := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := readBounded(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if err := handle(rel, b); err != nil {
			return err
		}
	}
	return nil
}

// walkZip reads the members of an OSV export one at a time.
func walkZip(ctx context.Context, path string, handle func(string, []byte) error) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("vulndb: import %s: %w", path, err)
	}
	defer zr.Close()
	buf := make([]byte, 0, 64<<10)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() || !isRecordName(f.Name) {
			continue
		}
		if f.UncompressedSize64 > maxRecordSize {
			return fmt.Errorf("vulndb: import %s: member %s: %d bytes exceeds the %d-byte record limit", path, f.Name, f.UncompressedSize64, maxRecordSize)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("vulndb: import %s: member %s: %w", path, f.Name, err)
		}
		buf = buf[:0]
		b, err := readAllInto(buf, io.LimitReader(rc, maxRecordSize+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("vulndb: import %s: member %s: %w", path, f.Name, err)
		}
		buf = b
		if err := handle(f.Name, b); err != nil {
			return err
		}
	}
	return nil
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

type upsertResult int

const (
	unchanged upsertResult = iota
	added
	updated
)

type writer struct {
	get, putAdv, delAff, putAff *sql.Stmt
}

func newWriter(ctx context.Context, tx *sql.Tx) (*writer, error) {
	w := &writer{}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	w.get = prep(`SELECT modified FROM advisories WHERE id = ?`)
	w.putAdv = prep(`INSERT INTO advisories (id, modified, withdrawn, malicious, data) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn,
		malicious = excluded.malicious, data = excluded.data`)
	w.delAff = prep(`DELETE FROM affected WHERE advisory_id = ?`)
	w.putAff = prep(`INSERT INTO affected (ecosystem, name, advisory_id) VALUES (?, ?, ?)`)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("vulndb: import: %w", err)
	}
	return w, nil
}

func (w *writer) close() {
	for _, s := range []*sql.Stmt{w.get, w.putAdv, w.delAff, w.putAff} {
		if s != nil {
			s.Close()
		}
	}
}

func (w *writer) upsert(ctx context.Context, a *Advisory, eco map[string]bool) (upsertResult, error) {
	mod := a.Modified.Format(time.RFC3339Nano)
	var old string
	res := added
	switch err := w.get.QueryRowContext(ctx, a.ID).Scan(&old); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, err
	default:
		ot, _ := time.Parse(time.RFC3339Nano, old)
		if !a.Modified.After(ot) {
			return unchanged, nil
		}
		res = updated
		if _, err := w.delAff.ExecContext(ctx, a.ID); err != nil {
			return 0, err
		}
	}
	// Keep only the kept ecosystems' affected entries.
	kept := a.Affected[:0:0]
	for _, af := range a.Affected {
		if eco[af.Ecosystem] {
			kept = append(kept, af)
		}
	}
	a.Affected = kept
	data, err := json.Marshal(a)
	if err != nil {
		return 0, err
	}
	if _, err := w.putAdv.ExecContext(ctx, a.ID, mod, a.IsWithdrawn(), a.IsMalicious(), data); err != nil {
		return 0, err
	}
	seen := map[[2]string]bool{}
	for _, af := range a.Affected {
		k := [2]string{af.Ecosystem, af.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, err := w.putAff.ExecContext(ctx, af.Ecosystem, af.Name, a.ID); err != nil {
			return 0, err
		}
	}
	return res, nil
}

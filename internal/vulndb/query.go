package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/mlsec/mlsec/internal/pep440"
)

// Lookup returns the advisories that name a PyPI package (any version),
// withdrawn ones excluded, sorted by ID. name is normalised here.
func (db *DB) Lookup(ctx context.Context, name string) ([]*Advisory, error) {
	name = pep440.NormalizeName(name)
	rows, err := db.sql.QueryContext(ctx, `SELECT a.data FROM affected f JOIN advisories a ON a.id = f.advisory_id
		WHERE f.ecosystem = ? AND f.name = ? AND a.withdrawn = 0 ORDER BY a.id`, EcosystemPyPI, name)
	if err != nil {
		return nil, fmt.Errorf("vulndb: lookup %s: %w", name, err)
	}
	defer rows.Close()
	var out []*Advisory
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("vulndb: lookup %s: %w", name, err)
		}
		a := &Advisory{}
		if err := json.Unmarshal(b, a); err != nil {
			return nil, fmt.Errorf("vulndb: lookup %s: corrupt record: %w", name, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulndb: lookup %s: %w", name, err)
	}
	return out, nil
}

// Status describes the database.
type Status struct {
	Path          string    `json:"path"`
	SizeBytes     int64     `json:"size_bytes"`
	SchemaVersion string    `json:"schema_version"`
	ImportedAt    time.Time `json:"imported_at,omitzero"`
	Source        string    `json:"source,omitempty"`
	Advisories    int       `json:"advisories"`
	Withdrawn     int       `json:"withdrawn"`
	Malicious     int       `json:"malicious"`
	Packages      int       `json:"packages"`
	// NewestModified is the most recent "modified" time of any record:
	// the age of the data itself.
	NewestModified time.Time `json:"newest_modified,omitzero"`
}

// Status reports counts and ages.
func (db *DB) Status(ctx context.Context) (Status, error) {
	st := Status{Path: db.path}
	if fi, err := os.Stat(db.path); err == nil {
		st.SizeBytes = fi.Size()
	}
	meta := map[string]string{}
	rows, err := db.sql.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return st, fmt.Errorf("vulndb: status: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return st, fmt.Errorf("vulndb: status: %w", err)
		}
		meta[k] = v
	}
	rows.Close()
	st.SchemaVersion = meta["schema_version"]
	st.Source = meta["source"]
	st.ImportedAt, _ = time.Parse(time.RFC3339, meta["imported_at"])
	var newest sql.NullString
	err = db.sql.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(withdrawn), 0), COALESCE(SUM(malicious), 0), MAX(modified) FROM advisories`).
		Scan(&st.Advisories, &st.Withdrawn, &st.Malicious, &newest)
	if err != nil {
		return st, fmt.Errorf("vulndb: status: %w", err)
	}
	if newest.Valid {
		st.NewestModified, _ = time.Parse(time.RFC3339Nano, newest.String)
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT DISTINCT ecosystem, name FROM affected)`).Scan(&st.Packages); err != nil {
		return st, fmt.Errorf("vulndb: status: %w", err)
	}
	return st, nil
}

// Group is a set of advisories that describe one vulnerability: records
// linked by aliases (a PYSEC and a GHSA record naming the same CVE).
type Group struct {
	// Primary is the representative advisory (MAL- first, then GHSA-,
	// PYSEC-, others; lowest ID).
	Primary *Advisory
	Members []*Advisory
	// IDs are every identifier of the group, sorted, primary first.
	IDs []string
}

// Score is the highest score of the group's members.
func (g Group) Score() Score {
	best := Score{}
	for _, a := range g.Members {
		s := a.Score()
		if s.Level > best.Level || s.Level == best.Level && s.Value > best.Value {
			best = s
		}
	}
	return best
}

// Malicious reports whether any member is a malicious-package report.
func (g Group) Malicious() bool {
	for _, a := range g.Members {
		if a.IsMalicious() {
			return true
		}
	}
	return false
}

func idRank(id string) int {
	switch {
	case len(id) > 4 && id[:4] == "MAL-":
		return 0
	case len(id) > 5 && id[:5] == "GHSA-":
		return 1
	case len(id) > 6 && id[:6] == "PYSEC-":
		return 2
	}
	return 3
}

// GroupAliases merges advisories that share an identifier (an ID or an
// alias) into groups, in a stable order.
func GroupAliases(advs []*Advisory) []Group {
	parent := make([]int, len(advs))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, a := range advs {
		for _, id := range a.IDs() {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	byRoot := map[int]*Group{}
	var roots []int
	for i, a := range advs {
		r := find(i)
		g := byRoot[r]
		if g == nil {
			g = &Group{}
			byRoot[r] = g
			roots = append(roots, r)
		}
		g.Members = append(g.Members, a)
	}
	out := make([]Group, 0, len(roots))
	for _, r := range roots {
		g := byRoot[r]
		ids := map[string]bool{}
		for _, a := range g.Members {
			if g.Primary == nil || idRank(a.ID) < idRank(g.Primary.ID) ||
				idRank(a.ID) == idRank(g.Primary.ID) && a.ID < g.Primary.ID {
				g.Primary = a
			}
			for _, id := range a.IDs() {
				ids[id] = true
			}
		}
		delete(ids, g.Primary.ID)
		g.IDs = []string{g.Primary.ID}
		rest := make([]string, 0, len(ids))
		for id := range ids {
			rest = append(rest, id)
		}
		sort.Strings(rest)
		g.IDs = append(g.IDs, rest...)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Primary.ID < out[j].Primary.ID })
	return out
}

// IsNotImported reports whether err means there is no database yet.
func IsNotImported(err error) bool { return errors.Is(err, ErrNotImported) }

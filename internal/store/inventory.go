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

// This file holds the control plane's inventory: models, their versions,
// the findings of each version and the evidence uploaded for it.

// Model is one model in the inventory. Risk and the severity counts are
// those of the latest version (Risk is -1 when it has no findings).
type Model struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Owner         string    `json:"owner"`
	Tags          []string  `json:"tags"`
	Risk          int       `json:"-"`
	Policy        string    `json:"policy"` // "pass", "fail" or "" (no verdict)
	LatestVersion int64     `json:"latest_version_id,omitempty"`
	Versions      int       `json:"versions"`
	Counts        [5]int    `json:"-"` // findings by severity, info..critical
	Created       time.Time `json:"created"`
	Updated       time.Time `json:"updated"`
}

// ModelVersion is one version of a model.
type ModelVersion struct {
	ID        int64     `json:"id"`
	ModelID   int64     `json:"model_id"`
	Version   string    `json:"version"`
	Digest    string    `json:"digest"`
	Format    string    `json:"format"`
	Size      int64     `json:"size"`
	SourceURI string    `json:"source_uri"`
	Signature string    `json:"signature"` // unsigned, verified, failed
	Status    string    `json:"status"`    // coverage of the last scan: complete, inconclusive
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// StoredFinding is one finding of one model version. Detail is the
// finding's full JSON (evidence, references, remediation).
type StoredFinding struct {
	ID        int64     `json:"id"`
	ModelID   int64     `json:"model_id"`
	VersionID int64     `json:"version_id"`
	Model     string    `json:"model"`
	Version   string    `json:"version"`
	RuleID    string    `json:"rule_id"`
	Severity  int       `json:"-"`
	Title     string    `json:"title"`
	Path      string    `json:"path"`
	Location  string    `json:"location"`
	Detail    string    `json:"-"`
	Created   time.Time `json:"created"`
}

// Evidence is a document attached to a model version (a scan report, a
// BOM, a policy decision, a fairness or robustness report, a signature
// verification result). The document is a blob; Summary is small JSON.
type Evidence struct {
	ID        int64     `json:"id"`
	VersionID int64     `json:"version_id"`
	Kind      string    `json:"kind"`
	Digest    string    `json:"digest"`
	MediaType string    `json:"media_type"`
	Summary   string    `json:"-"`
	Actor     string    `json:"actor"`
	Created   time.Time `json:"created"`
}

// VersionInput describes a model version being recorded.
type VersionInput struct {
	Model     string
	Owner     string
	Tags      []string
	Version   string
	Digest    string
	Format    string
	Size      int64
	SourceURI string
	Status    string
}

// FindingInput is one finding to record.
type FindingInput struct {
	RuleID   string
	Severity int
	Title    string
	Path     string
	Location string
	Detail   string
}

// ModelFilter selects models. Zero values do not filter.
type ModelFilter struct {
	Query   string // substring of the name
	Owner   string
	Tag     string
	MinRisk *int // models whose risk is at least this (-1: any)
	Risk    *int // exactly this risk
	Policy  string
	Limit   int
	Offset  int
}

// FindingFilter selects findings. Results are ordered most severe first,
// then newest first; After continues from a previous page's Next cursor.
type FindingFilter struct {
	ModelID   int64
	VersionID int64
	Severity  *int
	MinSev    *int
	RuleID    string
	After     string
	Limit     int
}

func (s *Store) timeArg(t time.Time) any {
	t = t.UTC()
	if s.backend == Postgres {
		return t
	}
	return t.Format(time.RFC3339Nano)
}

// dbTime scans a timestamp from either backend.
type dbTime struct{ t *time.Time }

func (d dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = x.UTC()
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	default:
		return fmt.Errorf("cannot scan %T as time", v)
	}
	return nil
}

func (d dbTime) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*d.t = t.UTC()
	return nil
}

func joinTags(tags []string) string {
	var clean []string
	for _, t := range tags {
		t = strings.TrimSpace(strings.ReplaceAll(t, ",", " "))
		if t != "" {
			clean = append(clean, t)
		}
	}
	if len(clean) == 0 {
		return ""
	}
	return "," + strings.Join(clean, ",") + ","
}

func splitTags(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

const modelCols = `id, name, owner, tags, risk, policy, COALESCE(latest_version, 0), versions, n_info, n_low, n_medium, n_high, n_critical, created, updated`

func scanModel(sc interface{ Scan(...any) error }) (Model, error) {
	var m Model
	var tags string
	err := sc.Scan(&m.ID, &m.Name, &m.Owner, &tags, &m.Risk, &m.Policy, &m.LatestVersion, &m.Versions,
		&m.Counts[0], &m.Counts[1], &m.Counts[2], &m.Counts[3], &m.Counts[4], dbTime{&m.Created}, dbTime{&m.Updated})
	m.Tags = splitTags(tags)
	return m, err
}

const versionCols = `id, model_id, version, digest, format, size, source_uri, signature, status, created, updated`

func scanVersion(sc interface{ Scan(...any) error }) (ModelVersion, error) {
	var v ModelVersion
	err := sc.Scan(&v.ID, &v.ModelID, &v.Version, &v.Digest, &v.Format, &v.Size, &v.SourceURI, &v.Signature, &v.Status,
		dbTime{&v.Created}, dbTime{&v.Updated})
	return v, err
}

// RecordVersion creates or updates a model and one of its versions and
// replaces that version's findings with fs, all in one transaction. The
// model's risk and counts follow the version just recorded (the latest).
func (s *Store) RecordVersion(ctx context.Context, in VersionInput, fs []FindingInput) (Model, ModelVersion, error) {
	if strings.TrimSpace(in.Model) == "" || strings.TrimSpace(in.Version) == "" {
		return Model{}, ModelVersion{}, errors.New("model name and version are required")
	}
	var m Model
	var v ModelVersion
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		var mid int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM models WHERE name = $1`), in.Model).Scan(&mid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = tx.QueryRowContext(ctx, s.q(`INSERT INTO models (name, owner, tags, created, updated) VALUES ($1, $2, $3, $4, $4) RETURNING id`),
				in.Model, in.Owner, joinTags(in.Tags), now).Scan(&mid)
			if err != nil {
				return fmt.Errorf("insert model: %w", err)
			}
		case err != nil:
			return fmt.Errorf("find model: %w", err)
		default:
			if in.Owner != "" {
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE models SET owner = $1 WHERE id = $2`), in.Owner, mid); err != nil {
					return err
				}
			}
			if len(in.Tags) > 0 {
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE models SET tags = $1 WHERE id = $2`), joinTags(in.Tags), mid); err != nil {
					return err
				}
			}
		}
		var vid int64
		err = tx.QueryRowContext(ctx, s.q(`SELECT id FROM model_versions WHERE model_id = $1 AND version = $2`), mid, in.Version).Scan(&vid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = tx.QueryRowContext(ctx, s.q(`INSERT INTO model_versions (model_id, version, digest, format, size, source_uri, status, created, updated)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`),
				mid, in.Version, in.Digest, in.Format, in.Size, in.SourceURI, in.Status, now).Scan(&vid)
			if err != nil {
				return fmt.Errorf("insert version: %w", err)
			}
		case err != nil:
			return fmt.Errorf("find version: %w", err)
		default:
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE model_versions SET
				digest = CASE WHEN $1 = '' THEN digest ELSE $1 END,
				format = CASE WHEN $2 = '' THEN format ELSE $2 END,
				size = CASE WHEN $3 = 0 THEN size ELSE $3 END,
				source_uri = CASE WHEN $4 = '' THEN source_uri ELSE $4 END,
				status = $5, updated = $6 WHERE id = $7`),
				in.Digest, in.Format, in.Size, in.SourceURI, in.Status, now, vid); err != nil {
				return fmt.Errorf("update version: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM findings WHERE version_id = $1`), vid); err != nil {
				return fmt.Errorf("replace findings: %w", err)
			}
		}
		var counts [5]int
		risk := -1
		for _, f := range fs {
			if f.Severity < 0 || f.Severity > 4 {
				return fmt.Errorf("finding %s: severity %d out of range", f.RuleID, f.Severity)
			}
			counts[f.Severity]++
			risk = max(risk, f.Severity)
		}
		if err := s.insertFindings(ctx, tx, mid, vid, fs, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE models SET latest_version = $1, risk = $2,
			n_info = $3, n_low = $4, n_medium = $5, n_high = $6, n_critical = $7, updated = $8,
			versions = (SELECT COUNT(*) FROM model_versions WHERE model_id = $9) WHERE id = $9`),
			vid, risk, counts[0], counts[1], counts[2], counts[3], counts[4], now, mid); err != nil {
			return fmt.Errorf("update model: %w", err)
		}
		if m, err = scanModel(tx.QueryRowContext(ctx, s.q(`SELECT `+modelCols+` FROM models WHERE id = $1`), mid)); err != nil {
			return err
		}
		v, err = scanVersion(tx.QueryRowContext(ctx, s.q(`SELECT `+versionCols+` FROM model_versions WHERE id = $1`), vid))
		return err
	})
	return m, v, err
}

func (s *Store) insertFindings(ctx context.Context, tx *sql.Tx, mid, vid int64, fs []FindingInput, now any) error {
	const per = 100
	for start := 0; start < len(fs); start += per {
		chunk := fs[start:min(start+per, len(fs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO findings (model_id, version_id, rule_id, severity, title, path, location, detail, created) VALUES `)
		args := make([]any, 0, len(chunk)*7+3)
		args = append(args, mid, vid, now)
		for i, f := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($1, $2, $%d, $%d, $%d, $%d, $%d, $%d, $3)", n+1, n+2, n+3, n+4, n+5, n+6)
			detail := f.Detail
			if detail == "" {
				detail = "{}"
			}
			args = append(args, f.RuleID, f.Severity, f.Title, f.Path, f.Location, detail)
		}
		if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
			return fmt.Errorf("insert findings: %w", err)
		}
	}
	return nil
}

// ModelByName returns a model by name.
func (s *Store) ModelByName(ctx context.Context, name string) (Model, error) {
	m, err := scanModel(s.db.QueryRowContext(ctx, s.q(`SELECT `+modelCols+` FROM models WHERE name = $1`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("model %q: %w", name, ErrNotFound)
	}
	return m, err
}

// ModelByID returns a model by id.
func (s *Store) ModelByID(ctx context.Context, id int64) (Model, error) {
	m, err := scanModel(s.db.QueryRowContext(ctx, s.q(`SELECT `+modelCols+` FROM models WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("model %d: %w", id, ErrNotFound)
	}
	return m, err
}

// ListModels returns one page of models (riskiest first, then by name)
// and the number of models matching the filter.
func (s *Store) ListModels(ctx context.Context, f ModelFilter) ([]Model, int, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Query != "" {
		where = append(where, "LOWER(name) LIKE "+arg("%"+likeEscape(strings.ToLower(f.Query))+"%")+" ESCAPE '\\'")
	}
	if f.Owner != "" {
		where = append(where, "owner = "+arg(f.Owner))
	}
	if f.Tag != "" {
		where = append(where, "tags LIKE "+arg("%,"+likeEscape(f.Tag)+",%")+" ESCAPE '\\'")
	}
	if f.MinRisk != nil {
		where = append(where, "risk >= "+arg(*f.MinRisk))
	}
	if f.Risk != nil {
		where = append(where, "risk = "+arg(*f.Risk))
	}
	if f.Policy != "" {
		where = append(where, "policy = "+arg(f.Policy))
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM models`+w), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count models: %w", err)
	}
	limit := clampLimit(f.Limit)
	q := `SELECT ` + modelCols + ` FROM models` + w + ` ORDER BY risk DESC, name LIMIT ` + arg(limit) + ` OFFSET ` + arg(max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list models: %w", err)
	}
	defer rows.Close()
	out := []Model{}
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, total, rows.Err()
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 500)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Versions lists a model's versions, newest first.
func (s *Store) Versions(ctx context.Context, modelID int64) ([]ModelVersion, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+versionCols+` FROM model_versions WHERE model_id = $1 ORDER BY id DESC LIMIT 200`), modelID)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	defer rows.Close()
	out := []ModelVersion{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Version returns one model version.
func (s *Store) Version(ctx context.Context, id int64) (ModelVersion, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx, s.q(`SELECT `+versionCols+` FROM model_versions WHERE id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("version %d: %w", id, ErrNotFound)
	}
	return v, err
}

// AllVersionIDs calls fn with the latest version of every model that has a
// source URI (re-scan candidates).
func (s *Store) AllVersionIDs(ctx context.Context, fn func(id int64) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT v.id FROM models m JOIN model_versions v ON v.id = m.latest_version WHERE v.source_uri <> '' ORDER BY v.id`)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

const findingCols = `f.id, f.model_id, f.version_id, m.name, v.version, f.rule_id, f.severity, f.title, f.path, f.location, f.detail, f.created`

func scanFinding(sc interface{ Scan(...any) error }) (StoredFinding, error) {
	var f StoredFinding
	err := sc.Scan(&f.ID, &f.ModelID, &f.VersionID, &f.Model, &f.Version, &f.RuleID, &f.Severity, &f.Title, &f.Path,
		&f.Location, &f.Detail, dbTime{&f.Created})
	return f, err
}

// ListFindings returns one page of findings and the cursor of the next
// page ("" at the end).
func (s *Store) ListFindings(ctx context.Context, f FindingFilter) ([]StoredFinding, string, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.ModelID != 0 {
		where = append(where, "f.model_id = "+arg(f.ModelID))
	}
	if f.VersionID != 0 {
		where = append(where, "f.version_id = "+arg(f.VersionID))
	}
	if f.Severity != nil {
		where = append(where, "f.severity = "+arg(*f.Severity))
	}
	if f.MinSev != nil {
		where = append(where, "f.severity >= "+arg(*f.MinSev))
	}
	if f.RuleID != "" {
		where = append(where, "f.rule_id = "+arg(f.RuleID))
	}
	if f.After != "" {
		sevS, idS, ok := strings.Cut(f.After, ".")
		sev, err1 := strconv.Atoi(sevS)
		id, err2 := strconv.ParseInt(idS, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, "", fmt.Errorf("bad cursor %q", f.After)
		}
		a, b, c := arg(sev), arg(sev), arg(id)
		where = append(where, "(f.severity < "+a+" OR (f.severity = "+b+" AND f.id < "+c+"))")
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	limit := clampLimit(f.Limit)
	q := `SELECT ` + findingCols + ` FROM findings f JOIN models m ON m.id = f.model_id JOIN model_versions v ON v.id = f.version_id` +
		w + ` ORDER BY f.severity DESC, f.id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	out := []StoredFinding{}
	for rows.Next() {
		sf, err := scanFinding(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, sf)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = strconv.Itoa(last.Severity) + "." + strconv.FormatInt(last.ID, 10)
	}
	return out, next, nil
}

// Finding returns one finding.
func (s *Store) Finding(ctx context.Context, id int64) (StoredFinding, error) {
	f, err := scanFinding(s.db.QueryRowContext(ctx, s.q(`SELECT `+findingCols+` FROM findings f JOIN models m ON m.id = f.model_id JOIN model_versions v ON v.id = f.version_id WHERE f.id = $1`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("finding %d: %w", id, ErrNotFound)
	}
	return f, err
}

// AddEvidence attaches a stored blob to a model version. Kind "policy"
// also sets the model's policy verdict from pass; kind "signature" sets
// the version's signature status to sig.
func (s *Store) AddEvidence(ctx context.Context, e Evidence, pass *bool, sig string) (Evidence, error) {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC()
		e.Created = now
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO evidence (version_id, kind, digest, media_type, summary, actor, created) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`),
			e.VersionID, e.Kind, e.Digest, e.MediaType, e.Summary, e.Actor, s.timeArg(now)).Scan(&e.ID); err != nil {
			return fmt.Errorf("insert evidence: %w", err)
		}
		if pass != nil {
			verdict := "fail"
			if *pass {
				verdict = "pass"
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE models SET policy = $1 WHERE id = (SELECT model_id FROM model_versions WHERE id = $2)`), verdict, e.VersionID); err != nil {
				return err
			}
		}
		if sig != "" {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE model_versions SET signature = $1 WHERE id = $2`), sig, e.VersionID); err != nil {
				return err
			}
		}
		return nil
	})
	return e, err
}

// ListEvidence lists a version's evidence, newest first.
func (s *Store) ListEvidence(ctx context.Context, versionID int64) ([]Evidence, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, version_id, kind, digest, media_type, summary, actor, created FROM evidence WHERE version_id = $1 ORDER BY id DESC LIMIT 200`), versionID)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	defer rows.Close()
	out := []Evidence{}
	for rows.Next() {
		var e Evidence
		if err := rows.Scan(&e.ID, &e.VersionID, &e.Kind, &e.Digest, &e.MediaType, &e.Summary, &e.Actor, dbTime{&e.Created}); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EvidenceByID returns one evidence row.
func (s *Store) EvidenceByID(ctx context.Context, id int64) (Evidence, error) {
	var e Evidence
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, version_id, kind, digest, media_type, summary, actor, created FROM evidence WHERE id = $1`), id).
		Scan(&e.ID, &e.VersionID, &e.Kind, &e.Digest, &e.MediaType, &e.Summary, &e.Actor, dbTime{&e.Created})
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("evidence %d: %w", id, ErrNotFound)
	}
	return e, err
}

// Fleet summarises the inventory for the overview page.
type Fleet struct {
	Models        int    `json:"models"`
	ByRisk        [6]int `json:"-"` // index risk+1: none, info..critical
	PolicyPass    int    `json:"policy_pass"`
	PolicyFail    int    `json:"policy_fail"`
	PolicyNone    int    `json:"policy_none"`
	Findings      [5]int `json:"-"`
	OpenIncidents int    `json:"open_incidents"`
	AckIncidents  int    `json:"acknowledged_incidents"`
}

// FleetSummary computes the overview counts.
func (s *Store) FleetSummary(ctx context.Context) (Fleet, error) {
	var f Fleet
	rows, err := s.db.QueryContext(ctx, `SELECT risk, policy, COUNT(*), SUM(n_info), SUM(n_low), SUM(n_medium), SUM(n_high), SUM(n_critical) FROM models GROUP BY risk, policy`)
	if err != nil {
		return f, fmt.Errorf("fleet summary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var risk, n int
		var policy string
		var c [5]int64
		if err := rows.Scan(&risk, &policy, &n, &c[0], &c[1], &c[2], &c[3], &c[4]); err != nil {
			return f, err
		}
		f.Models += n
		if risk >= -1 && risk <= 4 {
			f.ByRisk[risk+1] += n
		}
		switch policy {
		case "pass":
			f.PolicyPass += n
		case "fail":
			f.PolicyFail += n
		default:
			f.PolicyNone += n
		}
		for i := range c {
			f.Findings[i] += int(c[i])
		}
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'acknowledged' THEN 1 ELSE 0 END), 0) FROM incidents WHERE status <> 'resolved'`).
		Scan(&f.OpenIncidents, &f.AckIncidents)
	return f, err
}

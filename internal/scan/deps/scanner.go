package deps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/pep440"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/vulndb"
)

// Advisories looks up the advisories of a PyPI package; *vulndb.DB is one.
type Advisories interface {
	Lookup(ctx context.Context, name string) ([]*vulndb.Advisory, error)
}

// Options configure the scanner.
type Options struct {
	// VulnDB is the database file ("" = vulndb.DefaultPath()). It is
	// opened read-only on first use.
	VulnDB string
	// DB, when set, is used instead of opening VulnDB (tests, embedding).
	DB Advisories
}

// Scanner is the "deps" scanner.
type Scanner struct {
	opts  Options
	once  sync.Once
	db    Advisories
	dbErr error
	cache sync.Map // normalised name → *lookup
}

type lookup struct {
	once sync.Once
	advs []*vulndb.Advisory
	err  error
}

// New returns the dependency scanner.
func New(opts Options) *Scanner { return &Scanner{opts: opts} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "deps" }

var reqNameRE = regexp.MustCompile(`^(.*[-_.])?(requirements|constraints|reqs)([-_.].*)?\.(txt|in)$`)

// KindOf returns the manifest kind a file name announces, or "".
func KindOf(name string) string {
	n := strings.ToLower(name)
	switch {
	case n == "pyproject.toml":
		return KindPyproject
	case n == "poetry.lock":
		return KindPoetryLock
	case n == "pipfile.lock":
		return KindPipfileLock
	case n == "uv.lock":
		return KindUVLock
	case n == "pdm.lock":
		return KindPDMLock
	case n == "environment.yml" || n == "environment.yaml" || strings.HasSuffix(n, ".environment.yml") ||
		(strings.HasPrefix(n, "environment") || strings.HasPrefix(n, "conda")) && (strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".yaml")):
		return KindConda
	case reqNameRE.MatchString(n):
		return KindRequirements
	}
	return ""
}

// Match implements scan.Scanner: a manifest's file name (these are text
// formats without magic numbers) and content that fits it.
func (*Scanner) Match(f scan.FileInfo) bool {
	kind := KindOf(f.Name)
	if kind == "" || f.Size > MaxManifestSize || bytes.IndexByte(f.Head, 0) >= 0 {
		return false
	}
	h := bytes.TrimPrefix(f.Head, []byte("\xef\xbb\xbf"))
	switch kind {
	case KindPyproject, KindPoetryLock, KindUVLock, KindPDMLock:
		return len(bytes.TrimSpace(h)) == 0 || bytes.Contains(h, []byte("[")) || bytes.Contains(h, []byte("="))
	case KindPipfileLock:
		return bytes.HasPrefix(bytes.TrimLeft(h, " \t\r\n"), []byte("{"))
	case KindConda:
		return bytes.Contains(h, []byte("dependencies")) || bytes.Contains(h, []byte("channels"))
	}
	return true
}

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	kind := KindOf(in.Name)
	res := scan.NewResult(kind)
	if in.Size < 0 || in.Size > MaxManifestSize {
		return res, fmt.Errorf("%w: %d bytes (limit %d)", scan.ErrLimit, in.Size, MaxManifestSize)
	}
	data := make([]byte, in.Size)
	if _, err := in.R.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("read: %w", err)
	}
	var resolve Resolver
	if in.Member == "" && in.Artifact.Path != "" {
		resolve = fileResolver(filepath.Dir(in.Artifact.Path))
	}
	m, err := Parse(kind, in.Name, data, resolve)
	if err != nil {
		return res, err
	}
	for _, n := range m.Notes {
		res.Gap("%s", n)
	}
	fs, err := s.Check(ctx, in, m)
	res.Add(fs...)
	if err != nil {
		res.Gap("%v", err)
	}
	return res, nil
}

// Parse parses a manifest of the given kind; name is its base name.
func Parse(kind, name string, data []byte, resolve Resolver) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrLimit, len(data))
	}
	switch kind {
	case KindRequirements:
		return ParseRequirementsFile(data, name, resolve)
	case KindPyproject:
		return ParsePyproject(data)
	case KindPoetryLock:
		return ParsePoetryLock(data)
	case KindPipfileLock:
		return ParsePipfileLock(data)
	case KindUVLock:
		return ParseUVLock(data)
	case KindPDMLock:
		return ParsePDMLock(data)
	case KindConda:
		return ParseCondaEnv(data, resolve)
	}
	return nil, fmt.Errorf("unknown manifest kind %q", kind)
}

// fileResolver reads includes relative to the manifest's directory.
// Absolute paths are refused; files must be regular and small.
func fileResolver(base string) Resolver {
	return func(dir, name string) ([]byte, string, error) {
		if filepath.IsAbs(name) || strings.HasPrefix(name, "~") {
			return nil, "", errors.New("absolute include paths are not followed")
		}
		rel := path.Clean(path.Join(dir, filepath.ToSlash(name)))
		p := filepath.Join(base, filepath.FromSlash(rel))
		st, err := os.Stat(p)
		if err != nil {
			return nil, "", err
		}
		if !st.Mode().IsRegular() {
			return nil, "", errors.New("not a regular file")
		}
		if st.Size() > MaxManifestSize {
			return nil, "", fmt.Errorf("%w: %d bytes", ErrLimit, st.Size())
		}
		b, err := os.ReadFile(p)
		return b, rel, err
	}
}

// database opens the vulnerability database once.
func (s *Scanner) database(ctx context.Context) (Advisories, error) {
	s.once.Do(func() {
		if s.opts.DB != nil {
			s.db = s.opts.DB
			return
		}
		p := s.opts.VulnDB
		if p == "" {
			if p, s.dbErr = vulndb.DefaultPath(); s.dbErr != nil {
				return
			}
		}
		db, err := vulndb.OpenReadOnly(ctx, p)
		if err != nil {
			s.dbErr = err
			return
		}
		s.db = db
	})
	return s.db, s.dbErr
}

func (s *Scanner) lookup(ctx context.Context, db Advisories, name string) ([]*vulndb.Advisory, error) {
	v, _ := s.cache.LoadOrStore(name, &lookup{})
	l := v.(*lookup)
	l.once.Do(func() { l.advs, l.err = db.Lookup(ctx, name) })
	return l.advs, l.err
}

// Check runs every dependency check over a parsed manifest. The error
// reports checks that could not run (no vulnerability database); the
// findings are valid either way.
func (s *Scanner) Check(ctx context.Context, in *scan.Input, m *Manifest) ([]finding.Finding, error) {
	var out []finding.Finding
	db, dbErr := s.database(ctx)
	if dbErr != nil {
		dbErr = fmt.Errorf("known-vulnerability and malicious-package checks not run: %w", dbErr)
	}
	hashMode := m.UsesHashes()
	// Constraints that pin a version apply to requirements of that name.
	pins := map[string]Package{}
	for _, p := range m.Packages {
		if p.Constraint && p.Pinned() {
			pins[p.Normalized] = p
		}
	}
	for _, p := range m.Packages {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if p.Constraint {
			continue
		}
		if p.File != "" && KindOf(path.Base(p.File)) != "" {
			continue // the included file is a manifest of its own: reported there
		}
		if c, ok := pins[p.Normalized]; ok && !p.Pinned() && p.URL == "" {
			p.Version = c.Version
			p.Section = strings.TrimSpace(p.Section + " (pinned by constraint " + c.File + ")")
		}
		loc := in.Location()
		loc.Line = p.Line
		if p.File != "" {
			loc.Pointer = p.File
		}
		newF := func(r *finding.Rule) finding.Finding {
			f := in.NewFinding(r)
			f.Location = loc
			f.Evidence.Fields = map[string]any{"package": p.Normalized, "manifest": m.Kind}
			if p.Version != "" {
				f.Evidence.Fields["version"] = p.Version
			}
			if len(p.Specifier) > 0 {
				f.Evidence.Fields["specifier"] = p.Specifier.String()
			}
			if p.Section != "" {
				f.Evidence.Fields["section"] = p.Section
			}
			if p.Marker != "" {
				f.Evidence.Fields["marker"] = p.Marker
			}
			return f
		}
		name := p.Normalized
		if p.Conda {
			if pn, ok := condaToPyPI[name]; ok {
				name = pn
			}
		}
		if why, ok := hijacked[name]; ok && !(p.Conda) {
			f := newF(RuleCompromised)
			f.Evidence.Text = fmt.Sprintf("%s: %s", name, why)
			out = append(out, f)
		}
		if t, ok := CheckTyposquat(name); ok {
			f := newF(RuleTyposquat)
			f.Evidence.Text = fmt.Sprintf("%q looks like %q (%s)", p.Name, t.Target, t.How)
			f.Evidence.Fields["imitates"], f.Evidence.Fields["how"] = t.Target, t.How
			out = append(out, f)
		}
		if hashMode && len(p.Hashes) == 0 && (p.URL == "" || m.Lock) {
			f := newF(RuleMissingHash)
			f.Evidence.Text = fmt.Sprintf("%s has no hash while other entries of the file are hash-pinned", p.Normalized)
			out = append(out, f)
		}
		var advs []*vulndb.Advisory
		if db != nil && p.URL == "" {
			var err error
			if advs, err = s.lookup(ctx, db, name); err != nil {
				return out, fmt.Errorf("vulnerability lookup %s: %w", name, err)
			}
		}
		switch {
		case p.URL != "":
			// Direct references bypass the index and have no version to match.
		case p.Pinned():
			v, err := pep440.Parse(p.Version)
			if err != nil {
				break
			}
			var hit []*vulndb.Advisory
			for _, a := range advs {
				if a.AffectsVersion(name, v) {
					hit = append(hit, a)
				}
			}
			for _, g := range vulndb.GroupAliases(hit) {
				out = append(out, vulnFinding(newF, g, name, v))
			}
		case !m.Lock:
			f := newF(RuleUnpinned)
			spec := p.Specifier.String()
			if spec == "" {
				spec = "any version"
			}
			var ids []string
			var mal []vulndb.Group
			var hit []*vulndb.Advisory
			for _, a := range advs {
				if _, ok := a.AffectedAllowed(name, p.Specifier); ok {
					hit = append(hit, a)
				}
			}
			for _, g := range vulndb.GroupAliases(hit) {
				ids = append(ids, g.Primary.ID)
				if g.Malicious() {
					mal = append(mal, g)
				}
			}
			f.Evidence.Text = fmt.Sprintf("%s allows %s", p.Normalized, spec)
			if len(ids) > 0 {
				f.Evidence.Text += fmt.Sprintf("; advisories affecting allowed versions: %s", strings.Join(ids, ", "))
				f.Evidence.Fields["advisories"] = ids
			}
			out = append(out, f)
			for _, g := range mal {
				mf := newF(RuleMalicious)
				mf.Evidence.Text = fmt.Sprintf("%s (%s) allows versions reported malicious by %s", p.Normalized, spec, strings.Join(g.IDs, ", "))
				mf.Evidence.Fields["advisories"] = g.IDs
				out = append(out, mf)
			}
		}
	}
	out = append(out, s.indexFindings(in, m)...)
	return out, dbErr
}

func vulnFinding(newF func(*finding.Rule) finding.Finding, g vulndb.Group, name string, v pep440.Version) finding.Finding {
	if g.Malicious() {
		f := newF(RuleMalicious)
		f.Evidence.Text = fmt.Sprintf("%s %s is reported malicious by %s", name, v, strings.Join(g.IDs, ", "))
		if s := g.Primary.Summary; s != "" {
			f.Evidence.Text += ": " + s
		}
		f.Evidence.Fields["advisories"] = g.IDs
		f.References = append(f.References, advisoryRefs(g)...)
		return f
	}
	f := newF(RuleVulnerable)
	sc := g.Score()
	switch sc.Level {
	case vulndb.Critical:
		f.Severity = finding.Critical
	case vulndb.High:
		f.Severity = finding.High
	case vulndb.Medium:
		f.Severity = finding.Medium
	case vulndb.Low, vulndb.None:
		f.Severity = finding.Low
	}
	f.Title = fmt.Sprintf("%s %s: %s", name, v, g.Primary.ID)
	text := fmt.Sprintf("%s %s is affected by %s", name, v, strings.Join(g.IDs, ", "))
	fix := ""
	for _, a := range g.Members {
		if x := a.NearestFix(name, v); x != "" && (fix == "" || pep440.MustParse(x).Compare(pep440.MustParse(fix)) < 0) {
			fix = x
		}
	}
	if fix != "" {
		text += "; fixed in " + fix
		f.Evidence.Fields["fixed"] = fix
		f.Remediation = fmt.Sprintf("Upgrade %s to %s or later.", name, fix)
	} else {
		text += "; no fixed version is known"
	}
	if sc.Vector != "" {
		f.Evidence.Fields["cvss"] = sc.Vector
		if sc.Value > 0 {
			f.Evidence.Fields["score"] = sc.Value
			text += fmt.Sprintf(" (CVSS %.1f)", sc.Value)
		}
	} else {
		f.Evidence.Fields["severity_source"] = "no CVSS vector in the advisory: rule default"
	}
	summary := g.Primary.Summary
	if summary == "" {
		summary = firstSentence(g.Primary.Details)
	}
	if summary != "" {
		f.Description = summary
	}
	f.Evidence.Text = text
	f.Evidence.Fields["advisories"] = g.IDs
	f.References = append(f.References, advisoryRefs(g)...)
	return f
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ". "); i > 0 && i < 300 {
		return s[:i+1]
	}
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func advisoryRefs(g vulndb.Group) []finding.Reference {
	var out []finding.Reference
	for _, id := range g.IDs {
		switch {
		case strings.HasPrefix(id, "CVE-"):
			out = append(out, finding.CVE(id))
		case strings.HasPrefix(id, "GHSA-"):
			out = append(out, finding.GHSA(id))
		case strings.HasPrefix(id, "PYSEC-"), strings.HasPrefix(id, "MAL-"):
			out = append(out, finding.Reference{Kind: finding.RefURL, ID: id, URL: "https://osv.dev/vulnerability/" + id})
		}
	}
	return out
}

// indexFindings checks the manifest's index configuration.
func (s *Scanner) indexFindings(in *scan.Input, m *Manifest) []finding.Finding {
	var out []finding.Finding
	for _, ix := range m.Indexes {
		if strings.HasPrefix(strings.ToLower(ix.URL), "http://") {
			f := in.NewFinding(RuleInsecureIndex)
			f.Location.Line = ix.Line
			f.Evidence.Text = "index over plain HTTP: " + redactURL(ix.URL)
			f.Evidence.Fields = map[string]any{"index": redactURL(ix.URL)}
			out = append(out, f)
		}
	}
	for _, h := range m.TrustedHosts {
		f := in.NewFinding(RuleInsecureIndex)
		f.Evidence.Text = "TLS verification disabled for " + redactURL(h)
		f.Evidence.Fields = map[string]any{"trusted_host": redactURL(h)}
		out = append(out, f)
	}
	var extra []Index
	for _, ix := range m.Indexes {
		if ix.Extra {
			extra = append(extra, ix)
		}
	}
	if len(extra) == 0 {
		return out
	}
	var unhashed, internal []string
	for _, p := range m.Packages {
		if p.Constraint || p.URL != "" || len(p.Hashes) > 0 || p.Conda {
			continue
		}
		if m.Lock && p.Index != "" && !isPyPI(p.Index) && !strings.EqualFold(p.Index, "pypi") {
			// Locked to a named non-PyPI index (uv/Poetry/Pipenv): the
			// resolver will not take that name from PyPI.
			continue
		}
		unhashed = append(unhashed, p.Normalized)
		if !popular[p.Normalized] && looksInternal(p.Normalized) {
			internal = append(internal, p.Normalized)
		}
	}
	if len(unhashed) == 0 {
		return out
	}
	sort.Strings(unhashed)
	unhashed = compactStrings(unhashed)
	f := in.NewFinding(RuleConfusion)
	f.Location.Line = extra[0].Line
	urls := make([]string, len(extra))
	for i, ix := range extra {
		urls[i] = redactURL(ix.URL)
	}
	shown := unhashed
	if len(shown) > 20 {
		shown = shown[:20]
	}
	f.Evidence.Text = fmt.Sprintf("extra index %s with %d packages not hash-pinned (%s)", strings.Join(urls, ", "), len(unhashed), strings.Join(shown, ", "))
	f.Evidence.Fields = map[string]any{"extra_indexes": urls, "unhashed": unhashed, "manifest": m.Kind}
	if len(internal) > 0 {
		f.Evidence.Text += "; internal-looking names most at risk: " + strings.Join(internal, ", ")
		f.Evidence.Fields["internal_looking"] = internal
	}
	return append(out, f)
}

var internalRE = regexp.MustCompile(`(^|-)(internal|private|corp|company|intern|inhouse|in-house|priv|proprietary|enterprise|mlops)(-|$)`)

// looksInternal flags names shaped like private packages
// ("acme-internal-utils", "corp-ml-core").
func looksInternal(name string) bool { return internalRE.MatchString(name) }

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// redactURL hides credentials embedded in an index URL.
func redactURL(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	slash := strings.IndexByte(rest, '/')
	host := rest
	if slash >= 0 {
		host = rest[:slash]
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		return u[:i+3] + "***@" + rest[at+1:]
	}
	return u
}

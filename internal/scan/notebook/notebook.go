// Package notebook scans Jupyter notebooks (.ipynb, nbformat 4 and 3). A
// bounded streaming JSON decoder walks the cells one at a time; sources and
// text outputs (plain text, streams, HTML, JSON, error tracebacks) are
// checked for secrets with gitleaks' rules and outputs for personal data;
// code cells for shell escapes that pipe a download into an interpreter and
// for package installs; sources and binary outputs for embedded pickles and
// large base64 blobs, which are decoded and handed back to the scan engine.
// Image outputs are skipped unless their bytes are not an image. Secret
// values never leave this package unredacted.
package notebook

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/pii"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/deps"
	"github.com/mlsec/mlsec/internal/secret"
)

// Rules reported by this package.
var (
	RuleSecretSource = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-001", Name: "NotebookSecretInSource",
		Title:    "Secret in a notebook cell",
		Severity: finding.High,
		Summary: "A cell's source contains a credential (API key, access token, private key, password) " +
			"recognised by gitleaks' rules. Notebooks are shared, committed and published with their " +
			"sources; anyone who can read the file can use the credential.",
		Doc: "Detection uses the gitleaks default rule set (provider-specific token formats and a generic " +
			"high-entropy assignment rule). The evidence shows the gitleaks rule, the cell and line, and a " +
			"redacted form of the value (at most a four-character type prefix and the length) with a short " +
			"SHA-256 fingerprint for correlating occurrences; the value itself is never reported.",
		Remediation: "Revoke and rotate the credential, remove it from the notebook and from version-control " +
			"history, and read secrets from the environment or a secret manager instead.",
		References: []finding.Reference{finding.CWE(798), finding.CWE(312), finding.ATLAS("AML.T0055"), finding.OWASPML("ML05")},
	})
	RuleSecretOutput = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-002", Name: "NotebookSecretInOutput",
		Title:    "Secret in a notebook cell output",
		Severity: finding.High,
		Summary: "A saved cell output (printed text, a rendered table, an error traceback) contains a " +
			"credential. Outputs are stored in the .ipynb file and travel with it even when the source that " +
			"printed them no longer shows the value.",
		Remediation: "Revoke and rotate the credential, clear the outputs (jupyter nbconvert " +
			"--ClearOutputPreprocessor.enabled=True) and remove the file from version-control history.",
		References: []finding.Reference{finding.CWE(532), finding.CWE(798), finding.ATLAS("AML.T0055"), finding.OWASPML("ML05")},
	})
	RulePII = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-003", Name: "NotebookPersonalDataInOutput",
		Title:    "Personal data in a notebook cell output",
		Severity: finding.Medium,
		Summary: "A saved output shows personal data: e-mail addresses, telephone numbers, payment card " +
			"numbers (Luhn-checked), IBANs (mod-97-checked), national identifiers (US SSN, UK NINO, Aadhaar, " +
			"Spanish DNI/NIE, each with its own checks) or public IP addresses, typically from printing " +
			"rows of a training set. Card numbers, IBANs and national identifiers raise it to high.",
		Doc: "Each finding counts the distinct values of one kind in one output (all of its MIME " +
			"representations together); values are never reported.",
		Remediation: "Clear the outputs before sharing the notebook, show aggregated or pseudonymised data, " +
			"and check that the data set may be processed for this purpose.",
		References: []finding.Reference{finding.CWE(359), finding.CWE(200), finding.ATLAS("AML.T0035"), finding.OWASPML("ML03")},
	})
	RulePipeShell = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-004", Name: "NotebookPipesDownloadToShell",
		Title:    "Notebook pipes a download into a shell",
		Severity: finding.High,
		Summary: "A shell escape downloads a script and runs it at once (curl … | sh, bash <(wget …), " +
			"sh -c \"$(curl …)\"). Whoever controls the URL, the network path or the server runs code " +
			"with the notebook user's rights, and nothing pins what was run.",
		Remediation: "Download to a file, verify a published checksum or signature, then run it; better, " +
			"install the tool from a package manager with pinned versions.",
		References: []finding.Reference{finding.CWE(494), finding.CWE(829), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleInstall = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-005", Name: "NotebookInstallsPackages",
		Title:    "Notebook installs packages at run time",
		Severity: finding.Low,
		Summary: "A cell runs pip or conda install. The packages do not appear in the project's manifests, " +
			"so dependency checks and lockfiles miss them. Unpinned requirements raise it to medium; an " +
			"extra index URL (dependency confusion: pip picks the highest version from any index) to high.",
		Doc: "The evidence lists the requirements, which of them are unpinned, and any index options, " +
			"so they can be added to requirements files and checked with the rest.",
		Remediation: "Move the requirements into a pinned, hash-checked requirements file or lockfile; " +
			"never combine --extra-index-url with unhashed requirements.",
		References: []finding.Reference{finding.CWE(1357), finding.CWE(829), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleEmbedded = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-006", Name: "NotebookEmbedsSerializedPayload",
		Title:    "Notebook embeds a pickle or serialized model",
		Severity: finding.High,
		Summary: "Base64 text in a cell or an output decodes to a pickle or a model/archive format. " +
			"Embedded payloads hide code from review (pickle.loads(base64.b64decode(…)) runs it); the " +
			"decoded bytes are scanned as a member of the notebook and their findings follow.",
		Remediation: "Do not load serialized objects from notebook text. Ship models as files in safe " +
			"formats (safetensors, ONNX) and review what the payload does before any use.",
		References: []finding.Reference{finding.CWE(502), finding.CWE(506), finding.ATLAS("AML.T0011.000"), finding.OWASPML("ML06")},
	})
	RuleBlob = finding.MustRegister(finding.Rule{
		ID: "MLS-NB-007", Name: "NotebookLargeOpaqueBlob",
		Title:    "Notebook carries a large opaque blob",
		Severity: finding.Low,
		Summary: "A cell source or a non-image output holds a large base64 blob, or an image output's " +
			"bytes are not the declared image format (medium). Opaque data in a notebook escapes review " +
			"and can smuggle payloads or data sets.",
		Remediation: "Keep data and binaries out of notebooks; store them as files with their own checks.",
		References:  []finding.Reference{finding.CWE(506), finding.CWE(912), finding.ATLAS("AML.T0010.002"), finding.OWASPML("ML06")},
	})
)

// largeBlob is the decoded size from which a base64 blob is reported.
const largeBlob = 64 << 10

// Scanner is the "notebook" scanner.
type Scanner struct{ lim Limits }

// New returns the notebook scanner with default limits.
func New() *Scanner { return &Scanner{lim: DefaultLimits()} }

// NewWithLimits returns a notebook scanner with the given parser limits.
func NewWithLimits(l Limits) *Scanner { return &Scanner{lim: l} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "notebook" }

// Match implements scan.Scanner: a JSON object that is named .ipynb or whose
// head has the notebook members ("cells" or "worksheets" with "cell_type").
func (*Scanner) Match(f scan.FileInfo) bool {
	h := bytes.TrimLeft(bytes.TrimPrefix(f.Head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(h) == 0 || h[0] != '{' {
		return false
	}
	if f.Ext() == ".ipynb" {
		return true
	}
	return (bytes.Contains(h, []byte(`"cells"`)) || bytes.Contains(h, []byte(`"worksheets"`))) &&
		bytes.Contains(h, []byte(`"cell_type"`))
}

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	if in.Size > s.lim.MaxBytes {
		return res, fmt.Errorf("notebook: %w: %d bytes (limit %d)", scan.ErrLimit, in.Size, s.lim.MaxBytes)
	}
	a := &analysis{ctx: ctx, in: in, res: &res}
	nb, err := Parse(ctx, in.Open(), s.lim, func(c *Cell) error { return a.cell(c) })
	if nb.Major > 0 {
		res.Format = fmt.Sprintf("notebook-v%d", nb.Major)
	}
	if err != nil {
		return res, fmt.Errorf("notebook: %w", err)
	}
	if nb.Major != 0 && nb.Major != 3 && nb.Major != 4 {
		res.Gap("%s: nbformat %d is not supported (read as nbformat 4)", in.Name, nb.Major)
	}
	return res, nil
}

type analysis struct {
	ctx   context.Context
	in    *scan.Input
	res   *scan.Result
	blobs int
}

func (a *analysis) loc(t *Text, off int) finding.Location {
	l := a.in.Location()
	l.Line = t.FileLine(off)
	l.Pointer = t.Pointer
	return l
}

func (a *analysis) cell(c *Cell) error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	if c.Source != nil {
		if c.Source.Truncated {
			a.res.Gap("%s: cell %d source longer than the text limit; only its start was scanned", a.in.Name, c.Index)
		}
		if err := a.secrets(c, nil, c.Source, RuleSecretSource, nil); err != nil {
			return err
		}
		if c.Type == "code" || c.Type == "" {
			a.shell(c)
		}
		if c.Type != "markdown" {
			a.sourceBlobs(c)
		}
	}
	for _, o := range c.Outputs {
		seen := map[string]bool{}
		for _, t := range plainFirst(o.Texts) {
			if t.Truncated {
				a.res.Gap("%s: cell %d output %d text longer than the text limit; only its start was scanned", a.in.Name, c.Index, o.Index)
			}
			if err := a.secrets(c, o, t, RuleSecretOutput, seen); err != nil {
				return err
			}
		}
		a.personal(c, o)
		for _, b := range o.Blobs {
			a.blob(c, b)
		}
	}
	for _, b := range c.Attachments {
		a.blob(c, b)
	}
	return nil
}

func (a *analysis) secrets(c *Cell, o *Output, t *Text, rule *finding.Rule, seen map[string]bool) error {
	ms, err := secret.Find(a.ctx, t.S)
	if err != nil {
		return err
	}
	for _, m := range ms {
		key := m.Rule + "\x00" + m.Fingerprint
		if seen != nil {
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		f := a.in.NewFinding(rule)
		f.Location = a.loc(t, m.Offset)
		where := fmt.Sprintf("cell %d source", c.Index)
		fields := map[string]any{"cell": c.Index, "cell_type": c.Type, "cell_line": m.Line + 1,
			"gitleaks_rule": m.Rule, "description": m.Description, "secret": m.Redacted, "fingerprint": m.Fingerprint}
		if o != nil {
			where = fmt.Sprintf("cell %d output %d", c.Index, o.Index)
			fields["output"] = o.Index
			fields["output_type"] = o.Type
			if t.MIME != "" {
				fields["mime"] = t.MIME
			}
		}
		f.Evidence = finding.Evidence{
			Text:   fmt.Sprintf("%s in %s, line %d: %s", m.Rule, where, m.Line+1, m.Redacted),
			Fields: fields,
		}
		a.res.Add(f)
	}
	return nil
}

// personal reports personal data per kind in one output, counting distinct
// values over all its representations.
func (a *analysis) personal(c *Cell, o *Output) {
	type acc struct {
		values map[string]bool
		t      *Text
		off    int
	}
	byKind := map[pii.Kind]*acc{}
	var order []pii.Kind
	for _, t := range plainFirst(o.Texts) {
		for _, m := range pii.Find(t.S) {
			k := byKind[m.Kind]
			if k == nil {
				k = &acc{values: map[string]bool{}, t: t, off: m.Start}
				byKind[m.Kind] = k
				order = append(order, m.Kind)
			}
			k.values[normValue(t.S[m.Start:m.End])] = true
		}
	}
	for _, kind := range order {
		k := byKind[kind]
		f := a.in.NewFinding(RulePII)
		if pii.Sensitive(kind) {
			f.Severity = finding.High
		}
		f.Location = a.loc(k.t, k.off)
		n := len(k.values)
		f.Evidence = finding.Evidence{
			Text: fmt.Sprintf("%d distinct %s value%s in cell %d output %d (first at output line %d; values redacted)",
				n, kind, plural(n), c.Index, o.Index, k.t.CellLine(k.off)),
			Fields: map[string]any{"cell": c.Index, "output": o.Index, "output_type": o.Type, "kind": string(kind),
				"count": n, "cell_line": k.t.CellLine(k.off)},
		}
		a.res.Add(f)
	}
}

// plainFirst orders an output's texts so that locations point at the
// plain-text representation when there is one.
func plainFirst(ts []*Text) []*Text {
	out := make([]*Text, 0, len(ts))
	for _, t := range ts {
		if t.MIME == "text/plain" || t.MIME == "" {
			out = append(out, t)
		}
	}
	for _, t := range ts {
		if t.MIME != "text/plain" && t.MIME != "" {
			out = append(out, t)
		}
	}
	return out
}

func normValue(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(s))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (a *analysis) shell(c *Cell) {
	for _, cmd := range shellCommands(c.Source.S) {
		facts := AnalyzeShell(cmd.Text)
		off := lineOffset(c.Source.S, cmd.Line)
		shown, err := secret.RedactIn(a.ctx, firstLine(cmd.Text))
		if err != nil {
			shown = "[command not shown]"
		}
		for _, p := range facts.Pipes {
			f := a.in.NewFinding(RulePipeShell)
			f.Location = a.loc(c.Source, off)
			f.Evidence = finding.Evidence{
				Text: fmt.Sprintf("cell %d line %d: %s output is run by %s: %s", c.Index, cmd.Line+1,
					p.Downloader, p.Interpreter, clip(shown, 160)),
				Fields: map[string]any{"cell": c.Index, "cell_line": cmd.Line + 1, "downloader": p.Downloader,
					"interpreter": p.Interpreter},
			}
			a.res.Add(f)
		}
		for _, in := range facts.Installs {
			f := a.in.NewFinding(RuleInstall)
			f.Location = a.loc(c.Source, off)
			var notes []string
			if len(in.Unpinned) > 0 {
				f.Severity = finding.Medium
				notes = append(notes, fmt.Sprintf("unpinned: %s", strings.Join(in.Unpinned, ", ")))
			}
			if in.IndexURL != "" && !strings.Contains(in.IndexURL, "pypi.org") {
				f.Severity = max(f.Severity, finding.Medium)
				notes = append(notes, "index URL "+redactURL(in.IndexURL))
			}
			if len(in.TrustedHosts) > 0 {
				f.Severity = max(f.Severity, finding.Medium)
				notes = append(notes, "trusted host "+strings.Join(in.TrustedHosts, ", "))
			}
			var squats []map[string]string
			if in.Tool == "pip" {
				for _, r := range in.Requirements {
					name := requirementName(r)
					if name == "" {
						continue
					}
					if ts, ok := deps.CheckTyposquat(name); ok {
						f.Severity = finding.High
						squats = append(squats, map[string]string{"name": name, "resembles": ts.Target, "how": ts.How})
						notes = append(notes, fmt.Sprintf("%s resembles %s (%s)", name, ts.Target, ts.How))
					}
				}
			}
			if len(in.ExtraIndex) > 0 {
				f.Severity = finding.High
				var us []string
				for _, u := range in.ExtraIndex {
					us = append(us, redactURL(u))
				}
				notes = append(notes, "extra index URL "+strings.Join(us, ", ")+" (dependency confusion)")
			}
			what := strings.Join(in.Requirements, " ")
			if r, err := secret.RedactIn(a.ctx, what); err == nil {
				what = r
			}
			if len(in.ReqFiles) > 0 {
				what = strings.TrimSpace(what + " -r " + strings.Join(in.ReqFiles, " -r "))
			}
			text := fmt.Sprintf("cell %d line %d: %s install %s", c.Index, cmd.Line+1, in.Tool, clip(what, 160))
			if len(notes) > 0 {
				text += " (" + strings.Join(notes, "; ") + ")"
			}
			fields := map[string]any{"cell": c.Index, "cell_line": cmd.Line + 1, "tool": in.Tool,
				"requirements": nonNil(in.Requirements), "unpinned": nonNil(in.Unpinned)}
			if len(in.ReqFiles) > 0 {
				fields["requirement_files"] = in.ReqFiles
			}
			if in.IndexURL != "" {
				fields["index_url"] = redactURL(in.IndexURL)
			}
			if len(in.ExtraIndex) > 0 {
				var us []string
				for _, u := range in.ExtraIndex {
					us = append(us, redactURL(u))
				}
				fields["extra_index_urls"] = us
			}
			if len(in.Channels) > 0 {
				fields["channels"] = in.Channels
			}
			if len(squats) > 0 {
				fields["typosquats"] = squats
			}
			f.Evidence = finding.Evidence{Text: text, Fields: fields}
			a.res.Add(f)
		}
	}
}

var reReqName = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:[=<>!~;@]|$)`)

// requirementName returns the PEP 503-normalised project name of a
// requirement ("Torch_Vision[extra]>=1" → "torch-vision"), or "" for paths,
// URLs and unresolved variables.
func requirementName(r string) string {
	if i := strings.Index(r, "@"); i > 0 && !strings.Contains(r[:i], "/") {
		r = r[:i]
	}
	if strings.ContainsAny(r, "/\\{}$") {
		return ""
	}
	m := reReqName.FindStringSubmatch(strings.TrimSpace(r))
	if m == nil {
		return ""
	}
	return strings.Trim(reSep.ReplaceAllString(strings.ToLower(m[1]), "-"), "-")
}

var reSep = regexp.MustCompile(`[-_.]+`)

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// redactURL hides credentials in index URLs (https://user:token@host/...).
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = "REDACTED@" + host[i+1:]
	}
	if path != "" {
		return scheme + "://" + host + "/" + path
	}
	return scheme + "://" + host
}

func lineOffset(s string, line int) int {
	off := 0
	for i := 0; i < line; i++ {
		j := strings.IndexByte(s[off:], '\n')
		if j < 0 {
			return off
		}
		off += j + 1
	}
	return off
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// sourceBlobs decodes long base64 runs in a cell's source.
func (a *analysis) sourceBlobs(c *Cell) {
	for _, r := range base64Runs(c.Source.S) {
		enc := c.Source.S[r.start:r.end]
		data, err := decodeB64([]byte(enc))
		if err != nil || len(data) == 0 {
			continue
		}
		kind := payloadKind(data[:min(len(data), 64)])
		if kind == "" && len(data) < largeBlob {
			continue
		}
		loc := a.loc(c.Source, r.start)
		where := fmt.Sprintf("cell %d line %d", c.Index, c.Source.CellLine(r.start))
		a.report(c, loc, where, "", kind, data, len(enc))
	}
}

// blob checks a base64 output or attachment.
func (a *analysis) blob(c *Cell, b *Blob) {
	loc := a.in.Location()
	loc.Line, loc.Pointer = b.Line, b.Pointer
	where := fmt.Sprintf("cell %d %s", c.Index, strings.TrimPrefix(b.Pointer, c.Pointer+"/"))
	if b.Undecodable {
		if !isImage(b.MIME) && b.Encoded >= largeBlob {
			f := a.in.NewFinding(RuleBlob)
			f.Location = loc
			f.Evidence = finding.Evidence{Text: fmt.Sprintf("%s: %d characters of %s that is not base64", where, b.Encoded, b.MIME),
				Fields: map[string]any{"cell": c.Index, "mime": b.MIME, "encoded_size": b.Encoded}}
			a.res.Add(f)
		}
		return
	}
	kind := payloadKind(b.Head)
	if isImage(b.MIME) {
		if imageMagic(b.MIME, b.Head) {
			return
		}
		data := b.Data
		if data == nil {
			data = b.Head
		}
		if kind == "" {
			f := a.in.NewFinding(RuleBlob)
			f.Severity = finding.Medium
			f.Location = loc
			f.Evidence = finding.Evidence{
				Text:   fmt.Sprintf("%s: declared %s but the %d decoded bytes are not that image format", where, b.MIME, len(data)),
				Fields: map[string]any{"cell": c.Index, "mime": b.MIME, "decoded_size": len(data)},
			}
			a.res.Add(f)
			return
		}
		a.report(c, loc, where, b.MIME, kind, data, b.Encoded)
		return
	}
	if kind == "" && b.Encoded*3/4 < largeBlob {
		return
	}
	data := b.Data
	if data == nil {
		data = b.Head
	}
	a.report(c, loc, where, b.MIME, kind, data, b.Encoded)
}

// report files an embedded payload (and scans it) or a large blob.
func (a *analysis) report(c *Cell, loc finding.Location, where, mime, kind string, data []byte, encoded int) {
	fields := map[string]any{"cell": c.Index, "decoded_size": len(data), "encoded_size": encoded}
	if mime != "" {
		fields["mime"] = mime
	}
	if kind == "" {
		f := a.in.NewFinding(RuleBlob)
		f.Location = loc
		f.Evidence = finding.Evidence{Text: fmt.Sprintf("%s: base64 blob of %d bytes", where, len(data)), Fields: fields}
		a.res.Add(f)
		return
	}
	a.blobs++
	member := fmt.Sprintf("%s#base64-%d", strings.TrimPrefix(loc.Pointer, "/"), a.blobs)
	fields["payload"] = kind
	fields["member"] = a.in.MemberPath(member)
	f := a.in.NewFinding(RuleEmbedded)
	if kind != "pickle" {
		f.Severity = finding.Medium
	}
	f.Location = loc
	f.Evidence = finding.Evidence{
		Text:   fmt.Sprintf("%s: base64 text decodes to %s (%d bytes), scanned as %s", where, kind, len(data), a.in.MemberPath(member)),
		Fields: fields,
	}
	a.res.Add(f)
	sub := a.in.ScanReaderAt(a.ctx, member, bytes.NewReader(data), int64(len(data)))
	a.res.Merge(sub)
}

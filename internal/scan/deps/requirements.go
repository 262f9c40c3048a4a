package deps

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/mlsec/mlsec/internal/pep440"
)

// Resolver reads a file a requirements file includes with -r or -c.
// name is the path as written, relative to dir (the including file's
// directory, slash-separated, relative to the top manifest's directory).
// It returns the content and the path to show.
type Resolver func(dir, name string) (data []byte, shown string, err error)

// ErrRemoteInclude is returned for -r/-c of a URL (never fetched).
var ErrRemoteInclude = errors.New("remote include not fetched (scans are offline)")

// ParseRequirements parses a pip requirements file. resolve may be nil;
// includes are then reported as notes.
func ParseRequirements(data []byte, resolve Resolver) (*Manifest, error) {
	return ParseRequirementsFile(data, "", resolve)
}

// ParseRequirementsFile is ParseRequirements for a file of the given base
// name, so includes that lead back to it are recognised as cycles.
func ParseRequirementsFile(data []byte, name string, resolve Resolver) (*Manifest, error) {
	m := &Manifest{Kind: KindRequirements}
	p := &reqParser{m: m, resolve: resolve, seen: map[string]bool{}}
	if name != "" {
		p.seen[name] = true
	}
	if err := p.parse(data, "", ".", false, 0); err != nil {
		return nil, err
	}
	return m, nil
}

type reqParser struct {
	m        *Manifest
	resolve  Resolver
	seen     map[string]bool
	includes int
}

// logicalLine is a line after joining continuations.
type logicalLine struct {
	text string
	line int
}

func splitLogical(data []byte) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start := 0
	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		l := strings.TrimRight(string(raw), "\r")
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") && !commentStart(l) {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			if i < len(lines)-1 {
				continue
			}
		} else {
			cur.WriteString(l)
		}
		out = append(out, logicalLine{text: cur.String(), line: start})
		cur.Reset()
	}
	return out
}

// commentStart reports whether a "#" comment starts the line (a trailing
// backslash inside a comment is no continuation).
func commentStart(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "#") }

// stripComment removes "#" comments: at the start of a line or after
// white space (pip's rule, so URL fragments survive).
func stripComment(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "#") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

func (p *reqParser) parse(data []byte, file, dir string, constraint bool, depth int) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("requirements %s: not UTF-8 text", shownName(file))
	}
	for _, ll := range splitLogical(data) {
		line := strings.TrimSpace(stripComment(ll.text))
		if line == "" {
			continue
		}
		if err := p.parseLine(line, ll.line, file, dir, constraint, depth); err != nil {
			return err
		}
	}
	return nil
}

func shownName(file string) string {
	if file == "" {
		return "file"
	}
	return file
}

// optArg splits "--opt=value", "--opt value" and "-ovalue" forms for the
// named options; it returns the option's canonical name and its value.
func optArg(line string) (name, value string, ok bool) {
	opts := map[string]string{
		"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c",
		"-i": "-i", "--index-url": "-i", "--extra-index-url": "--extra-index-url",
		"-f": "-f", "--find-links": "-f", "--trusted-host": "--trusted-host",
		"-e": "-e", "--editable": "-e",
	}
	for _, o := range []string{"--requirement", "--constraint", "--index-url", "--extra-index-url", "--find-links", "--trusted-host", "--editable", "-r", "-c", "-i", "-f", "-e"} {
		if !strings.HasPrefix(line, o) {
			continue
		}
		rest := line[len(o):]
		switch {
		case rest == "":
			return opts[o], "", true
		case rest[0] == '=':
			return opts[o], strings.TrimSpace(rest[1:]), true
		case rest[0] == ' ' || rest[0] == '\t':
			return opts[o], strings.TrimSpace(rest), true
		case len(o) == 2: // -rfile
			return opts[o], strings.TrimSpace(rest), true
		}
	}
	return "", "", false
}

func (p *reqParser) parseLine(line string, n int, file, dir string, constraint bool, depth int) error {
	if strings.HasPrefix(line, "-") {
		name, val, ok := optArg(line)
		if !ok {
			// Global options without effect on what we check (--pre,
			// --no-index, --require-hashes, --only-binary …).
			return nil
		}
		switch name {
		case "-r", "-c":
			return p.include(val, n, file, dir, constraint || name == "-c", depth)
		case "-i", "--extra-index-url":
			p.m.Indexes = append(p.m.Indexes, Index{URL: val, Extra: name == "--extra-index-url", Line: n})
		case "-f":
			p.m.Indexes = append(p.m.Indexes, Index{URL: val, Extra: true, Name: "find-links", Line: n})
		case "--trusted-host":
			p.m.TrustedHosts = append(p.m.TrustedHosts, val)
		case "-e":
			args, _ := splitOptions(val)
			return p.addDirect(args, n, file, constraint)
		}
		return nil
	}
	args, opts := splitOptions(line)
	var hashes []string
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch {
		case strings.HasPrefix(o, "--hash="):
			hashes = append(hashes, strings.TrimPrefix(o, "--hash="))
		case o == "--hash" && i+1 < len(opts):
			hashes = append(hashes, opts[i+1])
			i++
		}
	}
	if looksLikeDirect(args) {
		return p.addDirect(args, n, file, constraint)
	}
	r, err := pep440.ParseRequirement(args)
	if err != nil {
		// pip expands ${VAR} from the environment at install time: the
		// version is unknown here. Either way the line is not analysed.
		p.m.Notes = append(p.m.Notes, fmt.Sprintf("%s line %d: not analysed: %v", shownName(file), n, err))
		return nil
	}
	pkg := fromRequirement(r)
	pkg.Hashes, pkg.Line, pkg.File, pkg.Constraint = hashes, n, file, constraint
	return p.m.add(pkg)
}

// splitOptions separates a requirement from trailing per-requirement
// options at the first white-space-separated token starting with "-"
// (pip's break_args_options).
func splitOptions(line string) (args string, opts []string) {
	toks := strings.Fields(line)
	for i, t := range toks {
		if strings.HasPrefix(t, "-") && i > 0 {
			return strings.Join(toks[:i], " "), toks[i:]
		}
	}
	return strings.Join(toks, " "), nil
}

// looksLikeDirect reports a URL or path requirement (not PEP 508 name
// first): "./pkg", "/abs", "git+https://…", "https://…/x.whl", "pkg.whl".
func looksLikeDirect(s string) bool {
	if strings.Contains(s, " @ ") || strings.Contains(s, "@ ") {
		return false
	}
	if strings.Contains(s, "://") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") {
		return true
	}
	l := strings.ToLower(strings.Fields(s + " ")[0])
	return strings.HasSuffix(l, ".whl") || strings.HasSuffix(l, ".tar.gz") || strings.HasSuffix(l, ".zip") ||
		strings.HasPrefix(l, "git+") || strings.HasPrefix(l, "hg+") || strings.HasPrefix(l, "svn+") || strings.HasPrefix(l, "bzr+")
}

// addDirect records a URL/path requirement by its #egg= name (or wheel
// file name) when it has one.
func (p *reqParser) addDirect(spec string, n int, file string, constraint bool) error {
	spec = strings.TrimSpace(spec)
	if r, err := pep440.ParseRequirement(spec); err == nil && r.URL != "" {
		pkg := fromRequirement(r)
		pkg.Line, pkg.File, pkg.Constraint = n, file, constraint
		return p.m.add(pkg)
	}
	name := ""
	if i := strings.Index(spec, "#"); i >= 0 {
		if q, err := url.ParseQuery(spec[i+1:]); err == nil {
			name = q.Get("egg")
		}
	}
	if name == "" {
		base := path.Base(strings.SplitN(spec, "#", 2)[0])
		if strings.HasSuffix(strings.ToLower(base), ".whl") {
			name = strings.SplitN(base, "-", 2)[0]
		}
	}
	if name == "" || !pep440.ValidName(name) {
		return nil // a local project directory: nothing to look up
	}
	return p.m.add(Package{Name: name, URL: spec, Line: n, File: file, Constraint: constraint})
}

func (p *reqParser) include(name string, n int, file, dir string, constraint bool, depth int) error {
	where := fmt.Sprintf("%s line %d", shownName(file), n)
	if name == "" {
		return fmt.Errorf("%s: -r/-c without a file", where)
	}
	if strings.Contains(name, "://") {
		p.m.Notes = append(p.m.Notes, fmt.Sprintf("%s: %s: %v", where, name, ErrRemoteInclude))
		return nil
	}
	if p.resolve == nil {
		p.m.Notes = append(p.m.Notes, fmt.Sprintf("%s: include %s not resolved (no file system)", where, name))
		return nil
	}
	if depth+1 > MaxIncludeDepth {
		return fmt.Errorf("%s: %w: includes nested deeper than %d", where, ErrLimit, MaxIncludeDepth)
	}
	p.includes++
	if p.includes > MaxIncludes {
		return fmt.Errorf("%s: %w: more than %d includes", where, ErrLimit, MaxIncludes)
	}
	data, shown, err := p.resolve(dir, name)
	if err != nil {
		p.m.Notes = append(p.m.Notes, fmt.Sprintf("%s: include %s: %v", where, name, err))
		return nil
	}
	if p.seen[shown] {
		return nil // include cycle or repeat: pip reads it once in effect
	}
	p.seen[shown] = true
	return p.parse(data, shown, path.Dir(shown), constraint, depth+1)
}

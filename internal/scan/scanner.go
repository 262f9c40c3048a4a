// Package scan runs content analyzers over files, directories and the members
// of containers. It owns the Scanner interface, format detection by content,
// the worker pool, limits and coverage accounting; it knows no format's
// internals. Every scan fails closed: anything that could not be analysed
// makes its artifact inconclusive, never clean.
package scan

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
)

// HeadSize is how many leading bytes detection sees.
const HeadSize = 8192

// FileInfo is what a Scanner's Match sees: a name (only a hint), the size,
// the first bytes, and random access for cheap probes (e.g. reading a zip
// directory). Match must not read much. For a compressed member not yet
// decompressed, Size is -1 and R covers only Head: Match must then decide
// from Head alone (probes that fail must not panic).
type FileInfo struct {
	// Name is the base name of the file or member (an extension hint only).
	Name string
	Size int64
	Head []byte
	R    io.ReaderAt
}

// Ext returns the lower-case extension of Name, with the dot (".pt").
func (f FileInfo) Ext() string { return strings.ToLower(path.Ext(f.Name)) }

// Scanner analyses one format family.
type Scanner interface {
	// Name is a short stable identifier ("pickle", "zip").
	Name() string
	// Match reports whether the content is this scanner's format.
	Match(f FileInfo) bool
	// Scan analyses the content. A returned error makes the artifact
	// inconclusive; findings in the Result are kept either way.
	Scan(ctx context.Context, in *Input) (Result, error)
}

// Input is one piece of content to analyse: a file or a container member.
type Input struct {
	FileInfo
	// Artifact is the top-level artifact that findings belong to.
	Artifact finding.Artifact
	// Member is the path inside containers ("" for the file itself),
	// nesting levels joined by "!".
	Member string
	// Depth is the container nesting depth (0 for a file).
	Depth  int
	Limits Limits

	eng *Engine
	acc *accounting
}

// Location returns a Location for this input (member set).
func (in *Input) Location() finding.Location { return finding.Location{Member: in.Member} }

// NewFinding starts a finding for this input from a rule.
func (in *Input) NewFinding(r *finding.Rule) finding.Finding {
	return finding.New(r, in.Artifact, in.Location())
}

// MemberPath returns the member path a child named name would have.
func (in *Input) MemberPath(name string) string {
	if in.Member == "" {
		return name
	}
	return in.Member + "!" + name
}

// Result is what a Scanner found in one input. Build it with NewResult so
// coverage starts complete and is lowered explicitly.
type Result struct {
	// Format is the format detected from content ("pytorch-zip").
	Format   string
	Findings []finding.Finding
	Coverage Coverage
	// Members counts nested members analysed (for containers).
	Members int
}

// Coverage says whether every part of the input was analysed.
type Coverage struct {
	Complete bool
	Gaps     []string
}

// NewResult returns an empty, complete result for format.
func NewResult(format string) Result {
	return Result{Format: format, Coverage: Coverage{Complete: true}}
}

// Gap records something that could not be analysed; the result becomes
// inconclusive.
func (r *Result) Gap(format string, args ...any) {
	r.Coverage.Complete = false
	r.Coverage.Gaps = append(r.Coverage.Gaps, fmt.Sprintf(format, args...))
}

// Add appends findings.
func (r *Result) Add(fs ...finding.Finding) { r.Findings = append(r.Findings, fs...) }

// Merge folds a nested result into r: findings, gaps and member counts.
func (r *Result) Merge(sub Result) {
	r.Findings = append(r.Findings, sub.Findings...)
	if !sub.Coverage.Complete {
		r.Coverage.Complete = false
		r.Coverage.Gaps = append(r.Coverage.Gaps, sub.Coverage.Gaps...)
	}
	r.Members += sub.Members
}

// Open returns a fresh sequential reader over the whole input.
func (in *Input) Open() *io.SectionReader {
	size := in.Size
	if size < 0 {
		size = 1<<63 - 1
	}
	return io.NewSectionReader(in.R, 0, size)
}

// ScanInput lets a test or a format scanner run the engine's detection over a
// standalone input (no container parent).
func (e *Engine) ScanInput(ctx context.Context, name string, r io.ReaderAt, size int64, art finding.Artifact) Result {
	in := &Input{
		FileInfo: FileInfo{Name: name, Size: size, R: r},
		Artifact: art,
		Limits:   e.opts.Limits,
		eng:      e,
		acc:      &accounting{},
	}
	head, err := readHead(io.NewSectionReader(r, 0, size))
	if err != nil {
		res := Result{}
		res.Gap("%s: read: %v", name, err)
		return res
	}
	in.Head = head
	return e.run(ctx, in, true)
}

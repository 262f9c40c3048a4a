// Package archive scans containers: zip (tolerant of tampered headers and
// directories), tar, 7z and the single-stream compressors gzip, bzip2, xz,
// lzma-alone, zstd, lz4 and raw zlib. It never parses members itself: every
// member goes back to the scan engine (scan.Input.ScanReaderAt for stored
// data, zero copy; scan.Input.ScanStream for compressed data, under the
// engine's decompression limits), which detects its format by content.
//
// It also labels containers by their members (pytorch-zip, torchscript,
// keras-v3, numpy-npz, pytorch-tar) and reports container tampering: local
// headers that disagree with the central directory, entries hidden from it,
// fake encryption flags, duplicate names, path traversal and data outside
// the archive structure.
package archive

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

var tamperRefs = []finding.Reference{
	finding.CWE(345),
	finding.ATLAS("AML.T0010.003"),
	finding.ATLAS("AML.T0018.002"),
	finding.OWASPML("ML06"),
}

const tamperRemediation = "Do not load the archive. Container parsers disagree about tampered archives, so what a " +
	"scanner reads may not be what the loader runs. Obtain the model from its publisher again, verify its " +
	"signature or digest, and prefer formats without code (safetensors)."

// Rules of the container scanners.
var (
	RuleHeaderMismatch = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-001",
		Name:     "ZipHeaderMismatch",
		Title:    "Zip local header and central directory disagree",
		Severity: finding.High,
		Summary: "An entry's local file header and its central directory record give different names, " +
			"compression methods, sizes, CRCs or encryption flags. Different readers then extract different " +
			"content, a known way to slip a payload past scanners; mlsec scanned both views.",
		Remediation: tamperRemediation,
		References:  tamperRefs,
	})
	RuleHiddenEntry = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-002",
		Name:     "ZipHiddenEntry",
		Title:    "Zip entry hidden from the central directory",
		Severity: finding.High,
		Summary: "A local file header holds an entry that the central directory does not list. Readers that " +
			"walk local headers (streaming unzip, some loaders) see content that directory-based scanners " +
			"miss; mlsec scanned it.",
		Remediation: tamperRemediation,
		References:  tamperRefs,
	})
	RuleFakeEncryption = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-003",
		Name:     "ZipFakeEncryption",
		Title:    "Zip entry flagged as encrypted but stored in clear",
		Severity: finding.High,
		Summary: "General-purpose flag bit 0 (encrypted) is set on an entry whose data is not encrypted (its " +
			"CRC matches the clear data). Scanners that skip encrypted entries miss it while loaders that " +
			"ignore the flag read it; mlsec scanned it.",
		Remediation: tamperRemediation,
		References:  tamperRefs,
	})
	RulePathTraversal = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-004",
		Name:     "ArchivePathTraversal",
		Title:    "Archive member path escapes the extraction directory",
		Severity: finding.Medium,
		Summary: "A member name (or link target) is absolute or climbs out with \"..\" (zip-slip). Extracting " +
			"the archive writes outside the target directory, e.g. over a Python module that is imported later.",
		Remediation: "Do not extract the archive with tools that honour such paths; reject it or extract with a " +
			"library that sanitises names.",
		References: []finding.Reference{finding.CWE(22), finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06")},
	})
	RuleDuplicateEntry = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-005",
		Name:     "ArchiveDuplicateEntry",
		Title:    "Archive holds two members with the same name",
		Severity: finding.Medium,
		Summary: "Two members share one name. Readers disagree about which one wins, so a scanner may check " +
			"one copy while the loader uses the other; mlsec scanned both.",
		Remediation: tamperRemediation,
		References:  tamperRefs,
	})
	RuleExtraData = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-006",
		Name:     "ArchiveExtraData",
		Title:    "Data outside the archive structure",
		Severity: finding.Medium,
		Summary: "Bytes precede the first zip entry or follow the end of the archive. Such polyglot files " +
			"parse as something else too (a loader that checks the first bytes may read a pickle there); " +
			"mlsec scanned the extra data as content.",
		Remediation: tamperRemediation,
		References:  tamperRefs,
	})
	RuleOverlap = finding.MustRegister(finding.Rule{
		ID:       "MLS-ARC-007",
		Name:     "ZipOverlappingEntries",
		Title:    "Zip entries overlap",
		Severity: finding.High,
		Summary: "One entry's local header lies inside another entry's data. Zip tools never write this; it is " +
			"how non-recursive zip bombs expand a small file many times over, and how crafted archives show " +
			"different content to different readers. mlsec scanned every entry under its limits.",
		Remediation: tamperRemediation,
		References:  tamperRefs,
	})
)

// Scanners returns every container scanner, in the order they belong in
// the registry (before any content-detected format such as pickle).
func Scanners() []scan.Scanner {
	return []scan.Scanner{
		Zip{}, SevenZip{}, Tar{},
		Gzip{}, Bzip2{}, XZ{}, Zstd{}, LZ4{}, LZMA{}, Zlib{},
	}
}

// traversal reports whether a member name would escape an extraction
// directory: absolute (Unix, Windows drive or UNC) or with a ".." element.
func traversal(name string) bool {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") {
		return true
	}
	if len(n) >= 2 && n[1] == ':' && ((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z')) {
		return true
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// traversalFinding reports a zip-slip name (what is "member" or "link").
func traversalFinding(in *scan.Input, name, what string) finding.Finding {
	f := in.NewFinding(RulePathTraversal)
	f.Location.Member = in.MemberPath(name)
	f.Evidence = finding.Evidence{
		Text:   fmt.Sprintf("%s path %q", what, name),
		Fields: map[string]any{"name": name, "kind": what},
	}
	return f
}

// memberName makes a printable member name for an entry ("" is replaced).
func memberName(name string, off int64) string {
	if name == "" {
		return fmt.Sprintf("<unnamed@%d>", off)
	}
	return name
}

// ctxReaderAt fails reads once the context is done, so long scans of
// large members stop on time.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

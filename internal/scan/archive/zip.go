package archive

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/pytorch"
)

// crcCheckMax: stored members up to this size whose content a scanner
// analysed get their CRC checked (tensor data, which no scanner claims, is
// never read).
const crcCheckMax = 64 << 20

// Zip scans zip archives (PyTorch checkpoints, TorchScript, .keras, .npz,
// plain zips) with the tolerant reader.
type Zip struct{}

// Name implements scan.Scanner.
func (Zip) Name() string { return "zip" }

// matchTail bounds how far from the end Match looks for an end record: a
// comment longer than this hides a prepended-data zip from detection (the
// content at the start is then scanned as what it is).
const matchTail = 4096 + 22

// Match accepts content that starts with a zip header, or ends with a
// consistent end-of-central-directory record (data prepended to a zip).
func (Zip) Match(f scan.FileInfo) bool {
	h := f.Head
	if len(h) >= 4 {
		switch u32(h) {
		case sigLocal, sigDesc:
			return true
		case sigEOCD:
			return len(h) >= 22
		}
	}
	if f.Size < 22 || f.R == nil {
		return false
	}
	tailLen := min(f.Size, matchTail)
	tail := make([]byte, tailLen)
	if n, _ := f.R.ReadAt(tail, f.Size-tailLen); int64(n) != tailLen {
		return false
	}
	for i := len(tail) - 22; i >= 0; i-- {
		if tail[i] != 'P' || u32(tail[i:]) != sigEOCD {
			continue
		}
		p := f.Size - tailLen + int64(i)
		rec := tail[i:]
		cdSize, cdOff := int64(u32(rec[12:])), int64(u32(rec[16:]))
		// The record (and its comment) must end the file: a zip inside a
		// tar or another format is that format's member, not this match.
		if p+22+int64(u16(rec[20:])) != f.Size || cdSize > p || cdSize == 0 {
			continue
		}
		var sig [4]byte
		if n, _ := f.R.ReadAt(sig[:], p-cdSize); n == 4 && u32(sig[:]) == sigCentral {
			return true
		}
		if cdOff+4 <= p {
			if n, _ := f.R.ReadAt(sig[:], cdOff); n == 4 && u32(sig[:]) == sigCentral {
				return true
			}
		}
	}
	return false
}

// Scan implements scan.Scanner.
func (Zip) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult("zip")
	if in.Size < 0 {
		return res, fmt.Errorf("zip: unknown size")
	}
	r := ctxReaderAt{ctx: ctx, r: in.R}
	dir, err := readZipDir(ctx, r, in.Size, max(in.Limits.MaxMembers, 1))
	if err != nil {
		return res, fmt.Errorf("zip: %w", err)
	}
	self := where(in)
	for _, g := range dir.gaps {
		res.Gap("%s: %s", self, g)
	}
	for _, is := range dir.issues {
		res.Add(issueFinding(in, is))
	}
	names := make([]string, 0, len(dir.views))
	seenName := map[string]bool{}
	for _, v := range dir.views {
		if !seenName[v.name] {
			seenName[v.name] = true
			names = append(names, v.name)
			if traversal(v.name) {
				res.Add(traversalFinding(in, v.name, "member"))
			}
		}
	}
	res.Format = classifyZip(names)

	scanned := 0
	for _, v := range dir.views {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if strings.HasSuffix(v.name, "/") && v.csize == 0 {
			continue // directory
		}
		if scanned >= in.Limits.MaxMembers {
			res.Gap("%s: more than %d members: the rest were not scanned", self, in.Limits.MaxMembers)
			break
		}
		scanned++
		scanZipEntry(ctx, in, r, v, &res)
	}

	if dir.prefix > 0 {
		res.Add(extraFinding(in, "prepended", 0, dir.prefix))
		res.Merge(in.ScanReaderAt(ctx, "<prepended data>", io.NewSectionReader(r, 0, dir.prefix), dir.prefix))
	}
	if dir.suffix > 0 && dir.suffix < in.Size {
		n := in.Size - dir.suffix
		res.Add(extraFinding(in, "appended", dir.suffix, n))
		res.Merge(in.ScanReaderAt(ctx, "<appended data>", io.NewSectionReader(r, dir.suffix, n), n))
	}
	if res.Format == "torchscript" {
		reviewTorchScript(ctx, in, r, dir.views, &res)
	}
	return res, nil
}

func where(in *scan.Input) string {
	if in.Member != "" {
		return in.Member
	}
	return in.Name
}

// zipOpener returns a function that decodes the entry's data, or false
// when the method is not supported.
func zipOpener(e *zipEntry, raw *io.SectionReader) (func() (io.ReadCloser, error), bool) {
	fresh := func() io.Reader { return io.NewSectionReader(raw, 0, raw.Size()) }
	switch e.method {
	case 0:
		return func() (io.ReadCloser, error) { return io.NopCloser(fresh()), nil }, true
	case 8:
		return func() (io.ReadCloser, error) { return newFlate(fresh()) }, true
	case 12:
		return func() (io.ReadCloser, error) { return newBzip2(fresh()) }, true
	case 14:
		return func() (io.ReadCloser, error) { return newZipLZMA(fresh(), e.usize, e.flags&0x02 != 0) }, true
	case 93:
		return func() (io.ReadCloser, error) { return newZstd(fresh()) }, true
	case 95:
		return func() (io.ReadCloser, error) { return newXZ(fresh()) }, true
	}
	return nil, false
}

func scanZipEntry(ctx context.Context, in *scan.Input, r io.ReaderAt, e *zipEntry, res *scan.Result) {
	name := memberName(e.name, e.hdrOff)
	path := in.MemberPath(name)
	if e.method == 99 || e.flags&flagStrongEnc != 0 {
		res.Gap("%s: encrypted member (AES or strong encryption) cannot be analysed", path)
		return
	}
	csize := e.csize
	truncated := e.truncated
	if csize < 0 || csize > in.Size-e.dataOff {
		csize = in.Size - e.dataOff
		truncated = true
	}
	if truncated {
		res.Gap("%s: member data truncated (archive cut short or sizes wrong)", path)
	}
	raw := io.NewSectionReader(r, e.dataOff, csize)
	open, ok := zipOpener(e, raw)
	if !ok {
		res.Gap("%s: unsupported compression method %d", path, e.method)
		return
	}
	encrypted := e.flags&flagEncrypted != 0
	if encrypted {
		if truncated {
			res.Gap("%s: encrypted member cannot be analysed", path)
			return
		}
		if err := verify(ctx, open, e.crc, in.Limits.MaxMemberSize); err != nil {
			res.Gap("%s: encrypted member cannot be analysed", path)
			return
		}
		f := in.NewFinding(RuleFakeEncryption)
		f.Location.Member = path
		f.Location = f.Location.At(e.hdrOff)
		f.Evidence = finding.Evidence{
			Text:   fmt.Sprintf("flag bit 0 (encrypted) is set on %q but its data decodes in clear with a matching CRC %08x", e.name, e.crc),
			Fields: map[string]any{"flags": e.flags, "crc": e.crc},
		}
		res.Add(f)
	}
	if e.method == 0 {
		sub := in.ScanReaderAt(ctx, name, raw, csize)
		if !encrypted && !truncated && sub.Format != "" && csize <= crcCheckMax {
			if err := verify(ctx, open, e.crc, csize); err != nil {
				sub.Gap("%s: %v", path, err)
			}
		}
		res.Merge(sub)
		return
	}
	usize := e.usize
	if truncated {
		usize = -1
	}
	checked := func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		if truncated {
			return rc, nil
		}
		return newCRCReader(rc, e.crc, usize), nil
	}
	res.Merge(in.ScanStream(ctx, name, csize, strict(checked)))
}

func issueFinding(in *scan.Input, is zipIssue) finding.Finding {
	var r *finding.Rule
	switch is.kind {
	case "hidden":
		r = RuleHiddenEntry
	case "duplicate":
		r = RuleDuplicateEntry
	case "overlap":
		r = RuleOverlap
	default:
		r = RuleHeaderMismatch
	}
	f := in.NewFinding(r)
	if is.member != "" {
		f.Location.Member = in.MemberPath(is.member)
	}
	if off, ok := is.fields["offset"].(int64); ok {
		f.Location = f.Location.At(off)
	}
	f.Evidence = finding.Evidence{Text: is.text, Fields: is.fields}
	return f
}

func extraFinding(in *scan.Input, kind string, off, n int64) finding.Finding {
	f := in.NewFinding(RuleExtraData)
	f.Location = f.Location.At(off)
	f.Evidence = finding.Evidence{
		Text:   fmt.Sprintf("%d bytes of %s data outside the zip structure", n, kind),
		Fields: map[string]any{"kind": kind, "offset": off, "length": n},
	}
	return f
}

// classifyZip names the format a zip holds from its member names.
func classifyZip(names []string) string {
	if len(names) == 0 {
		return "zip"
	}
	has := make(map[string]bool, len(names))
	for _, n := range names {
		has[n] = true
	}
	hasPrefix := func(p string) bool {
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				return true
			}
		}
		return false
	}
	var torch string
	for _, n := range names {
		if n != "data.pkl" && !strings.HasSuffix(n, "/data.pkl") {
			continue
		}
		dir := strings.TrimSuffix(n, "data.pkl")
		if hasPrefix(dir+"code/") && (has[dir+"constants.pkl"] || hasPrefix(dir+".data/")) {
			return "torchscript"
		}
		if has[dir+"version"] || has[dir+".data/version"] || hasPrefix(dir+".data/") || hasPrefix(dir+"data/") {
			torch = "pytorch-zip"
		}
	}
	if torch != "" {
		return torch
	}
	if has["config.json"] && has["metadata.json"] {
		return "keras-v3"
	}
	npy := true
	for _, n := range names {
		if !strings.HasSuffix(strings.ToLower(n), ".npy") {
			npy = false
			break
		}
	}
	if npy {
		return "numpy-npz"
	}
	return "zip"
}

// reviewTorchScript reads the code/ sources of a TorchScript archive
// (bounded) and reports them.
func reviewTorchScript(ctx context.Context, in *scan.Input, r io.ReaderAt, views []*zipEntry, res *scan.Result) {
	const perFile, total = 1 << 20, 16 << 20
	var files []pytorch.Source
	var read int64
	seen := map[string]bool{}
	for _, v := range views {
		if !isTorchScriptCode(v.name) || seen[v.name] || v.dataOff < 0 || v.csize < 0 || v.csize > in.Size-v.dataOff {
			continue
		}
		seen[v.name] = true
		open, ok := zipOpener(v, io.NewSectionReader(r, v.dataOff, v.csize))
		if !ok || v.flags&flagEncrypted != 0 {
			continue
		}
		if read >= total {
			res.Gap("%s: TorchScript code beyond %d bytes was not reviewed", where(in), total)
			break
		}
		b, complete, err := readBounded(ctx, open, perFile)
		if err != nil {
			res.Gap("%s: read TorchScript code: %v", in.MemberPath(v.name), err)
			continue
		}
		if !complete {
			res.Gap("%s: TorchScript source longer than %d bytes: only its start was reviewed", in.MemberPath(v.name), perFile)
		}
		read += int64(len(b))
		files = append(files, pytorch.Source{Name: v.name, Member: in.MemberPath(v.name), Text: b})
	}
	res.Add(pytorch.ReviewTorchScript(in, files)...)
}

func isTorchScriptCode(name string) bool {
	return strings.HasSuffix(name, ".py") && (strings.HasPrefix(name, "code/") || strings.Contains(name, "/code/"))
}

func readBounded(ctx context.Context, open func() (io.ReadCloser, error), limit int64) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	rc, err := open()
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b[:limit], false, nil
	}
	return b, true, nil
}

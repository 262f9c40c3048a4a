package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/mlsec/mlsec/internal/scan"
)

// Tar scans tar archives (ustar, GNU, pax and old v7). Member data is
// contiguous in the file, so members go to the engine as section readers
// without copying; skipping data is a seek.
type Tar struct{}

// Name implements scan.Scanner.
func (Tar) Name() string { return "tar" }

// Match accepts a ustar/GNU magic at offset 257 with a valid header
// checksum, or an old v7 header whose checksum is valid.
func (Tar) Match(f scan.FileInfo) bool {
	return tarHeaderOK(f.Head)
}

// tarHeaderOK validates one 512-byte header block: its checksum (unsigned
// or signed sum, as old tars differ) and, without a magic, a plausible
// v7 layout (octal fields, a name).
func tarHeaderOK(h []byte) bool {
	if len(h) < 512 {
		return false
	}
	h = h[:512]
	want, ok := parseOctal(h[148:156])
	if !ok {
		return false
	}
	var uns, sig int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		uns += int64(c)
		sig += int64(int8(c))
	}
	if want != uns && want != sig {
		return false
	}
	magic := h[257:263]
	if bytes.Equal(magic, []byte("ustar\x00")) || bytes.Equal(magic, []byte("ustar ")) {
		return true
	}
	// v7: no magic; require a name and octal mode/size/mtime fields, and a
	// checksum that is not the all-blank value of an empty block.
	if h[0] == 0 || uns == 8*' ' {
		return false
	}
	for _, fld := range [][]byte{h[100:108], h[124:136], h[136:148]} {
		if _, ok := parseOctal(fld); !ok {
			return false
		}
	}
	return h[156] == 0 || (h[156] >= '0' && h[156] <= '7')
}

// parseOctal parses a NUL/space padded octal field; an empty field is 0.
func parseOctal(b []byte) (int64, bool) {
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(s, 8, 64)
	return v, err == nil && v >= 0
}

// Scan implements scan.Scanner.
func (Tar) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult("tar")
	if in.Size < 0 {
		return res, errors.New("tar: unknown size")
	}
	sr := io.NewSectionReader(ctxReaderAt{ctx: ctx, r: in.R}, 0, in.Size)
	tr := tar.NewReader(sr)
	var names []string
	seen := map[string]int{}
	count := 0
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Gap("%s: tar: %v (members after this point were not scanned)", where(in), err)
			break
		}
		count++
		if count > in.Limits.MaxMembers {
			res.Gap("%s: more than %d members: the rest were not scanned", where(in), in.Limits.MaxMembers)
			break
		}
		name := hdr.Name
		if traversal(name) {
			res.Add(traversalFinding(in, name, "member"))
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			bad := traversal(hdr.Linkname)
			if hdr.Typeflag == tar.TypeSymlink {
				bad = escapes(name, hdr.Linkname)
			}
			if bad {
				res.Add(traversalFinding(in, name+" -> "+hdr.Linkname, "link"))
			}
			continue
		case tar.TypeReg, tar.TypeChar, tar.TypeGNUSparse, tar.TypeCont:
		default:
			// '\x00' is a regular file in old tars.
			if hdr.Typeflag != 0 {
				continue
			}
		}
		names = append(names, name)
		seen[name]++
		if seen[name] == 2 {
			f := in.NewFinding(RuleDuplicateEntry)
			f.Location.Member = in.MemberPath(name)
			f.Evidence.Text = fmt.Sprintf("several members are named %q; extraction keeps the last", name)
			res.Add(f)
		}
		if hdr.Typeflag == tar.TypeGNUSparse || len(hdr.PAXRecords["GNU.sparse.map"]) > 0 || hdr.PAXRecords["GNU.sparse.major"] != "" {
			res.Gap("%s: sparse tar member not analysed", in.MemberPath(name))
			continue
		}
		// archive/tar has read exactly the header blocks: the data starts
		// at the current position.
		off, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			res.Gap("%s: tar: %v", where(in), err)
			break
		}
		size := hdr.Size
		if off+size > in.Size {
			res.Gap("%s: member data truncated", in.MemberPath(name))
			size = in.Size - off
		}
		res.Merge(in.ScanReaderAt(ctx, memberName(name, off), io.NewSectionReader(in.R, off, size), size))
		// archive/tar seeks over data and padding without noticing the
		// end of the file: check that the member fits.
		if end := off + (hdr.Size+511)/512*512; end > in.Size && size == hdr.Size {
			res.Gap("%s: archive ends inside the member's padding (truncated)", in.MemberPath(name))
		}
	}
	res.Format = classifyTar(names)
	return res, nil
}

// escapes reports whether a relative symlink target leaves the archive
// root from the link's directory.
func escapes(name, target string) bool {
	if strings.HasPrefix(target, "/") {
		return true
	}
	depth := 0
	dir := path.Dir(strings.TrimPrefix(path.Clean("/"+name), "/"))
	if dir != "." {
		depth = strings.Count(dir, "/") + 1
	}
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		case ".", "":
		default:
			depth++
		}
	}
	return false
}

// classifyTar labels PyTorch's pre-1.0 tar checkpoints.
func classifyTar(names []string) string {
	has := map[string]bool{}
	for _, n := range names {
		has[strings.TrimPrefix(path.Clean(n), "./")] = true
	}
	if has["pickle"] && has["storages"] && has["tensors"] {
		return "pytorch-tar"
	}
	return "tar"
}

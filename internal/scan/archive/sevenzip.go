package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bodgit/sevenzip"

	"github.com/mlsec/mlsec/internal/scan"
)

// maxSevenZipHeader bounds the 7z header the library reads into memory.
const maxSevenZipHeader = 16 << 20

// SevenZip scans 7z archives.
type SevenZip struct{}

// Name implements scan.Scanner.
func (SevenZip) Name() string { return "7z" }

var sevenZipMagic = []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}

// Match checks the 7z signature header.
func (SevenZip) Match(f scan.FileInfo) bool {
	return len(f.Head) >= 32 && bytes.HasPrefix(f.Head, sevenZipMagic)
}

// Scan implements scan.Scanner.
func (SevenZip) Scan(ctx context.Context, in *scan.Input) (res scan.Result, err error) {
	res = scan.NewResult("7z")
	if in.Size < 32 {
		return res, errors.New("7z: truncated signature header")
	}
	if next := binary.LittleEndian.Uint64(in.Head[20:]); next > maxSevenZipHeader {
		return res, fmt.Errorf("7z: header of %d bytes exceeds the %d-byte limit", next, maxSevenZipHeader)
	}
	// The 7z library is not ours to harden: a panic in it is one archive's
	// gap, not the scan's end.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("7z: malformed archive (%v)", p)
		}
	}()
	if err := check7z(in.R, in.Size, max(in.Limits.MaxMembers, 1)); err != nil {
		return res, err
	}
	zr, err := sevenzip.NewReader(ctxReaderAt{ctx: ctx, r: in.R}, in.Size)
	if err != nil {
		var re *sevenzip.ReadError
		if errors.As(err, &re) && re.Encrypted {
			return res, errors.New("7z: encrypted archive cannot be analysed")
		}
		return res, fmt.Errorf("7z: %w", err)
	}
	if len(zr.File) > in.Limits.MaxMembers {
		res.Gap("%s: more than %d members: the rest were not scanned", where(in), in.Limits.MaxMembers)
	}
	for i, f := range zr.File {
		if i >= in.Limits.MaxMembers {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		name := memberName(f.Name, int64(i))
		if traversal(f.Name) {
			res.Add(traversalFinding(in, f.Name, "member"))
		}
		if f.UncompressedSize > uint64(in.Limits.MaxMemberSize) {
			res.Gap("%s: member of %d bytes exceeds the %d-byte limit", in.MemberPath(name), f.UncompressedSize, in.Limits.MaxMemberSize)
			continue
		}
		file := f
		res.Merge(in.ScanStream(ctx, name, in.Size, strict(func() (io.ReadCloser, error) {
			rc, err := file.Open()
			if err != nil {
				var re *sevenzip.ReadError
				if errors.As(err, &re) && re.Encrypted {
					return nil, errors.New("encrypted member cannot be analysed")
				}
				return nil, err
			}
			rc = encryptedHint{rc}
			if file.CRC32 == 0 {
				return rc, nil // no CRC recorded
			}
			return newCRCReader(rc, file.CRC32, int64(file.UncompressedSize)), nil
		})))
	}
	return res, nil
}

// encryptedHint names the failure of a member that is encrypted.
type encryptedHint struct{ io.ReadCloser }

func (e encryptedHint) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	var re *sevenzip.ReadError
	if err != nil && errors.As(err, &re) && re.Encrypted {
		err = errors.New("encrypted member cannot be analysed")
	}
	return n, err
}

package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/mlsec/mlsec/internal/scan"
)

// A single-stream compressor holds one member: the decompressed content,
// named after the file without its compression extension.
func scanSingle(ctx context.Context, in *scan.Input, format string, exts []string, name string,
	open func(io.Reader) (io.ReadCloser, error)) (scan.Result, error) {
	res := scan.NewResult(format)
	if name == "" {
		name = innerName(in.Name, exts)
	}
	packed := in.Size
	res.Merge(in.ScanStream(ctx, name, packed, strict(func() (io.ReadCloser, error) {
		return open(in.Open())
	})))
	return res, nil
}

// innerName strips a compression extension ("model.pt.gz" -> "model.pt");
// a name without one is kept, so its extension stays a hint for the member.
func innerName(name string, exts []string) string {
	lower := strings.ToLower(name)
	for _, e := range exts {
		if strings.HasSuffix(lower, e) && len(name) > len(e) {
			inner := name[:len(name)-len(e)]
			switch e {
			case ".tgz", ".tbz2", ".txz", ".tzst":
				inner += ".tar"
			}
			return inner
		}
	}
	return name
}

// Gzip scans gzip streams (several members concatenated are one stream).
type Gzip struct{}

// Name implements scan.Scanner.
func (Gzip) Name() string { return "gzip" }

// Match checks the gzip magic and the deflate method byte.
func (Gzip) Match(f scan.FileInfo) bool {
	return len(f.Head) >= 10 && f.Head[0] == 0x1f && f.Head[1] == 0x8b && f.Head[2] == 8 && f.Head[3]&0xe0 == 0
}

// Scan implements scan.Scanner.
func (Gzip) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	name := gzipName(in.Head)
	if name != "" {
		name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	}
	return scanSingle(ctx, in, "gzip", []string{".gz", ".tgz", ".gzip"}, name, func(r io.Reader) (io.ReadCloser, error) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	})
}

// gzipName returns the FNAME field of a gzip header, when present.
func gzipName(h []byte) string {
	if len(h) < 10 || h[3]&0x08 == 0 {
		return ""
	}
	p := 10
	if h[3]&0x04 != 0 { // FEXTRA
		if len(h) < 12 {
			return ""
		}
		p += 2 + int(binary.LittleEndian.Uint16(h[10:]))
	}
	if p >= len(h) {
		return ""
	}
	end := bytes.IndexByte(h[p:], 0)
	if end <= 0 || end > 255 {
		return ""
	}
	return string(h[p : p+end])
}

// Bzip2 scans bzip2 streams.
type Bzip2 struct{}

// Name implements scan.Scanner.
func (Bzip2) Name() string { return "bzip2" }

// Match checks "BZh", the block size digit and the first block's magic
// (or the end-of-stream magic of an empty stream).
func (Bzip2) Match(f scan.FileInfo) bool {
	h := f.Head
	if len(h) < 10 || h[0] != 'B' || h[1] != 'Z' || h[2] != 'h' || h[3] < '1' || h[3] > '9' {
		return false
	}
	return bytes.Equal(h[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) ||
		bytes.Equal(h[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})
}

// Scan implements scan.Scanner.
func (Bzip2) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	return scanSingle(ctx, in, "bzip2", []string{".bz2", ".tbz2", ".bzip2"}, "", newBzip2)
}

// XZ scans .xz streams.
type XZ struct{}

// Name implements scan.Scanner.
func (XZ) Name() string { return "xz" }

// Match checks the xz stream header magic.
func (XZ) Match(f scan.FileInfo) bool {
	return bytes.HasPrefix(f.Head, []byte{0xfd, '7', 'z', 'X', 'Z', 0})
}

// Scan implements scan.Scanner.
func (XZ) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	return scanSingle(ctx, in, "xz", []string{".xz", ".txz"}, "", newXZ)
}

// Zstd scans zstandard frames.
type Zstd struct{}

// Name implements scan.Scanner.
func (Zstd) Name() string { return "zstd" }

// Match checks the zstd frame magic.
func (Zstd) Match(f scan.FileInfo) bool {
	return bytes.HasPrefix(f.Head, []byte{0x28, 0xb5, 0x2f, 0xfd})
}

// Scan implements scan.Scanner.
func (Zstd) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	return scanSingle(ctx, in, "zstd", []string{".zst", ".zstd", ".tzst"}, "", newZstd)
}

// LZ4 scans LZ4 frames (and the legacy LZ4 format).
type LZ4 struct{}

// Name implements scan.Scanner.
func (LZ4) Name() string { return "lz4" }

// Match checks the LZ4 frame magic and a version 01 descriptor, or the
// legacy magic.
func (LZ4) Match(f scan.FileInfo) bool {
	h := f.Head
	if bytes.HasPrefix(h, []byte{0x04, 0x22, 0x4d, 0x18}) {
		return len(h) >= 7 && h[4]>>6 == 1
	}
	return len(h) >= 8 && bytes.HasPrefix(h, []byte{0x02, 0x21, 0x4c, 0x18})
}

// Scan implements scan.Scanner.
func (LZ4) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	return scanSingle(ctx, in, "lz4", []string{".lz4"}, "", newLZ4)
}

// LZMA scans the legacy .lzma ("lzma-alone") format joblib writes.
type LZMA struct{}

// Name implements scan.Scanner.
func (LZMA) Name() string { return "lzma" }

// Match checks the 13-byte header: a properties byte (lc+lp*9+pb*45, below
// 225; 0x5d for every preset), a dictionary size that is a power of two or
// 2^n+2^(n-1) (or all ones), and a size that is unknown or plausible.
func (LZMA) Match(f scan.FileInfo) bool {
	h := f.Head
	if len(h) < 14 || h[0] >= 225 {
		return false
	}
	if h[0] != 0x5d && !strings.EqualFold(f.Ext(), ".lzma") {
		return false
	}
	dict := binary.LittleEndian.Uint32(h[1:])
	if dict != 0xffffffff {
		ok := false
		for n := 12; n <= 30 && !ok; n++ {
			ok = dict == 1<<n || dict == 1<<n|1<<(n-1)
		}
		if !ok {
			return false
		}
	}
	size := binary.LittleEndian.Uint64(h[5:])
	if size != ^uint64(0) && size > 1<<42 {
		return false
	}
	// The range coder's first byte is always zero.
	return h[13] == 0
}

// Scan implements scan.Scanner.
func (LZMA) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	return scanSingle(ctx, in, "lzma", []string{".lzma"}, "", newLZMA)
}

// Zlib scans raw zlib streams: joblib's zlib compressor writes one with no
// prefix, and joblib before 0.9.3 wrote "ZF" and a padded hex length first.
type Zlib struct{}

// Name implements scan.Scanner.
func (Zlib) Name() string { return "zlib" }

// zfHeader is the length of joblib's old "ZF" prefix: "ZF" plus the
// length in hex, left-justified to len(hex(2**64)) = 19 characters.
const zfHeader = 2 + 19

// Match validates the zlib header: deflate with a window of at most 32
// KiB, the check bits, and no preset dictionary.
func (Zlib) Match(f scan.FileInfo) bool {
	h := f.Head
	if len(h) >= zfHeader+2 && h[0] == 'Z' && h[1] == 'F' && h[2] == '0' && h[3] == 'x' {
		h = h[zfHeader:]
	}
	if !zlibHeader(h) {
		return false
	}
	// Two header bytes match 1 in ~500 random starts (a protocol 0 pickle
	// can begin with one): the deflate data must decode as far as the head
	// goes.
	fr := flate.NewReader(bytes.NewReader(h[2:]))
	defer fr.Close()
	_, err := io.Copy(io.Discard, io.LimitReader(fr, 1<<20))
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

func zlibHeader(h []byte) bool {
	if len(h) < 3 {
		return false
	}
	cmf, flg := h[0], h[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0 && flg&0x20 == 0
}

// Scan implements scan.Scanner.
func (Zlib) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	skip := int64(0)
	if len(in.Head) >= zfHeader+2 && in.Head[0] == 'Z' && in.Head[1] == 'F' && zlibHeader(in.Head[zfHeader:]) {
		skip = zfHeader
	}
	return scanSingle(ctx, in, "zlib", []string{".z", ".zlib"}, "", func(r io.Reader) (io.ReadCloser, error) {
		if skip > 0 {
			if _, err := io.CopyN(io.Discard, r, skip); err != nil {
				return nil, fmt.Errorf("zlib: %w", err)
			}
		}
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		return zr, nil
	})
}

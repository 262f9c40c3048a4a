package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/mlsec/mlsec/internal/scan"
	"hash"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Decoder memory bounds. Dictionaries and windows larger than these are
// refused (the member becomes a gap) rather than allocated.
const (
	maxZstdWindow = 1 << 27 // 128 MiB, zstd's own default decoder limit
	maxLZMADict   = 1 << 27
	maxXZDict     = 1 << 27
)

// errCRC reports a member whose data does not match its CRC.
var errCRC = errors.New("CRC mismatch (corrupt or tampered data)")

// errTruncated reports a compressed stream that ends early. Decoders say
// io.ErrUnexpectedEOF, which readers of a member's head take for a short
// member: it must not pass as one.
var errTruncated = errors.New("compressed stream truncated")

// strictEOF turns a decoder's io.ErrUnexpectedEOF into errTruncated.
type strictEOF struct{ io.ReadCloser }

func (s strictEOF) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errTruncated
	}
	return n, err
}

// strict wraps an opener's reader with strictEOF.
func strict(open func() (io.ReadCloser, error)) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errTruncated
			}
			return nil, err
		}
		return strictEOF{rc}, nil
	}
}

// readCloser pairs a reader with a close function.
type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error {
	if r.close == nil {
		return nil
	}
	return r.close()
}

// newZstd returns a bounded single-threaded zstd decoder.
func newZstd(r io.Reader) (io.ReadCloser, error) {
	d, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow),
		zstd.WithDecoderMaxMemory(1<<40))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return readCloser{Reader: d, close: func() error { d.Close(); return nil }}, nil
}

func newXZ(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if err := checkXZDict(br); err != nil {
		return nil, err
	}
	d, err := xz.ReaderConfig{DictCap: 8 << 20}.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	return io.NopCloser(d), nil
}

// checkXZDict refuses an xz stream whose first block's LZMA2 dictionary is
// larger than maxXZDict (the decoder would allocate it up front).
func checkXZDict(br *bufio.Reader) error {
	head, _ := br.Peek(12 + 1 + 1 + 1 + 8)
	if len(head) < 14 {
		return nil
	}
	hdrSize := (int(head[12]) + 1) * 4
	blk, _ := br.Peek(12 + hdrSize)
	if len(blk) < 12+hdrSize || hdrSize < 8 {
		return nil
	}
	b := blk[12:]
	flags := b[1]
	p := 2
	readVLI := func() (uint64, bool) {
		var v uint64
		for i := 0; i < 9 && p < len(b); i++ {
			c := b[p]
			p++
			v |= uint64(c&0x7f) << (7 * i)
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		if _, ok := readVLI(); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := readVLI(); !ok {
			return nil
		}
	}
	nf := int(flags&3) + 1
	for i := 0; i < nf; i++ {
		id, ok := readVLI()
		if !ok {
			return nil
		}
		n, ok := readVLI()
		if !ok || p+int(n) > len(b) {
			return nil
		}
		if id == 0x21 && n == 1 {
			bits := b[p] & 0x3f
			if bits > 40 {
				return errors.New("xz: invalid LZMA2 dictionary size")
			}
			var dict uint64 = 0xffffffff
			if bits < 40 {
				dict = uint64(2|(bits&1)) << (bits/2 + 11)
			}
			if dict > maxXZDict {
				return fmt.Errorf("xz: LZMA2 dictionary of %d bytes exceeds the %d-byte limit", dict, maxXZDict)
			}
		}
		p += int(n)
	}
	return nil
}

// newLZMA decodes the .lzma (lzma-alone) format.
func newLZMA(r io.Reader) (io.ReadCloser, error) {
	d, err := lzma.ReaderConfig{DictCap: maxLZMADict}.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	return io.NopCloser(d), nil
}

// newZipLZMA decodes zip method 14: a 4-byte version/size header, the
// 5-byte properties, then raw LZMA data. It is rebuilt as lzma-alone.
func newZipLZMA(r io.Reader, usize int64, eos bool) (io.ReadCloser, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("lzma header: %w", err)
	}
	if binary.LittleEndian.Uint16(h[2:]) != 5 {
		return nil, errors.New("lzma: unexpected properties size")
	}
	var alone [13]byte
	copy(alone[:5], h[4:9])
	size := uint64(usize)
	if eos || usize < 0 {
		size = ^uint64(0)
	}
	binary.LittleEndian.PutUint64(alone[5:], size)
	return newLZMA(io.MultiReader(bytes.NewReader(alone[:]), r))
}

func newLZ4(r io.Reader) (io.ReadCloser, error) {
	return io.NopCloser(lz4.NewReader(r)), nil
}

func newBzip2(r io.Reader) (io.ReadCloser, error) {
	return io.NopCloser(bzip2.NewReader(r)), nil
}

func newFlate(r io.Reader) (io.ReadCloser, error) {
	return flate.NewReader(r), nil
}

// crcReader checks the CRC-32 and length of what it reads at EOF.
type crcReader struct {
	r    io.ReadCloser
	h    hash.Hash32
	want uint32
	size int64 // expected length; -1 unknown
	n    int64
}

func newCRCReader(r io.ReadCloser, want uint32, size int64) io.ReadCloser {
	return &crcReader{r: r, h: crc32.NewIEEE(), want: want, size: size}
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF {
		if c.size >= 0 && c.n != c.size {
			return n, fmt.Errorf("member is %d bytes, its header says %d", c.n, c.size)
		}
		if c.h.Sum32() != c.want {
			return n, errCRC
		}
	}
	return n, err
}

func (c *crcReader) Close() error { return c.r.Close() }

// countingByteReader lets flate read without buffering beyond the stream
// end (it uses ReadByte), so the count is the stream's exact length.
type countingByteReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingByteReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// deflateLength returns the compressed length of the deflate stream at the
// start of r by decoding it (output discarded).
func deflateLength(ctx context.Context, r io.Reader) (int64, error) {
	cr := &countingByteReader{r: bufio.NewReaderSize(r, 64<<10)}
	fr := flate.NewReader(cr)
	defer fr.Close()
	buf := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		_, err := fr.Read(buf)
		if err == io.EOF {
			return cr.n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// verify decodes everything open returns and checks it against crc: used to
// tell a fake encryption flag from real encryption.
func verify(ctx context.Context, open func() (io.ReadCloser, error), crc uint32, limit int64) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := crc32.NewIEEE()
	buf := make([]byte, scan.ReadBufferSize(limit+1, 32<<10))
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := rc.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if n > limit {
			return fmt.Errorf("member expands beyond %d bytes", limit)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if h.Sum32() != crc {
		return errCRC
	}
	return nil
}

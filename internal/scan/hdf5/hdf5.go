// Package hdf5 is a small, bounded, read-only reader for the parts of the
// HDF5 file format (HDF5 File Format Specification version 3.0) that a
// security scanner needs: the superblock (versions 0–3), object headers
// (versions 1 and 2, with continuation blocks and checksums), attribute
// messages (versions 1–3) in compact and dense storage (fractal heap plus
// version 2 B-tree), string values (fixed-length and variable-length in the
// global heap) and the links of a group.
//
// It never reads raw dataset data. Every read is checked against the file
// size, and message, heap-object, B-tree and nesting counts are capped, so
// any input yields values or an error, never a panic or unbounded work.
// Structures the reader does not implement yield an error wrapping
// ErrUnsupported so callers can fail closed.
package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Signature is the eight-byte format signature that starts a superblock.
var Signature = []byte("\x89HDF\r\n\x1a\n")

var (
	// ErrNotHDF5 means no superblock signature was found.
	ErrNotHDF5 = errors.New("not an HDF5 file")
	// ErrUnsupported marks a valid-looking structure this reader does not
	// implement (a version, storage layout or encoding).
	ErrUnsupported = errors.New("unsupported HDF5 feature")
	// ErrLimit marks a structure larger than the reader's bounds.
	ErrLimit = errors.New("HDF5 reader limit exceeded")
)

// FormatError reports a malformed structure.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return "malformed HDF5: " + e.Msg }

func formatErr(format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

func limitErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, args...))
}

// Limits bound the work of one File. The zero value means DefaultLimits.
type Limits struct {
	// MaxMessages is the most header messages read from one object header.
	MaxMessages int
	// MaxContinuations is the most continuation blocks followed per object.
	MaxContinuations int
	// MaxAttributes is the most attributes listed on one object.
	MaxAttributes int
	// MaxValueSize is the most bytes of one attribute value (or one heap
	// object) that are read.
	MaxValueSize int64
	// MaxBlocks caps B-tree nodes and heap blocks visited per walk.
	MaxBlocks int
	// MaxDepth caps B-tree and indirect-block nesting.
	MaxDepth int
}

// DefaultLimits fit real models comfortably: model configs of many
// megabytes, thousands of attributes.
func DefaultLimits() Limits {
	return Limits{
		MaxMessages:      4096,
		MaxContinuations: 256,
		MaxAttributes:    65536,
		MaxValueSize:     256 << 20,
		MaxBlocks:        100_000,
		MaxDepth:         16,
	}
}

// File is an open HDF5 file. It is not safe for concurrent use.
type File struct {
	r          io.ReaderAt
	size       int64
	lim        Limits
	sbOffset   int64
	sbVersion  int
	base       uint64
	offSize    int
	lenSize    int
	rootAddr   uint64
	gheapCache map[uint64][]byte
	gheapBytes int64
	// skipChecksums lets the fuzz target reach past checksummed
	// structures; Open always verifies.
	skipChecksums bool
}

// Find returns the offset of the superblock signature: HDF5 looks at 0, 512,
// 1024, 2048 … (a user block may precede the superblock).
func Find(r io.ReaderAt, size int64) (int64, error) {
	var sig [8]byte
	for off := int64(0); off+8 <= size; {
		if _, err := r.ReadAt(sig[:], off); err != nil {
			return 0, fmt.Errorf("read signature at %d: %w", off, err)
		}
		if bytes.Equal(sig[:], Signature) {
			return off, nil
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	return 0, ErrNotHDF5
}

// Open reads the superblock. size is the total size of r.
func Open(r io.ReaderAt, size int64, lim Limits) (*File, error) {
	return open(r, size, lim, false)
}

func open(r io.ReaderAt, size int64, lim Limits, skipChecksums bool) (*File, error) {
	if lim == (Limits{}) {
		lim = DefaultLimits()
	}
	off, err := Find(r, size)
	if err != nil {
		return nil, err
	}
	f := &File{r: r, size: size, lim: lim, sbOffset: off, gheapCache: map[uint64][]byte{}, skipChecksums: skipChecksums}
	if err := f.readSuperblock(); err != nil {
		return nil, err
	}
	return f, nil
}

// SuperblockVersion returns 0, 1, 2 or 3.
func (f *File) SuperblockVersion() int { return f.sbVersion }

// SuperblockOffset is where the superblock starts (after any user block).
func (f *File) SuperblockOffset() int64 { return f.sbOffset }

const undefAddr = ^uint64(0)

func (f *File) readSuperblock() error {
	hdr, err := f.readAbs(f.sbOffset, 12)
	if err != nil {
		return fmt.Errorf("superblock: %w", err)
	}
	f.sbVersion = int(hdr[8])
	switch f.sbVersion {
	case 0, 1:
		return f.readSuperblockV0()
	case 2, 3:
		return f.readSuperblockV2()
	default:
		return unsupported("superblock version %d", f.sbVersion)
	}
}

func validSize(n int) bool { return n == 2 || n == 4 || n == 8 }

func (f *File) readSuperblockV0() error {
	b, err := f.readAbs(f.sbOffset, 24)
	if err != nil {
		return fmt.Errorf("superblock: %w", err)
	}
	f.offSize, f.lenSize = int(b[13]), int(b[14])
	if !validSize(f.offSize) || !validSize(f.lenSize) {
		return unsupported("superblock sizes of offsets %d / lengths %d", f.offSize, f.lenSize)
	}
	fixed := 24
	if f.sbVersion == 1 {
		fixed += 4 // indexed storage internal node K and reserved
	}
	// Four addresses, then the root group symbol table entry.
	n := fixed + 4*f.offSize + 2*f.offSize + 8 + 16
	b, err = f.readAbs(f.sbOffset, int64(n))
	if err != nil {
		return fmt.Errorf("superblock: %w", err)
	}
	c := f.cursor(b)
	c.skip(fixed)
	f.base = c.addr()
	c.addr() // free-space info (reserved)
	c.addr() // end of file
	c.addr() // driver information block
	c.addr() // root: link name offset
	f.rootAddr = c.addr()
	if c.err != nil {
		return fmt.Errorf("superblock: %w", c.err)
	}
	return f.checkRoot()
}

func (f *File) readSuperblockV2() error {
	b, err := f.readAbs(f.sbOffset, 12)
	if err != nil {
		return fmt.Errorf("superblock: %w", err)
	}
	f.offSize, f.lenSize = int(b[9]), int(b[10])
	if !validSize(f.offSize) || !validSize(f.lenSize) {
		return unsupported("superblock sizes of offsets %d / lengths %d", f.offSize, f.lenSize)
	}
	n := 12 + 4*f.offSize + 4
	b, err = f.readAbs(f.sbOffset, int64(n))
	if err != nil {
		return fmt.Errorf("superblock: %w", err)
	}
	if err := f.verifyChecksum(b, "superblock"); err != nil {
		return err
	}
	c := f.cursor(b)
	c.skip(12)
	f.base = c.addr()
	c.addr() // superblock extension
	c.addr() // end of file
	f.rootAddr = c.addr()
	if c.err != nil {
		return fmt.Errorf("superblock: %w", c.err)
	}
	return f.checkRoot()
}

func (f *File) checkRoot() error {
	if f.base == undefAddr {
		f.base = 0
	}
	if f.rootAddr == undefAddr {
		return formatErr("superblock: root object header address undefined")
	}
	return nil
}

// abs turns a file address (relative to the base address) into an offset.
func (f *File) abs(addr uint64) (int64, error) {
	if addr == undefAddr {
		return 0, formatErr("undefined address dereferenced")
	}
	a := f.base + addr
	if a < addr || a >= uint64(f.size) {
		return 0, formatErr("address %#x beyond end of file (%d bytes)", addr, f.size)
	}
	return int64(a), nil
}

// readAt reads n bytes at a file address.
func (f *File) readAt(addr uint64, n int64) ([]byte, error) {
	off, err := f.abs(addr)
	if err != nil {
		return nil, err
	}
	return f.readAbs(off, n)
}

func (f *File) readAbs(off, n int64) ([]byte, error) {
	if n < 0 || off < 0 || n > f.size-off {
		return nil, formatErr("read of %d bytes at offset %d beyond end of file (%d bytes)", n, off, f.size)
	}
	if n > f.lim.MaxValueSize+(1<<20) {
		return nil, limitErr("structure of %d bytes", n)
	}
	b := make([]byte, n)
	m, err := f.r.ReadAt(b, off)
	if int64(m) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %d bytes at %d: %w", n, off, err)
	}
	return b, nil
}

// readUpTo reads at most n bytes at addr, fewer at the end of the file.
func (f *File) readUpTo(addr uint64, n int64) ([]byte, error) {
	off, err := f.abs(addr)
	if err != nil {
		return nil, err
	}
	return f.readAbs(off, min(n, f.size-off))
}

// cursor decodes little-endian fields with a sticky error, so parsers can
// read a whole structure and check once.
type cursor struct {
	b       []byte
	off     int
	err     error
	offSize int
	lenSize int
}

func (f *File) cursor(b []byte) *cursor {
	return &cursor{b: b, offSize: f.offSize, lenSize: f.lenSize}
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > len(c.b)-c.off {
		c.err = formatErr("structure truncated (need %d bytes at %d of %d)", n, c.off, len(c.b))
		return nil
	}
	s := c.b[c.off : c.off+n]
	c.off += n
	return s
}

func (c *cursor) skip(n int)        { c.take(n) }
func (c *cursor) remaining() int    { return len(c.b) - c.off }
func (c *cursor) u8() uint8         { return uint8(c.uint(1)) }
func (c *cursor) u16() uint16       { return uint16(c.uint(2)) }
func (c *cursor) u32() uint32       { return uint32(c.uint(4)) }
func (c *cursor) length() uint64    { return c.uint(c.lenSize) }
func (c *cursor) sig(s string) bool { return string(c.take(len(s))) == s && c.err == nil }

// addr reads an address; all ones means undefined whatever the width.
func (c *cursor) addr() uint64 {
	v := c.uint(c.offSize)
	if c.err == nil && c.offSize < 8 && v == (uint64(1)<<(8*c.offSize))-1 {
		return undefAddr
	}
	return v
}

// uint reads an n-byte little-endian unsigned integer (n ≤ 8).
func (c *cursor) uint(n int) uint64 {
	b := c.take(n)
	if b == nil {
		return 0
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

var le = binary.LittleEndian

// Package protowalk decodes the protocol buffer wire format
// (https://protobuf.dev/programming-guides/encoding/) straight from
// random-access content, without generated code and without loading the
// whole message: model formats built on protobuf (ONNX, TensorFlow
// SavedModel and GraphDef) carry gigabytes of tensor bytes that a scanner
// must skip, not copy. It also checks content against a minimal schema
// (field numbers and wire types), which is how those formats are recognised.
package protowalk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed marks content that is not valid protobuf wire format.
var ErrMalformed = errors.New("malformed protobuf")

// ErrTruncated marks a read past the bytes available when the content is
// known to continue (a detection head shorter than the file).
var ErrTruncated = errors.New("content truncated")

const window = 64 << 10

// Reader reads protobuf fields from content of a known size.
type Reader struct {
	r io.ReaderAt
	// avail is how many bytes can be read; size is the content's length.
	// They differ only when decoding a detection head.
	avail, size int64
	win         []byte
	winOff      int64
	ctx         context.Context
	steps       int
}

// New returns a Reader over size bytes of r.
func New(ctx context.Context, r io.ReaderAt, size int64) *Reader {
	return &Reader{r: r, avail: size, size: size, ctx: ctx}
}

// NewPrefix returns a Reader over the first bytes of content whose full size
// is size (size < 0: unknown). Reads beyond the prefix fail with
// ErrTruncated rather than ErrMalformed.
func NewPrefix(prefix []byte, size int64) *Reader {
	if size < int64(len(prefix)) {
		size = 1<<62 - 1
		if len(prefix) == 0 {
			size = 0
		}
	}
	return &Reader{avail: int64(len(prefix)), size: size, win: prefix, ctx: context.Background()}
}

// Size is the length of the content.
func (r *Reader) Size() int64 { return r.size }

// peek returns up to n bytes at off, fewer only at the end of the content.
func (r *Reader) peek(off int64, n int) ([]byte, error) {
	if off < 0 || off > r.avail {
		if off <= r.size {
			return nil, ErrTruncated
		}
		return nil, fmt.Errorf("%w: offset %d beyond end", ErrMalformed, off)
	}
	if off >= r.winOff && off+int64(n) <= r.winOff+int64(len(r.win)) {
		return r.win[off-r.winOff : off-r.winOff+int64(n)], nil
	}
	if r.r == nil {
		// Prefix mode: the window is everything there is.
		return r.win[off:min(off+int64(n), r.avail)], nil
	}
	want := int64(max(window, n))
	if off+want > r.avail {
		want = r.avail - off
	}
	if cap(r.win) < int(want) {
		r.win = make([]byte, want)
	}
	r.win = r.win[:want]
	m, err := r.r.ReadAt(r.win, off)
	if m < int(want) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		r.win = r.win[:0]
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	r.winOff = off
	if int64(n) > want {
		return r.win, nil
	}
	return r.win[:n], nil
}

// Field is one decoded field. For BytesType, Off and Len locate the payload;
// for the numeric types Val holds the raw value.
type Field struct {
	Num   protowire.Number
	Type  protowire.Type
	Start int64 // offset of the tag
	Off   int64 // offset of the value
	Len   int64 // payload length (BytesType)
	Val   uint64
}

// End is the offset just past the field.
func (f Field) End() int64 { return f.Off + f.Len }

// Walk calls fn for every field of the message occupying [start, end).
// Groups are rejected: none of the formats read with this package uses them.
// fn returning an error stops the walk with that error.
func (r *Reader) Walk(start, end int64, fn func(Field) error) error {
	if end > r.size || start > end || start < 0 {
		return fmt.Errorf("%w: message [%d, %d) outside content of %d bytes", ErrMalformed, start, end, r.size)
	}
	off := start
	for off < end {
		r.steps++
		if r.steps&4095 == 0 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
		f, err := r.field(off, end)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
		off = f.End()
	}
	return nil
}

func (r *Reader) varint(off, end int64) (uint64, int64, error) {
	b, err := r.peek(off, int(min(10, end-off)))
	if err != nil {
		return 0, 0, err
	}
	if int64(len(b)) > end-off {
		b = b[:end-off]
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		if len(b) < 10 && off+int64(len(b)) >= r.avail && r.avail < r.size && off+int64(len(b)) < end {
			return 0, 0, ErrTruncated
		}
		return 0, 0, fmt.Errorf("%w: bad varint at offset %d", ErrMalformed, off)
	}
	return v, int64(n), nil
}

func (r *Reader) field(off, end int64) (Field, error) {
	tag, n, err := r.varint(off, end)
	if err != nil {
		return Field{}, err
	}
	num, typ := protowire.DecodeTag(tag)
	if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
		return Field{}, fmt.Errorf("%w: field number %d at offset %d", ErrMalformed, num, off)
	}
	f := Field{Num: num, Type: typ, Start: off, Off: off + n}
	switch typ {
	case protowire.VarintType:
		v, m, err := r.varint(f.Off, end)
		if err != nil {
			return Field{}, err
		}
		f.Val, f.Len = v, m
		// Keep Off at the value and End() past it.
	case protowire.Fixed32Type, protowire.Fixed64Type:
		w := int64(4)
		if typ == protowire.Fixed64Type {
			w = 8
		}
		if f.Off+w > end {
			return Field{}, fmt.Errorf("%w: fixed%d field %d runs past its message at offset %d", ErrMalformed, w*8, num, off)
		}
		b, err := r.peek(f.Off, int(w))
		if err != nil {
			return Field{}, err
		}
		if len(b) < int(w) {
			return Field{}, ErrTruncated
		}
		if w == 4 {
			v, _ := protowire.ConsumeFixed32(b)
			f.Val = uint64(v)
		} else {
			f.Val, _ = protowire.ConsumeFixed64(b)
		}
		f.Len = w
	case protowire.BytesType:
		l, m, err := r.varint(f.Off, end)
		if err != nil {
			return Field{}, err
		}
		f.Off += m
		if l > uint64(end-f.Off) {
			return Field{}, fmt.Errorf("%w: field %d of %d bytes at offset %d runs past its message", ErrMalformed, num, l, off)
		}
		f.Len = int64(l)
	default:
		return Field{}, fmt.Errorf("%w: wire type %d (field %d) at offset %d", ErrMalformed, typ, num, off)
	}
	return f, nil
}

// Bytes returns the payload of a BytesType field when it is at most max
// bytes long; longer payloads are an error wrapping ErrTooLong.
func (r *Reader) Bytes(f Field, max int) ([]byte, error) {
	if f.Type != protowire.BytesType {
		return nil, fmt.Errorf("%w: field %d is not length-delimited", ErrMalformed, f.Num)
	}
	if f.Len > int64(max) {
		return nil, fmt.Errorf("%w: field %d is %d bytes (limit %d)", ErrTooLong, f.Num, f.Len, max)
	}
	if f.Off+f.Len > r.avail {
		return nil, ErrTruncated
	}
	if r.r == nil {
		return r.win[f.Off : f.Off+f.Len], nil
	}
	out := make([]byte, f.Len)
	if _, err := r.r.ReadAt(out, f.Off); err != nil && !(errors.Is(err, io.EOF) && f.Len == 0) {
		return nil, fmt.Errorf("read at %d: %w", f.Off, err)
	}
	return out, nil
}

// ErrTooLong marks a payload longer than the caller's limit.
var ErrTooLong = errors.New("field too long")

// String returns a string field's value truncated to max bytes, and whether
// it was truncated.
func (r *Reader) String(f Field, max int) (string, bool, error) {
	n := f.Len
	cut := false
	if n > int64(max) {
		n, cut = int64(max), true
	}
	g := f
	g.Len = n
	b, err := r.Bytes(g, max)
	if err != nil {
		return "", false, err
	}
	return string(b), cut, nil
}

// Kind is what a schema expects of a field.
type Kind int

// Field kinds.
const (
	Varint Kind = iota + 1
	Fixed32
	Fixed64
	Bytes
	// Text is a string of printable UTF-8 (names, identifiers).
	Text
	// Message is a nested message checked against Spec.Msg.
	Message
	// Packed is a repeated scalar: either unpacked elements or one
	// length-delimited block.
	PackedVarint
	PackedFixed32
	PackedFixed64
)

// Spec describes one field.
type Spec struct {
	Kind Kind
	Msg  *Schema
}

// Schema is the set of fields a message may hold.
type Schema struct {
	Name   string
	Fields map[protowire.Number]Spec
	// Open accepts unknown field numbers (with any valid wire type).
	Open bool
}

// Check is the outcome of validating content against a schema.
type Check struct {
	// Fields counts the fields validated, nested ones included.
	Fields int
	// Truncated is set when validation stopped at the end of a prefix.
	Truncated bool
	// Seen records top-level field numbers present.
	Seen map[protowire.Number]int
}

// Validate checks the message in [start, end) against s, descending into
// nested messages down to depth levels. Validation over a prefix stops
// without error at the prefix's end (Check.Truncated).
func (r *Reader) Validate(start, end int64, s *Schema, depth int) (Check, error) {
	c := Check{Seen: map[protowire.Number]int{}}
	err := r.validate(start, end, s, depth, &c, true)
	if errors.Is(err, ErrTruncated) {
		c.Truncated = true
		err = nil
	}
	return c, err
}

func (r *Reader) validate(start, end int64, s *Schema, depth int, c *Check, top bool) error {
	return r.Walk(start, end, func(f Field) error {
		if top {
			c.Seen[f.Num]++
		}
		sp, ok := s.Fields[f.Num]
		if !ok {
			if !s.Open {
				return fmt.Errorf("%w: unexpected field %d in %s", ErrMalformed, f.Num, s.Name)
			}
			c.Fields++
			return nil
		}
		want := protowire.BytesType
		switch sp.Kind {
		case Varint:
			want = protowire.VarintType
		case Fixed32:
			want = protowire.Fixed32Type
		case Fixed64:
			want = protowire.Fixed64Type
		case PackedVarint:
			if f.Type == protowire.VarintType {
				want = f.Type
			}
		case PackedFixed32:
			if f.Type == protowire.Fixed32Type {
				want = f.Type
			}
		case PackedFixed64:
			if f.Type == protowire.Fixed64Type {
				want = f.Type
			}
		}
		if f.Type != want {
			return fmt.Errorf("%w: field %d of %s has wire type %d, want %d", ErrMalformed, f.Num, s.Name, f.Type, want)
		}
		switch sp.Kind {
		case Text:
			b, err := r.Bytes(f, 4096)
			if errors.Is(err, ErrTooLong) {
				return fmt.Errorf("%w: name field %d of %s is %d bytes", ErrMalformed, f.Num, s.Name, f.Len)
			}
			if err != nil {
				return err
			}
			if !printable(b) {
				return fmt.Errorf("%w: field %d of %s is not text", ErrMalformed, f.Num, s.Name)
			}
		case Message:
			if sp.Msg != nil && depth > 0 {
				if err := r.validate(f.Off, f.End(), sp.Msg, depth-1, c, false); err != nil {
					return err
				}
			}
		}
		c.Fields++
		return nil
	})
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

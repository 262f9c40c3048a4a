package protowalk

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// msg builds a message: field 1 varint 150, field 2 "hi", field 3 nested
// {field 1 "x"}, field 4 fixed32.
func msg() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 150)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "hi")
	var inner []byte
	inner = protowire.AppendTag(inner, 1, protowire.BytesType)
	inner = protowire.AppendString(inner, "x")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, inner)
	b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	return b
}

var (
	inner  = &Schema{Name: "Inner", Fields: map[protowire.Number]Spec{1: {Kind: Text}}}
	schema = &Schema{Name: "Outer", Fields: map[protowire.Number]Spec{
		1: {Kind: Varint}, 2: {Kind: Text}, 3: {Kind: Message, Msg: inner}, 4: {Kind: Fixed32}}}
)

func TestWalk(t *testing.T) {
	t.Parallel()
	b := msg()
	r := New(context.Background(), bytes.NewReader(b), int64(len(b)))
	var nums []protowire.Number
	err := r.Walk(0, r.Size(), func(f Field) error {
		nums = append(nums, f.Num)
		switch f.Num {
		case 1:
			if f.Val != 150 {
				t.Errorf("varint %d", f.Val)
			}
		case 2:
			s, cut, err := r.String(f, 1)
			if err != nil || s != "h" || !cut {
				t.Errorf("String = %q %v %v", s, cut, err)
			}
		case 4:
			if f.Val != 7 {
				t.Errorf("fixed32 %d", f.Val)
			}
		}
		return nil
	})
	if err != nil || len(nums) != 4 {
		t.Fatalf("walk: %v %v", nums, err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	b := msg()
	r := New(context.Background(), bytes.NewReader(b), int64(len(b)))
	c, err := r.Validate(0, r.Size(), schema, 2)
	if err != nil || c.Truncated || c.Fields != 5 || c.Seen[3] != 1 {
		t.Errorf("check %+v err %v", c, err)
	}
	// A prefix of a longer file validates what it holds.
	p := NewPrefix(b[:6], 1000)
	if c, err := p.Validate(0, p.Size(), schema, 2); err != nil || !c.Truncated {
		t.Errorf("prefix: %+v %v", c, err)
	}
	// The same bytes as a whole file are malformed.
	w := NewPrefix(b[:6], 6)
	if _, err := w.Validate(0, w.Size(), schema, 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated file: %v", err)
	}
	bad := map[string][]byte{
		"wrong wire type": append(protowire.AppendTag(nil, 1, protowire.BytesType), 0),
		"unknown field":   protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1),
		"group":           protowire.AppendTag(nil, 1, protowire.StartGroupType),
		"field zero":      {0x00, 0x01},
		"overlong length": {0x12, 0x7f, 'a'},
		"bad varint":      {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"not text":        protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "a\x00"),
	}
	for name, b := range bad {
		r := New(context.Background(), bytes.NewReader(b), int64(len(b)))
		if _, err := r.Validate(0, r.Size(), schema, 2); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBytesLimit(t *testing.T) {
	t.Parallel()
	b := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), make([]byte, 100))
	r := New(context.Background(), bytes.NewReader(b), int64(len(b)))
	_ = r.Walk(0, r.Size(), func(f Field) error {
		if _, err := r.Bytes(f, 10); !errors.Is(err, ErrTooLong) {
			t.Errorf("Bytes over limit: %v", err)
		}
		return nil
	})
}

func FuzzWalk(f *testing.F) {
	f.Add(msg())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := New(context.Background(), bytes.NewReader(b), int64(len(b)))
		var visit func(start, end int64, depth int) error
		visit = func(start, end int64, depth int) error {
			return r.Walk(start, end, func(f Field) error {
				if f.End() > end || f.Off < start {
					t.Fatalf("field [%d,%d) outside [%d,%d)", f.Off, f.End(), start, end)
				}
				if f.Type == protowire.BytesType && depth < 8 {
					_ = visit(f.Off, f.End(), depth+1)
				}
				return nil
			})
		}
		_ = visit(0, r.Size(), 0)
		p := NewPrefix(b[:len(b)/2], int64(len(b)))
		_, _ = p.Validate(0, p.Size(), schema, 3)
	})
}

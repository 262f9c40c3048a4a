package keras

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Code is what a marshalled Python code object reveals without running it:
// the global and attribute names it uses (co_names, across nested code
// objects) and its string constants.
type Code struct {
	Names   []string
	Strings []string
	// Layout names the code-object layout that parsed the data ("3.11+",
	// "3.8-3.10", "3.0-3.7", "2.x"); marshal data carries no version.
	Layout string
}

// Marshal parsing bounds: a Lambda's code object is a few hundred bytes.
const (
	maxMarshalObjects = 1 << 16
	maxMarshalDepth   = 64
	maxEvidenceItems  = 64
	maxEvidenceString = 200
)

var errMarshal = errors.New("malformed marshal data")

type codeLayout struct {
	name      string
	ints      int // int32 fields before co_code
	objsAfter int // objects after co_firstlineno
}

// The object fields between co_code and co_firstlineno are eight in every
// layout (code, consts, names, then five more); versions differ in the
// leading integer fields and what follows the line number.
var layouts = []codeLayout{
	{"3.11+", 5, 2},    // linetable, exceptiontable
	{"3.8-3.10", 6, 1}, // lnotab
	{"3.0-3.7", 5, 1},
	{"2.x", 4, 1},
}

// ParseMarshal decodes the output of marshal.dumps(code) far enough to list
// names and string constants. It tries each known code-object layout and
// keeps the first that accounts for every byte.
func ParseMarshal(b []byte) (*Code, error) {
	var firstErr error
	for _, l := range layouts {
		p := &marshalParser{b: b, layout: l}
		v, err := p.object(0)
		if err == nil && p.off != len(b) {
			err = fmt.Errorf("%w: %d trailing bytes", errMarshal, len(b)-p.off)
		}
		if err == nil && v.kind != 'c' {
			err = fmt.Errorf("%w: top-level object is not a code object", errMarshal)
		}
		if err == nil {
			return &Code{Names: p.names.list, Strings: p.strs.list, Layout: l.name}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

type mvalue struct {
	kind  byte
	str   string
	isStr bool
	items []*mvalue
}

type uniq struct {
	seen map[string]bool
	list []string
}

func (u *uniq) add(s string) {
	if len(u.list) >= maxEvidenceItems {
		return
	}
	if len(s) > maxEvidenceString {
		s = s[:maxEvidenceString] + "…"
	}
	if u.seen == nil {
		u.seen = map[string]bool{}
	}
	if !u.seen[s] {
		u.seen[s] = true
		u.list = append(u.list, s)
	}
}

type marshalParser struct {
	b      []byte
	off    int
	layout codeLayout
	refs   []*mvalue
	count  int
	names  uniq
	strs   uniq
	// visits bounds the walk over constants, which back-references can
	// turn into a graph far larger than the data.
	visits int
}

func (p *marshalParser) take(n int) ([]byte, error) {
	if n < 0 || n > len(p.b)-p.off {
		return nil, fmt.Errorf("%w: truncated at byte %d", errMarshal, p.off)
	}
	s := p.b[p.off : p.off+n]
	p.off += n
	return s, nil
}

func (p *marshalParser) i32() (int32, error) {
	b, err := p.take(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b)), nil
}

func (p *marshalParser) size() (int, error) {
	n, err := p.i32()
	if err != nil {
		return 0, err
	}
	if n < 0 || int(n) > len(p.b)-p.off {
		return 0, fmt.Errorf("%w: length %d at byte %d", errMarshal, n, p.off)
	}
	return int(n), nil
}

func (p *marshalParser) u8() (int, error) {
	b, err := p.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

// object reads one marshalled object (CPython Python/marshal.c r_object).
func (p *marshalParser) object(depth int) (*mvalue, error) {
	if depth > maxMarshalDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d", errMarshal, maxMarshalDepth)
	}
	p.count++
	if p.count > maxMarshalObjects {
		return nil, fmt.Errorf("%w: more than %d objects", errMarshal, maxMarshalObjects)
	}
	code, err := p.u8()
	if err != nil {
		return nil, err
	}
	flag := code&0x80 != 0
	typ := byte(code &^ 0x80)
	v := &mvalue{kind: typ}
	// Containers are registered before their children, as CPython does,
	// so back-references number the same way.
	if flag {
		p.refs = append(p.refs, v)
	}
	switch typ {
	case '0', 'N', 'F', 'T', 'S', '.':
	case 'i':
		_, err = p.take(4)
	case 'I', 'g':
		_, err = p.take(8)
	case 'y':
		_, err = p.take(16)
	case 'l':
		var n int32
		if n, err = p.i32(); err == nil {
			if n == math.MinInt32 {
				return nil, fmt.Errorf("%w: long size", errMarshal)
			}
			if n < 0 {
				n = -n
			}
			_, err = p.take(2 * int(n))
		}
	case 'f':
		var n int
		if n, err = p.u8(); err == nil {
			_, err = p.take(n)
		}
	case 'x':
		for i := 0; i < 2 && err == nil; i++ {
			var n int
			if n, err = p.u8(); err == nil {
				_, err = p.take(n)
			}
		}
	case 's', 't', 'u', 'a', 'A', 'z', 'Z':
		var n int
		if typ == 'z' || typ == 'Z' {
			n, err = p.u8()
		} else {
			n, err = p.size()
		}
		var b []byte
		if err == nil {
			b, err = p.take(n)
		}
		v.str, v.isStr = string(b), true
	case 'R': // Python 2 reference to an interned string
		_, err = p.take(4)
		v.isStr = true
	case '(', '[', '<', '>', ')':
		var n int
		if typ == ')' {
			n, err = p.u8()
		} else {
			n, err = p.size()
		}
		for i := 0; i < n && err == nil; i++ {
			var item *mvalue
			if item, err = p.object(depth + 1); err == nil {
				v.items = append(v.items, item)
			}
		}
	case '{':
		for err == nil {
			var k *mvalue
			if k, err = p.object(depth + 1); err != nil || k.kind == '0' {
				break
			}
			var val *mvalue
			if val, err = p.object(depth + 1); err == nil {
				v.items = append(v.items, k, val)
			}
		}
	case ':': // slice (marshal version 5)
		for i := 0; i < 3 && err == nil; i++ {
			_, err = p.object(depth + 1)
		}
	case 'r':
		var i int32
		if i, err = p.i32(); err == nil {
			if i < 0 || int(i) >= len(p.refs) {
				return nil, fmt.Errorf("%w: back-reference %d of %d", errMarshal, i, len(p.refs))
			}
			return p.refs[i], nil
		}
	case 'c':
		err = p.code(depth)
	default:
		return nil, fmt.Errorf("%w: unknown type code %q at byte %d", errMarshal, typ, p.off-1)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// code reads a code object's fields and records its names and constants.
func (p *marshalParser) code(depth int) error {
	if _, err := p.take(4 * p.layout.ints); err != nil {
		return err
	}
	var fields [8]*mvalue
	for i := range fields {
		v, err := p.object(depth + 1)
		if err != nil {
			return err
		}
		fields[i] = v
	}
	if fields[0].kind != 's' {
		return fmt.Errorf("%w: co_code is not bytes", errMarshal)
	}
	if _, err := p.take(4); err != nil { // co_firstlineno
		return err
	}
	for i := 0; i < p.layout.objsAfter; i++ {
		if _, err := p.object(depth + 1); err != nil {
			return err
		}
	}
	for _, n := range fields[2].items {
		if n.isStr {
			p.names.add(n.str)
		}
	}
	p.constStrings(fields[1], 0)
	return nil
}

func (p *marshalParser) constStrings(v *mvalue, depth int) {
	p.visits++
	if depth > maxMarshalDepth || p.visits > maxMarshalObjects {
		return
	}
	if v.isStr && v.kind != 'R' {
		s := v.str
		if !utf8.ValidString(s) {
			s = fmt.Sprintf("%q", s)
		}
		p.strs.add(s)
	}
	for _, it := range v.items {
		p.constStrings(it, depth+1)
	}
}

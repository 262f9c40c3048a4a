package hdf5

import (
	"bytes"
	"fmt"
	"strings"
)

// Datatype classes (spec IV.A.2.d).
const (
	ClassFixedPoint = 0
	ClassFloat      = 1
	ClassTime       = 2
	ClassString     = 3
	ClassBitfield   = 4
	ClassOpaque     = 5
	ClassCompound   = 6
	ClassReference  = 7
	ClassEnum       = 8
	ClassVarLen     = 9
	ClassArray      = 10
)

// Datatype is the decoded head of a datatype message.
type Datatype struct {
	Class    int
	Version  int
	Size     uint32
	Bitfield [3]byte
	props    []byte
}

// IsString reports a fixed-length or variable-length string type.
func (t Datatype) IsString() bool {
	return t.Class == ClassString || (t.Class == ClassVarLen && t.Bitfield[0]&0x0F == 1)
}

func parseDatatype(b []byte) (Datatype, error) {
	if len(b) < 8 {
		return Datatype{}, formatErr("datatype message of %d bytes", len(b))
	}
	t := Datatype{
		Class:   int(b[0] & 0x0F),
		Version: int(b[0] >> 4),
		Size:    le.Uint32(b[4:]),
		props:   b[8:],
	}
	copy(t.Bitfield[:], b[1:4])
	return t, nil
}

// Attribute is one attribute of an object. Its value is decoded on demand.
type Attribute struct {
	Name string
	Type Datatype
	// Dims is the dataspace shape; nil for a scalar.
	Dims []uint64
	// Null is set for a null dataspace (no elements).
	Null bool
	data []byte
	// err is set when the message could be named but not decoded (for
	// instance a shared datatype); value accessors return it.
	err error
	f   *File
}

// Err returns why the attribute's value cannot be decoded, if so.
func (a *Attribute) Err() error { return a.err }

// Len is the number of elements.
func (a *Attribute) Len() (uint64, error) {
	if a.Null {
		return 0, nil
	}
	n := uint64(1)
	for _, d := range a.Dims {
		if d != 0 && n > (1<<40)/d {
			return 0, limitErr("attribute %q has too many elements", a.Name)
		}
		n *= d
	}
	return n, nil
}

// Strings decodes a string attribute: every element, padding removed.
func (a *Attribute) Strings() ([]string, error) {
	if a.err != nil {
		return nil, a.err
	}
	if !a.Type.IsString() {
		return nil, fmt.Errorf("attribute %q: datatype class %d is not a string", a.Name, a.Type.Class)
	}
	n, err := a.Len()
	if err != nil {
		return nil, err
	}
	var out []string
	var total int64
	switch a.Type.Class {
	case ClassString:
		size := uint64(a.Type.Size)
		if size == 0 || n > uint64(len(a.data))/size {
			return nil, formatErr("attribute %q: %d strings of %d bytes in %d bytes of data", a.Name, n, size, len(a.data))
		}
		pad := a.Type.Bitfield[0] & 0x0F
		for i := uint64(0); i < n; i++ {
			out = append(out, unpad(a.data[i*size:(i+1)*size], pad))
		}
	case ClassVarLen:
		pad := (a.Type.Bitfield[0] >> 4) & 0x0F
		elem := uint64(4 + a.f.offSize + 4)
		if n > uint64(len(a.data))/elem {
			return nil, formatErr("attribute %q: %d variable-length strings in %d bytes of data", a.Name, n, len(a.data))
		}
		for i := uint64(0); i < n; i++ {
			c := a.f.cursor(a.data[i*elem : (i+1)*elem])
			length := uint64(c.u32())
			coll := c.addr()
			idx := c.u32()
			if length == 0 {
				out = append(out, "")
				continue
			}
			total += int64(length)
			if total > a.f.lim.MaxValueSize {
				return nil, limitErr("attribute %q larger than %d bytes", a.Name, a.f.lim.MaxValueSize)
			}
			obj, err := a.f.globalHeapObject(coll, idx)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			if uint64(len(obj)) < length {
				return nil, formatErr("attribute %q: heap object of %d bytes for a %d-byte string", a.Name, len(obj), length)
			}
			out = append(out, unpad(obj[:length], pad))
		}
	}
	return out, nil
}

// String returns the single value of a scalar (or one-element) string
// attribute.
func (a *Attribute) String() (string, error) {
	ss, err := a.Strings()
	if err != nil {
		return "", err
	}
	if len(ss) != 1 {
		return "", fmt.Errorf("attribute %q holds %d strings, want 1", a.Name, len(ss))
	}
	return ss[0], nil
}

func unpad(b []byte, pad byte) string {
	switch pad {
	case 0: // null terminated
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	case 2: // space padded
		b = bytes.TrimRight(b, " ")
	default: // null padded
		b = bytes.TrimRight(b, "\x00")
	}
	return string(b)
}

func pad8(n int) int { return (n + 7) &^ 7 }

// parseAttribute decodes an attribute message (versions 1–3). A message
// whose name is readable but whose type or shape is not comes back with
// err set rather than failing the whole object.
func (f *File) parseAttribute(b []byte) (*Attribute, error) {
	c := f.cursor(b)
	version := c.u8()
	flags := c.u8()
	nameSize := int(c.u16())
	dtSize := int(c.u16())
	dsSize := int(c.u16())
	if c.err != nil {
		return nil, fmt.Errorf("attribute message: %w", c.err)
	}
	padded := func(n int) int { return n }
	switch version {
	case 1:
		padded = pad8
		flags = 0 // reserved in version 1
	case 2:
	case 3:
		c.skip(1) // name character set
	default:
		return nil, unsupported("attribute message version %d", version)
	}
	name := c.take(padded(nameSize))
	if c.err != nil {
		return nil, fmt.Errorf("attribute message: %w", c.err)
	}
	a := &Attribute{f: f, Name: strings.TrimRight(string(name[:min(nameSize, len(name))]), "\x00")}
	dt := c.take(padded(dtSize))
	ds := c.take(padded(dsSize))
	if c.err != nil {
		return nil, fmt.Errorf("attribute %q: %w", a.Name, c.err)
	}
	a.data = b[c.off:]
	if flags&0x03 != 0 {
		a.err = unsupported("attribute %q uses a shared datatype or dataspace", a.Name)
		return a, nil
	}
	var err error
	if a.Type, err = parseDatatype(dt[:min(dtSize, len(dt))]); err != nil {
		a.err = fmt.Errorf("attribute %q: %w", a.Name, err)
		return a, nil
	}
	if err := a.parseDataspace(ds[:min(dsSize, len(ds))]); err != nil {
		a.err = fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	return a, nil
}

func (a *Attribute) parseDataspace(b []byte) error {
	c := a.f.cursor(b)
	version := c.u8()
	ndims := int(c.u8())
	flags := c.u8()
	switch version {
	case 1:
		c.skip(5)
	case 2:
		switch c.u8() {
		case 0:
			return c.err // scalar
		case 2:
			a.Null = true
			return c.err
		}
	default:
		return unsupported("dataspace version %d", version)
	}
	if ndims > 32 {
		return formatErr("dataspace with %d dimensions", ndims)
	}
	if ndims > 0 {
		a.Dims = make([]uint64, ndims)
		for i := range a.Dims {
			a.Dims[i] = c.length()
		}
	}
	_ = flags // maximum dimensions follow; not needed
	return c.err
}

// RootAttributes lists the attributes of the root group.
func (f *File) RootAttributes() ([]*Attribute, error) { return f.Attributes(f.rootAddr) }

// RootAddress is the address of the root group's object header.
func (f *File) RootAddress() uint64 { return f.rootAddr }

// Attributes lists the attributes of the object whose header is at addr:
// compact ones from the header and dense ones from the fractal heap.
func (f *File) Attributes(addr uint64) ([]*Attribute, error) {
	msgs, err := f.messages(addr)
	if err != nil {
		return nil, err
	}
	var out []*Attribute
	for _, m := range msgs {
		switch m.typ {
		case msgAttribute:
			if m.flags&msgFlagShared != 0 {
				return out, unsupported("shared attribute message")
			}
			a, err := f.parseAttribute(m.data)
			if err != nil {
				return out, err
			}
			out = append(out, a)
		case msgAttrInfo:
			dense, err := f.denseAttributes(m.data)
			out = append(out, dense...)
			if err != nil {
				return out, err
			}
		}
		if len(out) > f.lim.MaxAttributes {
			return out, limitErr("more than %d attributes", f.lim.MaxAttributes)
		}
	}
	return out, nil
}

// Attribute returns the named attribute of the object at addr, or nil when
// it has none by that name.
func (f *File) Attribute(addr uint64, name string) (*Attribute, error) {
	attrs, err := f.Attributes(addr)
	for _, a := range attrs {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, err
}

// denseAttributes reads attributes stored in a fractal heap, indexed by the
// name B-tree that the attribute info message points to.
func (f *File) denseAttributes(b []byte) ([]*Attribute, error) {
	c := f.cursor(b)
	if v := c.u8(); v != 0 {
		return nil, unsupported("attribute info message version %d", v)
	}
	flags := c.u8()
	if flags&0x01 != 0 {
		c.skip(2) // maximum creation index
	}
	heapAddr := c.addr()
	nameTree := c.addr()
	if c.err != nil {
		return nil, fmt.Errorf("attribute info message: %w", c.err)
	}
	if heapAddr == undefAddr || nameTree == undefAddr {
		return nil, nil // no dense storage yet
	}
	h, err := f.openFractalHeap(heapAddr)
	if err != nil {
		return nil, fmt.Errorf("dense attribute heap: %w", err)
	}
	var out []*Attribute
	err = f.walkBTree2(nameTree, 8, func(rec []byte) error {
		// Record: heap ID (8 bytes), message flags, creation order, name hash.
		if len(rec) < 9 {
			return formatErr("attribute name record of %d bytes", len(rec))
		}
		if rec[8]&msgFlagShared != 0 {
			return unsupported("shared attribute in dense storage")
		}
		obj, err := h.get(rec[:8])
		if err != nil {
			return err
		}
		a, err := f.parseAttribute(obj)
		if err != nil {
			return err
		}
		out = append(out, a)
		if len(out) > f.lim.MaxAttributes {
			return limitErr("more than %d attributes", f.lim.MaxAttributes)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("dense attributes: %w", err)
	}
	return out, nil
}

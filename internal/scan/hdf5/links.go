package hdf5

import (
	"bytes"
	"fmt"
)

// Link is a named hard link from a group to an object header. Soft and
// external links are listed with Addr undefined and Kind set.
type Link struct {
	Name string
	Addr uint64
	// Kind is "hard", "soft" or "external".
	Kind string
}

// Links lists the links of the group whose object header is at addr:
// old-style groups (symbol table: v1 B-tree, local heap, symbol nodes),
// compact new-style groups (link messages) and dense ones (fractal heap).
func (f *File) Links(addr uint64) ([]Link, error) {
	msgs, err := f.messages(addr)
	if err != nil {
		return nil, err
	}
	var out []Link
	for _, m := range msgs {
		var more []Link
		switch m.typ {
		case msgLink:
			var l Link
			if l, err = f.parseLink(m.data); err == nil {
				more = []Link{l}
			}
		case msgLinkInfo:
			more, err = f.denseLinks(m.data)
		case msgSymbolTable:
			more, err = f.symbolTableLinks(m.data)
		}
		out = append(out, more...)
		if err != nil {
			return out, err
		}
		if len(out) > f.lim.MaxAttributes {
			return out, limitErr("more than %d links", f.lim.MaxAttributes)
		}
	}
	return out, nil
}

// parseLink decodes a link message (spec IV.A.2.g).
func (f *File) parseLink(b []byte) (Link, error) {
	c := f.cursor(b)
	if v := c.u8(); v != 1 {
		return Link{}, unsupported("link message version %d", v)
	}
	flags := c.u8()
	kind := uint8(0)
	if flags&0x08 != 0 {
		kind = c.u8()
	}
	if flags&0x04 != 0 {
		c.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		c.skip(1) // character set
	}
	n := int(c.uint(1 << (flags & 3)))
	name := string(c.take(n))
	l := Link{Name: name, Addr: undefAddr}
	switch kind {
	case 0:
		l.Kind, l.Addr = "hard", c.addr()
	case 1:
		l.Kind = "soft"
	case 64:
		l.Kind = "external"
	default:
		l.Kind = fmt.Sprintf("user-defined(%d)", kind)
	}
	if c.err != nil {
		return Link{}, fmt.Errorf("link message: %w", c.err)
	}
	return l, nil
}

func (f *File) denseLinks(b []byte) ([]Link, error) {
	c := f.cursor(b)
	if v := c.u8(); v != 0 {
		return nil, unsupported("link info message version %d", v)
	}
	if c.u8()&0x01 != 0 {
		c.skip(8) // maximum creation index
	}
	heapAddr, nameTree := c.addr(), c.addr()
	if c.err != nil {
		return nil, fmt.Errorf("link info message: %w", c.err)
	}
	if heapAddr == undefAddr || nameTree == undefAddr {
		return nil, nil
	}
	h, err := f.openFractalHeap(heapAddr)
	if err != nil {
		return nil, fmt.Errorf("dense link heap: %w", err)
	}
	var out []Link
	err = f.walkBTree2(nameTree, 5, func(rec []byte) error {
		// Record type 5: name hash (4 bytes), heap ID.
		if len(rec) < 4+h.idLen {
			return formatErr("link name record of %d bytes", len(rec))
		}
		obj, err := h.get(rec[4 : 4+h.idLen])
		if err != nil {
			return err
		}
		l, err := f.parseLink(obj)
		if err != nil {
			return err
		}
		out = append(out, l)
		if len(out) > f.lim.MaxAttributes {
			return limitErr("more than %d links", f.lim.MaxAttributes)
		}
		return nil
	})
	return out, err
}

// symbolTableLinks walks an old-style group: a v1 B-tree whose leaves
// point to symbol table nodes, with names in a local heap.
func (f *File) symbolTableLinks(b []byte) ([]Link, error) {
	c := f.cursor(b)
	tree, heapAddr := c.addr(), c.addr()
	if c.err != nil {
		return nil, fmt.Errorf("symbol table message: %w", c.err)
	}
	names, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var out []Link
	seen := map[uint64]bool{}
	var walk func(addr uint64, depth int) error
	walk = func(addr uint64, depth int) error {
		if depth > f.lim.MaxDepth {
			return limitErr("group B-tree deeper than %d", f.lim.MaxDepth)
		}
		if seen[addr] {
			return formatErr("group B-tree node at %#x reached twice", addr)
		}
		seen[addr] = true
		if len(seen) > f.lim.MaxBlocks {
			return limitErr("group B-tree with more than %d nodes", f.lim.MaxBlocks)
		}
		hdr, err := f.readAt(addr, int64(8+2*f.offSize))
		if err != nil {
			return fmt.Errorf("group B-tree node: %w", err)
		}
		hc := f.cursor(hdr)
		if !hc.sig("TREE") || hc.u8() != 0 {
			return formatErr("group B-tree node at %#x: bad signature or type", addr)
		}
		level := hc.u8()
		entries := int(hc.u16())
		if entries > 1<<16 {
			return formatErr("group B-tree node with %d entries", entries)
		}
		body, err := f.readAt(addr, int64(8+2*f.offSize+(2*entries+1)*max(f.offSize, f.lenSize)))
		if err != nil {
			return fmt.Errorf("group B-tree node: %w", err)
		}
		bc := f.cursor(body)
		bc.skip(8 + 2*f.offSize)
		for i := 0; i < entries; i++ {
			bc.length() // key: heap offset of a name
			child := bc.addr()
			if bc.err != nil {
				return fmt.Errorf("group B-tree node: %w", bc.err)
			}
			if level > 0 {
				err = walk(child, depth+1)
			} else {
				err = f.symbolNode(child, names, &out)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(tree, 0)
}

func (f *File) symbolNode(addr uint64, names []byte, out *[]Link) error {
	hdr, err := f.readAt(addr, 8)
	if err != nil {
		return fmt.Errorf("symbol table node: %w", err)
	}
	if string(hdr[:4]) != "SNOD" {
		return formatErr("symbol table node at %#x lacks SNOD signature", addr)
	}
	n := int(le.Uint16(hdr[6:]))
	entry := 2*f.offSize + 8 + 16
	b, err := f.readAt(addr, int64(8+n*entry))
	if err != nil {
		return fmt.Errorf("symbol table node: %w", err)
	}
	c := f.cursor(b)
	c.skip(8)
	for i := 0; i < n; i++ {
		nameOff := c.length()
		obj := c.addr()
		c.skip(24) // cache type, reserved, scratch pad
		if c.err != nil {
			return fmt.Errorf("symbol table node: %w", c.err)
		}
		if nameOff >= uint64(len(names)) {
			return formatErr("symbol name offset %d outside the local heap", nameOff)
		}
		name := names[nameOff:]
		if j := bytes.IndexByte(name, 0); j >= 0 {
			name = name[:j]
		}
		*out = append(*out, Link{Name: string(name), Addr: obj, Kind: "hard"})
		if len(*out) > f.lim.MaxAttributes {
			return limitErr("more than %d links", f.lim.MaxAttributes)
		}
	}
	return nil
}

// localHeap returns the data segment of a local heap (spec III.D).
func (f *File) localHeap(addr uint64) ([]byte, error) {
	b, err := f.readAt(addr, int64(8+2*f.lenSize+f.offSize))
	if err != nil {
		return nil, fmt.Errorf("local heap: %w", err)
	}
	c := f.cursor(b)
	if !c.sig("HEAP") {
		return nil, formatErr("local heap at %#x lacks HEAP signature", addr)
	}
	c.skip(4) // version, reserved
	size := c.length()
	c.length() // free list head
	data := c.addr()
	if c.err != nil {
		return nil, fmt.Errorf("local heap: %w", c.err)
	}
	if size > uint64(f.lim.MaxValueSize) {
		return nil, limitErr("local heap of %d bytes", size)
	}
	return f.readAt(data, int64(size))
}

package hdf5

import "fmt"

// btree2 holds the parameters of a version 2 B-tree (spec III.A.2) needed
// to decode its nodes.
type btree2 struct {
	f        *File
	typ      uint8
	nodeSize int
	recSize  int
	depth    int
	// per level: bytes of the "records in child" and "total records" fields
	nrecSize []int
	cumSize  []int
	visited  map[uint64]bool
}

// encSize is how many bytes HDF5 uses to store counts up to n.
func encSize(n uint64) int { return log2(max(n, 1))/8 + 1 }

// walkBTree2 calls fn with every record of the version 2 B-tree at addr, in
// key order. typ is the expected record type.
func (f *File) walkBTree2(addr uint64, typ uint8, fn func(rec []byte) error) error {
	b, err := f.readAt(addr, int64(4+1+1+4+2+2+1+1+f.offSize+2+f.lenSize+4))
	if err != nil {
		return fmt.Errorf("version 2 B-tree header at %#x: %w", addr, err)
	}
	if err := f.verifyChecksum(b, "B-tree header"); err != nil {
		return err
	}
	c := f.cursor(b)
	if !c.sig("BTHD") {
		return formatErr("B-tree header at %#x lacks BTHD signature", addr)
	}
	if v := c.u8(); v != 0 {
		return unsupported("B-tree version %d", v)
	}
	t := &btree2{f: f, typ: c.u8(), visited: map[uint64]bool{}}
	t.nodeSize = int(c.u32())
	t.recSize = int(c.u16())
	t.depth = int(c.u16())
	c.skip(2) // split and merge percentages
	root := c.addr()
	rootN := int(c.u16())
	c.length() // total records
	if c.err != nil {
		return fmt.Errorf("version 2 B-tree header: %w", c.err)
	}
	if t.typ != typ {
		return formatErr("B-tree at %#x has record type %d, want %d", addr, t.typ, typ)
	}
	if t.nodeSize < 16 || t.nodeSize > 1<<20 || t.recSize < 1 || t.recSize > t.nodeSize || t.depth > f.lim.MaxDepth {
		return formatErr("B-tree at %#x: implausible node size %d, record size %d, depth %d", addr, t.nodeSize, t.recSize, t.depth)
	}
	if root == undefAddr || rootN == 0 {
		return nil
	}
	t.sizes()
	return t.node(root, rootN, t.depth, fn)
}

// sizes derives the width of child-count fields per level, as the library
// computes them from the node and record sizes.
func (t *btree2) sizes() {
	const prefix = 4 + 1 + 1 + 4 // signature, version, type, checksum
	maxNrec := uint64((t.nodeSize - prefix) / t.recSize)
	cum := maxNrec
	maxNrecSize := encSize(maxNrec)
	t.nrecSize = make([]int, t.depth+1)
	t.cumSize = make([]int, t.depth+1)
	for u := 1; u <= t.depth; u++ {
		t.nrecSize[u] = maxNrecSize
		ptr := t.f.offSize + maxNrecSize + t.cumSize[u-1]
		n := uint64(0)
		if t.nodeSize > prefix+ptr {
			n = uint64((t.nodeSize - prefix - ptr) / (t.recSize + ptr))
		}
		cum = (n+1)*cum + n
		t.cumSize[u] = encSize(cum)
	}
}

func (t *btree2) node(addr uint64, nrec, level int, fn func([]byte) error) error {
	if t.visited[addr] {
		return formatErr("B-tree node at %#x reached twice", addr)
	}
	t.visited[addr] = true
	if len(t.visited) > t.f.lim.MaxBlocks {
		return limitErr("B-tree with more than %d nodes", t.f.lim.MaxBlocks)
	}
	if nrec < 0 || nrec*t.recSize > t.nodeSize {
		return formatErr("B-tree node at %#x claims %d records", addr, nrec)
	}
	b, err := t.f.readAt(addr, int64(t.nodeSize))
	if err != nil {
		return fmt.Errorf("version 2 B-tree node at %#x: %w", addr, err)
	}
	c := t.f.cursor(b)
	sig := "BTLF"
	if level > 0 {
		sig = "BTIN"
	}
	if !c.sig(sig) {
		return formatErr("B-tree node at %#x lacks %s signature", addr, sig)
	}
	c.skip(1)
	if ty := c.u8(); ty != t.typ {
		return formatErr("B-tree node at %#x has type %d, want %d", addr, ty, t.typ)
	}
	recs := c.take(nrec * t.recSize)
	if level == 0 {
		c.skip(4)
		if c.err != nil {
			return fmt.Errorf("version 2 B-tree leaf at %#x: %w", addr, c.err)
		}
		if err := t.f.verifyChecksum(b[:c.off], "B-tree leaf"); err != nil {
			return err
		}
		for i := 0; i < nrec; i++ {
			if err := fn(recs[i*t.recSize : (i+1)*t.recSize]); err != nil {
				return err
			}
		}
		return nil
	}
	type child struct {
		addr uint64
		n    int
	}
	kids := make([]child, nrec+1)
	for i := range kids {
		kids[i].addr = c.addr()
		kids[i].n = int(c.uint(t.nrecSize[level]))
		if level > 1 {
			c.uint(t.cumSize[level-1])
		}
	}
	c.skip(4)
	if c.err != nil {
		return fmt.Errorf("version 2 B-tree internal node at %#x: %w", addr, c.err)
	}
	if err := t.f.verifyChecksum(b[:c.off], "B-tree internal node"); err != nil {
		return err
	}
	// In-order: child 0, record 0, child 1, record 1, … child n.
	for i, k := range kids {
		if err := t.node(k.addr, k.n, level-1, fn); err != nil {
			return err
		}
		if i < nrec {
			if err := fn(recs[i*t.recSize : (i+1)*t.recSize]); err != nil {
				return err
			}
		}
	}
	return nil
}

package hdf5

import (
	"fmt"
	"math/bits"
)

// globalHeapObject returns object idx of the global heap collection at addr
// (spec III.E). Collections are cached: strings of one attribute share one.
func (f *File) globalHeapObject(addr uint64, idx uint32) ([]byte, error) {
	coll, ok := f.gheapCache[addr]
	if !ok {
		hdr, err := f.readAt(addr, int64(8+f.lenSize))
		if err != nil {
			return nil, fmt.Errorf("global heap at %#x: %w", addr, err)
		}
		c := f.cursor(hdr)
		if !c.sig("GCOL") {
			return nil, formatErr("global heap at %#x lacks GCOL signature", addr)
		}
		if v := c.u8(); v != 1 {
			return nil, unsupported("global heap version %d", v)
		}
		c.skip(3)
		size := c.length()
		if c.err != nil || size < uint64(8+f.lenSize) {
			return nil, formatErr("global heap at %#x: bad collection size %d", addr, size)
		}
		if int64(size) < 0 || f.gheapBytes+int64(size) > f.lim.MaxValueSize {
			return nil, limitErr("global heap collections beyond %d bytes", f.lim.MaxValueSize)
		}
		if coll, err = f.readAt(addr, int64(size)); err != nil {
			return nil, fmt.Errorf("global heap at %#x: %w", addr, err)
		}
		f.gheapBytes += int64(size)
		f.gheapCache[addr] = coll
	}
	c := f.cursor(coll)
	c.skip(8 + f.lenSize)
	for n := 0; c.remaining() >= 8+f.lenSize; n++ {
		if n > f.lim.MaxBlocks {
			return nil, limitErr("global heap with more than %d objects", f.lim.MaxBlocks)
		}
		id := c.u16()
		c.skip(6) // reference count, reserved
		size := c.length()
		if id == 0 {
			break // free space: the rest of the collection
		}
		if size > uint64(c.remaining()) {
			return nil, formatErr("global heap object %d of %d bytes overruns its collection", id, size)
		}
		data := c.take(int(size))
		if uint32(id) == idx {
			return data, c.err
		}
		c.skip(min(pad8(int(size))-int(size), c.remaining()))
	}
	return nil, formatErr("global heap at %#x has no object %d", addr, idx)
}

// fractalHeap is an open fractal heap (spec III.G), enough to fetch objects
// by heap ID: managed objects in direct blocks, huge objects via their
// B-tree, and tiny objects stored in the ID itself.
type fractalHeap struct {
	f             *File
	addr          uint64
	idLen         int
	filterLen     int
	flags         uint8
	maxManaged    uint32
	hugeTree      uint64
	width         int
	startBlock    uint64
	maxDirect     uint64
	maxHeapBits   int
	rootAddr      uint64
	rootRows      int
	maxDirectRows int
	offBytes      int
	lenBytes      int
	hugeIDSize    int
	hugeDirect    bool
	hugeIndex     map[uint64]block
	lastBlock     uint64
	lastData      []byte
}

func log2(v uint64) int { return bits.Len64(v) - 1 }

func (f *File) openFractalHeap(addr uint64) (*fractalHeap, error) {
	size := int64(4 + 1 + 2 + 2 + 1 + 4 + 12*f.lenSize + 3*f.offSize + 2 + 2 + 2 + 2 + 4)
	b, err := f.readAt(addr, size)
	if err != nil {
		return nil, fmt.Errorf("fractal heap at %#x: %w", addr, err)
	}
	c := f.cursor(b)
	if !c.sig("FRHP") {
		return nil, formatErr("fractal heap at %#x lacks FRHP signature", addr)
	}
	if v := c.u8(); v != 0 {
		return nil, unsupported("fractal heap version %d", v)
	}
	h := &fractalHeap{f: f, addr: addr}
	h.idLen = int(c.u16())
	h.filterLen = int(c.u16())
	h.flags = c.u8()
	h.maxManaged = c.u32()
	c.length() // next huge object ID
	h.hugeTree = c.addr()
	c.length() // free space in managed blocks
	c.addr()   // free-space manager
	c.length() // managed space
	c.length() // allocated managed space
	c.length() // direct block allocation iterator
	c.length() // managed objects
	c.length() // size of huge objects
	c.length() // number of huge objects
	c.length() // size of tiny objects
	c.length() // number of tiny objects
	h.width = int(c.u16())
	h.startBlock = c.length()
	h.maxDirect = c.length()
	h.maxHeapBits = int(c.u16())
	c.u16() // starting rows of the root indirect block
	h.rootAddr = c.addr()
	h.rootRows = int(c.u16())
	if c.err != nil {
		return nil, fmt.Errorf("fractal heap at %#x: %w", addr, c.err)
	}
	if h.filterLen > 0 {
		// Attributes and links are never filtered by the library; a
		// filtered heap would need decompression we do not do.
		return nil, unsupported("filtered fractal heap")
	}
	// No filters: the checksum directly follows.
	if err := f.verifyChecksum(b[:c.off+4], "fractal heap header"); err != nil {
		return nil, err
	}
	switch {
	case h.idLen < 2 || h.idLen > 1<<10,
		h.width < 1 || h.width > 1<<16 || h.width&(h.width-1) != 0,
		h.startBlock < 64 || h.startBlock&(h.startBlock-1) != 0,
		h.maxDirect < h.startBlock || h.maxDirect&(h.maxDirect-1) != 0 || h.maxDirect > 1<<40,
		h.maxHeapBits < 1 || h.maxHeapBits > 64,
		h.rootRows > 64:
		return nil, formatErr("fractal heap at %#x: implausible table parameters", addr)
	}
	h.maxDirectRows = log2(h.maxDirect) - log2(h.startBlock) + 2
	h.offBytes = (h.maxHeapBits + 7) / 8
	h.lenBytes = min((log2(h.maxDirect)+7)/8, log2(uint64(max(h.maxManaged, 1)))/8+1)
	if h.idLen-1 >= f.offSize+f.lenSize {
		h.hugeDirect = true
	} else {
		h.hugeIDSize = min(h.idLen-1, 8)
	}
	return h, nil
}

// get returns the object a heap ID names.
func (h *fractalHeap) get(id []byte) ([]byte, error) {
	if len(id) != h.idLen || len(id) == 0 {
		return nil, formatErr("heap ID of %d bytes, heap uses %d", len(id), h.idLen)
	}
	if v := id[0] >> 6; v != 0 {
		return nil, unsupported("heap ID version %d", v)
	}
	switch (id[0] >> 4) & 3 {
	case 0:
		c := h.f.cursor(id[1:])
		off := c.uint(h.offBytes)
		n := c.uint(h.lenBytes)
		if c.err != nil {
			return nil, fmt.Errorf("managed heap ID: %w", c.err)
		}
		return h.managed(off, n)
	case 1:
		return h.huge(id[1:])
	case 2:
		n := int(id[0]&0x0F) + 1
		data := id[1:]
		if h.idLen > 18 { // extended tiny length
			if len(id) < 2 {
				return nil, formatErr("tiny heap ID truncated")
			}
			n = int(id[0]&0x0F)<<8 | int(id[1]) + 1
			data = id[2:]
		}
		if n > len(data) {
			return nil, formatErr("tiny heap object of %d bytes in a %d-byte ID", n, len(id))
		}
		return data[:n], nil
	default:
		return nil, formatErr("heap ID of unknown type %d", (id[0]>>4)&3)
	}
}

func (h *fractalHeap) huge(key []byte) ([]byte, error) {
	if h.hugeDirect {
		c := h.f.cursor(key)
		addr, n := c.addr(), c.length()
		if c.err != nil {
			return nil, fmt.Errorf("huge heap ID: %w", c.err)
		}
		return h.readObject(addr, n)
	}
	want := h.f.cursor(key).uint(h.hugeIDSize)
	if h.hugeIndex == nil {
		// Index the whole tree once: every attribute of a large model
		// config may be huge.
		h.hugeIndex = map[uint64]block{}
		if h.hugeTree == undefAddr {
			return nil, formatErr("huge heap object without a huge-object B-tree")
		}
		err := h.f.walkBTree2(h.hugeTree, 1, func(rec []byte) error {
			// Record type 1: address, length, ID.
			c := h.f.cursor(rec)
			a, l, id := c.addr(), c.length(), c.length()
			if c.err != nil {
				return c.err
			}
			if len(h.hugeIndex) >= h.f.lim.MaxBlocks {
				return limitErr("more than %d huge heap objects", h.f.lim.MaxBlocks)
			}
			h.hugeIndex[id] = block{a, l}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("huge object B-tree: %w", err)
		}
	}
	blk, ok := h.hugeIndex[want]
	if !ok {
		return nil, formatErr("huge heap object %d not in its B-tree", want)
	}
	return h.readObject(blk.addr, blk.size)
}

func (h *fractalHeap) readObject(addr, n uint64) ([]byte, error) {
	if n > uint64(h.f.lim.MaxValueSize) {
		return nil, limitErr("heap object of %d bytes", n)
	}
	return h.f.readAt(addr, int64(n))
}

// rowSize is the size of the blocks in row r of a doubling table.
func (h *fractalHeap) rowSize(r int) uint64 {
	if r <= 1 {
		return h.startBlock
	}
	return h.startBlock << (r - 1)
}

// managed finds the direct block holding heap offset off and returns n
// bytes from it.
func (h *fractalHeap) managed(off, n uint64) ([]byte, error) {
	if n == 0 || n > h.maxDirect {
		return nil, formatErr("managed heap object of %d bytes", n)
	}
	if h.rootAddr == undefAddr {
		return nil, formatErr("managed heap object in an empty heap")
	}
	if h.rootRows == 0 {
		return h.fromDirect(h.rootAddr, 0, h.startBlock, off, n)
	}
	blockAddr, blockOff, blockSize := h.rootAddr, uint64(0), uint64(0)
	rows := h.rootRows
	for depth := 0; ; depth++ {
		if depth > h.f.lim.MaxDepth {
			return nil, limitErr("fractal heap indirect blocks nested deeper than %d", h.f.lim.MaxDepth)
		}
		child, childOff, childSize, direct, err := h.indirectLookup(blockAddr, blockOff, rows, off)
		if err != nil {
			return nil, err
		}
		if direct {
			return h.fromDirect(child, childOff, childSize, off, n)
		}
		blockAddr, blockOff, blockSize = child, childOff, childSize
		// An indirect block of size S spans log2(S/(start*width))+1 rows.
		rows = log2(blockSize) - log2(h.startBlock*uint64(h.width)) + 1
		if rows < 1 || rows > 64 {
			return nil, formatErr("fractal heap indirect block with %d rows", rows)
		}
	}
}

// indirectLookup reads the indirect block at addr (covering heap offsets
// from blockOff) and returns the child covering off.
func (h *fractalHeap) indirectLookup(addr, blockOff uint64, rows int, off uint64) (child, childOff, childSize uint64, direct bool, err error) {
	nDirect := min(rows, h.maxDirectRows) * h.width
	nIndirect := 0
	if rows > h.maxDirectRows {
		nIndirect = (rows - h.maxDirectRows) * h.width
	}
	size := int64(4 + 1 + h.f.offSize + h.offBytes + (nDirect+nIndirect)*h.f.offSize + 4)
	b, err := h.f.readAt(addr, size)
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("fractal heap indirect block: %w", err)
	}
	if string(b[:4]) != "FHIB" {
		return 0, 0, 0, false, formatErr("fractal heap indirect block at %#x lacks FHIB signature", addr)
	}
	if err := h.f.verifyChecksum(b, "fractal heap indirect block"); err != nil {
		return 0, 0, 0, false, err
	}
	c := h.f.cursor(b)
	c.skip(5 + h.f.offSize + h.offBytes)
	cur := blockOff
	for i := 0; i < nDirect+nIndirect; i++ {
		a := c.addr()
		sz := h.rowSize(i / h.width)
		if off >= cur && off-cur < sz {
			if a == undefAddr {
				return 0, 0, 0, false, formatErr("heap offset %d falls in an unallocated block", off)
			}
			return a, cur, sz, i < nDirect, c.err
		}
		cur += sz
	}
	return 0, 0, 0, false, formatErr("heap offset %d outside the heap", off)
}

func (h *fractalHeap) fromDirect(addr, blockOff, blockSize, off, n uint64) ([]byte, error) {
	hdr := uint64(4 + 1 + h.f.offSize + h.offBytes)
	if h.flags&0x02 != 0 {
		hdr += 4
	}
	rel := off - blockOff
	if rel < hdr || rel > blockSize || n > blockSize-rel {
		return nil, formatErr("heap object [%d,+%d) outside its direct block", off, n)
	}
	if h.lastData != nil && h.lastBlock == addr && uint64(len(h.lastData)) == blockSize {
		return h.lastData[rel : rel+n], nil
	}
	b, err := h.f.readAt(addr, int64(blockSize))
	if err != nil {
		return nil, fmt.Errorf("fractal heap direct block: %w", err)
	}
	if string(b[:4]) != "FHDB" {
		return nil, formatErr("fractal heap direct block at %#x lacks FHDB signature", addr)
	}
	if h.flags&0x02 != 0 {
		// The checksum covers the whole block with its own field zeroed.
		at := int(hdr) - 4
		want := le.Uint32(b[at:])
		tmp := append([]byte(nil), b...)
		copy(tmp[at:at+4], []byte{0, 0, 0, 0})
		if got := lookup3(tmp, 0); got != want && !h.f.skipChecksums {
			return nil, formatErr("fractal heap direct block: checksum mismatch")
		}
	}
	h.lastBlock, h.lastData = addr, b
	return b[rel : rel+n], nil
}

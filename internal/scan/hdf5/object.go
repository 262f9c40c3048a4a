package hdf5

import "fmt"

// Header message types used by this reader (spec section IV.A.2).
const (
	msgNil          = 0x00
	msgLinkInfo     = 0x02
	msgLink         = 0x06
	msgAttribute    = 0x0C
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// message flag: the message body is stored elsewhere (shared message).
const msgFlagShared = 0x02

type message struct {
	typ   uint16
	flags uint8
	data  []byte
}

type block struct{ addr, size uint64 }

// messages reads every header message of the object header at addr,
// following continuation blocks. Version 2 chunks are checksum-verified.
func (f *File) messages(addr uint64) ([]message, error) {
	head, err := f.readUpTo(addr, 16)
	if err != nil {
		return nil, fmt.Errorf("object header at %#x: %w", addr, err)
	}
	if len(head) >= 4 && string(head[:4]) == "OHDR" {
		return f.messagesV2(addr)
	}
	if len(head) < 16 {
		return nil, formatErr("object header at %#x truncated", addr)
	}
	if head[0] != 1 {
		return nil, unsupported("object header version %d at %#x", head[0], addr)
	}
	return f.messagesV1(addr, head)
}

func (f *File) messagesV1(addr uint64, head []byte) ([]message, error) {
	c := f.cursor(head)
	c.skip(4) // version, reserved, message count (NIL padding makes it unreliable)
	c.skip(4) // reference count
	size := uint64(c.u32())
	// The 12-byte prefix is padded to 16 so messages stay 8-byte aligned.
	chunks := []block{{addr + 16, size}}
	var out []message
	seen := map[uint64]bool{}
	for i := 0; i < len(chunks); i++ {
		if i > f.lim.MaxContinuations {
			return nil, limitErr("more than %d object header continuation blocks", f.lim.MaxContinuations)
		}
		ch := chunks[i]
		if seen[ch.addr] {
			return nil, formatErr("object header continuation loop at %#x", ch.addr)
		}
		seen[ch.addr] = true
		b, err := f.readAt(ch.addr, int64(min(ch.size, 1<<40)))
		if err != nil {
			return nil, fmt.Errorf("object header chunk at %#x: %w", ch.addr, err)
		}
		c := f.cursor(b)
		for c.remaining() >= 8 {
			typ := c.u16()
			sz := int(c.u16())
			flags := c.u8()
			c.skip(3)
			data := c.take(sz)
			if c.err != nil {
				return nil, fmt.Errorf("object header at %#x: %w", addr, c.err)
			}
			if len(out) >= f.lim.MaxMessages {
				return nil, limitErr("more than %d header messages", f.lim.MaxMessages)
			}
			out = append(out, message{typ: typ, flags: flags, data: data})
			if typ == msgContinuation {
				nb, err := f.continuation(data)
				if err != nil {
					return nil, err
				}
				chunks = append(chunks, nb)
			}
		}
	}
	return out, nil
}

func (f *File) continuation(data []byte) (block, error) {
	c := f.cursor(data)
	b := block{addr: c.addr(), size: c.length()}
	if c.err != nil {
		return b, fmt.Errorf("continuation message: %w", c.err)
	}
	if b.addr == undefAddr || b.size == 0 {
		return b, formatErr("continuation message with empty target")
	}
	return b, nil
}

func (f *File) messagesV2(addr uint64) ([]message, error) {
	pre, err := f.readUpTo(addr, 4+2+16+4+8)
	if err != nil {
		return nil, fmt.Errorf("object header at %#x: %w", addr, err)
	}
	c := f.cursor(pre)
	c.skip(4)
	if v := c.u8(); v != 2 {
		return nil, unsupported("object header v2 signature with version %d at %#x", v, addr)
	}
	flags := c.u8()
	if flags&0x20 != 0 {
		c.skip(16) // access, modification, change, birth times
	}
	if flags&0x10 != 0 {
		c.skip(4) // attribute phase change values
	}
	size0 := c.uint(1 << (flags & 3))
	if c.err != nil {
		return nil, fmt.Errorf("object header at %#x: %w", addr, c.err)
	}
	prefix := uint64(c.off)
	if size0 > 1<<40 {
		return nil, formatErr("object header chunk size %d", size0)
	}
	whole, err := f.readAt(addr, int64(prefix+size0+4))
	if err != nil {
		return nil, fmt.Errorf("object header at %#x: %w", addr, err)
	}
	if err := f.verifyChecksum(whole, "object header"); err != nil {
		return nil, err
	}
	withOrder := flags&0x04 != 0
	var out []message
	chunkMsgs := whole[prefix : len(whole)-4]
	seen := map[uint64]bool{addr: true}
	var queue []block
	for {
		more, err := f.parseV2Messages(chunkMsgs, withOrder, &out)
		if err != nil {
			return nil, fmt.Errorf("object header at %#x: %w", addr, err)
		}
		queue = append(queue, more...)
		if len(queue) == 0 {
			return out, nil
		}
		if len(seen) > f.lim.MaxContinuations {
			return nil, limitErr("more than %d object header continuation blocks", f.lim.MaxContinuations)
		}
		nb := queue[0]
		queue = queue[1:]
		if seen[nb.addr] {
			return nil, formatErr("object header continuation loop at %#x", nb.addr)
		}
		seen[nb.addr] = true
		if nb.size < 8 || nb.size > 1<<40 {
			return nil, formatErr("continuation block of %d bytes", nb.size)
		}
		b, err := f.readAt(nb.addr, int64(nb.size))
		if err != nil {
			return nil, fmt.Errorf("continuation block at %#x: %w", nb.addr, err)
		}
		if string(b[:4]) != "OCHK" {
			return nil, formatErr("continuation block at %#x lacks OCHK signature", nb.addr)
		}
		if err := f.verifyChecksum(b, "continuation block"); err != nil {
			return nil, err
		}
		chunkMsgs = b[4 : len(b)-4]
	}
}

func (f *File) parseV2Messages(b []byte, withOrder bool, out *[]message) ([]block, error) {
	hdr := 4
	if withOrder {
		hdr = 6
	}
	var conts []block
	c := f.cursor(b)
	// Space smaller than a message header at the end of a chunk is a gap.
	for c.remaining() >= hdr {
		typ := uint16(c.u8())
		sz := int(c.u16())
		flags := c.u8()
		if withOrder {
			c.skip(2)
		}
		data := c.take(sz)
		if c.err != nil {
			return nil, c.err
		}
		if len(*out) >= f.lim.MaxMessages {
			return nil, limitErr("more than %d header messages", f.lim.MaxMessages)
		}
		*out = append(*out, message{typ: typ, flags: flags, data: data})
		if typ == msgContinuation {
			nb, err := f.continuation(data)
			if err != nil {
				return nil, err
			}
			conts = append(conts, nb)
		}
	}
	return conts, nil
}

package archive

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// zipSpec describes one entry of a hand-built zip. Zero values mean "as
// it should be"; the overrides build the tampered variants.
type zipSpec struct {
	name    string
	data    []byte // uncompressed content
	deflate bool
	flags   uint16
	method  *uint16 // override of the method in both headers
	crc     *uint32 // override in both headers
	hidden  bool    // left out of the central directory
	// Directory-only overrides.
	cdName  string
	cdCSize *uint32
	// descriptor: sizes and CRC in a data descriptor, zeros in the local
	// header (as torch writes).
	descriptor bool
	zip64      bool // sizes and offset in zip64 extra fields
}

func u32p(v uint32) *uint32 { return &v }
func u16p(v uint16) *uint16 { return &v }

type builtZip struct {
	buf     bytes.Buffer
	cd      bytes.Buffer
	entries int
}

func le16(b *bytes.Buffer, v uint16) { binary.Write(b, binary.LittleEndian, v) }
func le32(b *bytes.Buffer, v uint32) { binary.Write(b, binary.LittleEndian, v) }
func le64(b *bytes.Buffer, v uint64) { binary.Write(b, binary.LittleEndian, v) }

func deflateBytes(b []byte) []byte {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// buildZip writes the entries, then the central directory and end record
// (noDirectory leaves both out, as a truncated archive would).
func buildZip(prefix []byte, specs []zipSpec, noDirectory bool) []byte {
	var z builtZip
	z.buf.Write(prefix)
	base := len(prefix)
	for _, s := range specs {
		off := uint32(z.buf.Len() - base)
		payload := s.data
		method := uint16(0)
		if s.deflate {
			payload, method = deflateBytes(s.data), 8
		}
		if s.method != nil {
			method = *s.method
		}
		crc := crc32.ChecksumIEEE(s.data)
		if s.crc != nil {
			crc = *s.crc
		}
		flags := s.flags
		if s.descriptor {
			flags |= 0x08
		}
		csize, usize := uint32(len(payload)), uint32(len(s.data))
		var extra bytes.Buffer
		if s.zip64 {
			le16(&extra, 1)
			le16(&extra, 16)
			le64(&extra, uint64(usize))
			le64(&extra, uint64(csize))
		}
		// Local header.
		le32(&z.buf, sigLocal)
		le16(&z.buf, 45)
		le16(&z.buf, flags)
		le16(&z.buf, method)
		le32(&z.buf, 0)
		switch {
		case s.descriptor:
			le32(&z.buf, 0)
			le32(&z.buf, 0)
			le32(&z.buf, 0)
		case s.zip64:
			le32(&z.buf, crc)
			le32(&z.buf, 0xffffffff)
			le32(&z.buf, 0xffffffff)
		default:
			le32(&z.buf, crc)
			le32(&z.buf, csize)
			le32(&z.buf, usize)
		}
		le16(&z.buf, uint16(len(s.name)))
		le16(&z.buf, uint16(extra.Len()))
		z.buf.WriteString(s.name)
		z.buf.Write(extra.Bytes())
		z.buf.Write(payload)
		if s.descriptor {
			le32(&z.buf, sigDesc)
			le32(&z.buf, crc)
			le32(&z.buf, csize)
			le32(&z.buf, usize)
		}
		if s.hidden {
			continue
		}
		name := s.name
		if s.cdName != "" {
			name = s.cdName
		}
		cdc := csize
		if s.cdCSize != nil {
			cdc = *s.cdCSize
		}
		var cdExtra bytes.Buffer
		if s.zip64 {
			le16(&cdExtra, 1)
			le16(&cdExtra, 24)
			le64(&cdExtra, uint64(usize))
			le64(&cdExtra, uint64(cdc))
			le64(&cdExtra, uint64(off))
		}
		le32(&z.cd, sigCentral)
		le16(&z.cd, 45)
		le16(&z.cd, 45)
		le16(&z.cd, flags)
		le16(&z.cd, method)
		le32(&z.cd, 0)
		le32(&z.cd, crc)
		if s.zip64 {
			le32(&z.cd, 0xffffffff)
			le32(&z.cd, 0xffffffff)
		} else {
			le32(&z.cd, cdc)
			le32(&z.cd, usize)
		}
		le16(&z.cd, uint16(len(name)))
		le16(&z.cd, uint16(cdExtra.Len()))
		le16(&z.cd, 0)
		le16(&z.cd, 0)
		le16(&z.cd, 0)
		le32(&z.cd, 0)
		if s.zip64 {
			le32(&z.cd, 0xffffffff)
		} else {
			le32(&z.cd, off)
		}
		z.cd.WriteString(name)
		z.cd.Write(cdExtra.Bytes())
		z.entries++
	}
	if noDirectory {
		return z.buf.Bytes()
	}
	cdOff := uint32(z.buf.Len() - base)
	cdLen := uint32(z.cd.Len())
	z.buf.Write(z.cd.Bytes())
	le32(&z.buf, sigEOCD)
	le16(&z.buf, 0)
	le16(&z.buf, 0)
	le16(&z.buf, uint16(z.entries))
	le16(&z.buf, uint16(z.entries))
	le32(&z.buf, cdLen)
	le32(&z.buf, cdOff)
	le16(&z.buf, 0)
	return z.buf.Bytes()
}

func deflateStream(w io.Writer) io.WriteCloser {
	fw, _ := flate.NewWriter(w, flate.BestSpeed)
	return fw
}

// buildZipRaw writes a one-entry zip around already-deflated data.
func buildZipRaw(name string, deflated []byte, usize int64) []byte {
	var b, cd bytes.Buffer
	le32(&b, sigLocal)
	le16(&b, 20)
	le16(&b, 0)
	le16(&b, 8)
	le32(&b, 0)
	le32(&b, 0)
	le32(&b, uint32(len(deflated)))
	le32(&b, uint32(usize))
	le16(&b, uint16(len(name)))
	le16(&b, 0)
	b.WriteString(name)
	b.Write(deflated)
	le32(&cd, sigCentral)
	le16(&cd, 20)
	le16(&cd, 20)
	le16(&cd, 0)
	le16(&cd, 8)
	le32(&cd, 0)
	le32(&cd, 0)
	le32(&cd, uint32(len(deflated)))
	le32(&cd, uint32(usize))
	le16(&cd, uint16(len(name)))
	for i := 0; i < 4; i++ {
		le16(&cd, 0)
	}
	le32(&cd, 0)
	le32(&cd, 0)
	cd.WriteString(name)
	off := b.Len()
	b.Write(cd.Bytes())
	le32(&b, sigEOCD)
	le32(&b, 0)
	le16(&b, 1)
	le16(&b, 1)
	le32(&b, uint32(cd.Len()))
	le32(&b, uint32(off))
	le16(&b, 0)
	return b.Bytes()
}

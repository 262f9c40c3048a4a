package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/ulikunitz/xz/lzma"
)

// The 7z library allocates from counts in the archive header before it
// reads the items they count, so a hostile header can ask for terabytes
// (an unrecoverable out-of-memory, not an error). check7z walks the same
// header grammar first, without allocating, and refuses counts the header
// cannot hold or that exceed our limits. Encoded (compressed) headers are
// decoded here, bounded, and checked the same way.

var (
	errSevenZipHeader    = errors.New("7z: malformed header")
	errSevenZipEncrypted = errors.New("7z: encrypted archive cannot be analysed")
)

const (
	max7zCoders = 64
	max7zProps  = 1 << 16
)

type sz7 struct {
	b     []byte
	p     int
	limit uint64 // the largest count any list may have
}

func (v *sz7) byte() (byte, error) {
	if v.p >= len(v.b) {
		return 0, errSevenZipHeader
	}
	c := v.b[v.p]
	v.p++
	return c, nil
}

// num reads a 7z variable-length number, as the library does.
func (v *sz7) num() (uint64, error) {
	b, err := v.byte()
	if err != nil {
		return 0, err
	}
	l := bits.LeadingZeros8(^b)
	var x uint64
	if l < 7 {
		x |= uint64(b&((1<<(8-l))-1)) << (8 * l)
	}
	for i := 0; i < l; i++ {
		c, err := v.byte()
		if err != nil {
			return 0, err
		}
		x |= uint64(c) << (8 * i)
	}
	return x, nil
}

func (v *sz7) count() (uint64, error) {
	n, err := v.num()
	if err != nil {
		return 0, err
	}
	if n > v.limit {
		return 0, fmt.Errorf("%w: count %d exceeds %d", errSevenZipHeader, n, v.limit)
	}
	return n, nil
}

func (v *sz7) skip(n uint64) error {
	if n > uint64(len(v.b)-v.p) {
		return errSevenZipHeader
	}
	v.p += int(n)
	return nil
}

func (v *sz7) expect(id byte) error {
	c, err := v.byte()
	if err != nil {
		return err
	}
	if c != id {
		return fmt.Errorf("%w: property %#x where %#x was expected", errSevenZipHeader, c, id)
	}
	return nil
}

// digests skips an optional-bool vector and a CRC per defined item.
func (v *sz7) digests(n uint64) error {
	all, err := v.byte()
	if err != nil {
		return err
	}
	defined := n
	if all == 0 {
		defined = 0
		for i := uint64(0); i < (n+7)/8; i++ {
			c, err := v.byte()
			if err != nil {
				return err
			}
			defined += uint64(bits.OnesCount8(c))
		}
		defined = min(defined, n)
	}
	return v.skip(4 * defined)
}

type sz7Folder struct {
	outs  uint64
	coder []sz7Coder
}

type sz7Coder struct {
	id    []byte
	props []byte
}

func (v *sz7) folder() (sz7Folder, error) {
	var f sz7Folder
	coders, err := v.num()
	if err != nil {
		return f, err
	}
	if coders == 0 || coders > max7zCoders {
		return f, fmt.Errorf("%w: %d coders", errSevenZipHeader, coders)
	}
	var ins, outs uint64
	for i := uint64(0); i < coders; i++ {
		c, err := v.byte()
		if err != nil {
			return f, err
		}
		idStart := v.p
		if err := v.skip(uint64(c & 0xf)); err != nil {
			return f, err
		}
		co := sz7Coder{id: v.b[idStart:v.p]}
		in, out := uint64(1), uint64(1)
		if c&0x10 != 0 {
			if in, err = v.num(); err != nil {
				return f, err
			}
			if out, err = v.num(); err != nil {
				return f, err
			}
			if in > max7zCoders || out > max7zCoders {
				return f, errSevenZipHeader
			}
		}
		if c&0x20 != 0 {
			size, err := v.num()
			if err != nil {
				return f, err
			}
			if size > max7zProps {
				return f, errSevenZipHeader
			}
			start := v.p
			if err := v.skip(size); err != nil {
				return f, err
			}
			co.props = v.b[start:v.p]
		}
		ins += in
		outs += out
		f.coder = append(f.coder, co)
	}
	if outs == 0 || ins < outs-1 {
		return f, errSevenZipHeader
	}
	bindPairs := outs - 1
	for i := uint64(0); i < 2*bindPairs; i++ {
		if _, err := v.num(); err != nil {
			return f, err
		}
	}
	if packed := ins - bindPairs; packed != 1 {
		for i := uint64(0); i < packed; i++ {
			if _, err := v.num(); err != nil {
				return f, err
			}
		}
	}
	f.outs = outs
	return f, nil
}

type sz7Streams struct {
	packPos   uint64
	packSizes []uint64
	folders   []sz7Folder
	unpack    []uint64
}

func (v *sz7) streams(keep bool) (sz7Streams, error) {
	var s sz7Streams
	id, err := v.byte()
	if err != nil {
		return s, err
	}
	if id == 0x06 { // PackInfo
		if s.packPos, err = v.num(); err != nil {
			return s, err
		}
		n, err := v.count()
		if err != nil {
			return s, err
		}
		if id, err = v.byte(); err != nil {
			return s, err
		}
		if id == 0x09 {
			for i := uint64(0); i < n; i++ {
				x, err := v.num()
				if err != nil {
					return s, err
				}
				if keep {
					s.packSizes = append(s.packSizes, x)
				}
			}
			if id, err = v.byte(); err != nil {
				return s, err
			}
		}
		if id == 0x0a {
			if err := v.digests(n); err != nil {
				return s, err
			}
			if id, err = v.byte(); err != nil {
				return s, err
			}
		}
		if id != 0 {
			return s, errSevenZipHeader
		}
		if id, err = v.byte(); err != nil {
			return s, err
		}
	}
	if id == 0x07 { // UnpackInfo
		if err := v.expect(0x0b); err != nil {
			return s, err
		}
		n, err := v.count()
		if err != nil {
			return s, err
		}
		if ext, err := v.byte(); err != nil || ext != 0 {
			return s, errSevenZipHeader
		}
		for i := uint64(0); i < n; i++ {
			f, err := v.folder()
			if err != nil {
				return s, err
			}
			s.folders = append(s.folders, f)
		}
		if err := v.expect(0x0c); err != nil {
			return s, err
		}
		for _, f := range s.folders {
			for j := uint64(0); j < f.outs; j++ {
				x, err := v.num()
				if err != nil {
					return s, err
				}
				if keep {
					s.unpack = append(s.unpack, x)
				}
			}
		}
		if id, err = v.byte(); err != nil {
			return s, err
		}
		if id == 0x0a {
			if err := v.digests(n); err != nil {
				return s, err
			}
			if id, err = v.byte(); err != nil {
				return s, err
			}
		}
		if id != 0 {
			return s, errSevenZipHeader
		}
		if id, err = v.byte(); err != nil {
			return s, err
		}
	}
	if id == 0x08 { // SubStreamsInfo
		if s.folders == nil && len(s.packSizes) == 0 {
			return s, errSevenZipHeader
		}
		if id, err = v.byte(); err != nil {
			return s, err
		}
		streams := make([]uint64, len(s.folders))
		var files uint64
		for i := range streams {
			streams[i] = 1
			if id == 0x0d {
				if streams[i], err = v.count(); err != nil {
					return s, err
				}
			}
			files += streams[i]
			if files > v.limit {
				return s, errSevenZipHeader
			}
		}
		if id == 0x0d {
			if id, err = v.byte(); err != nil {
				return s, err
			}
		}
		if id == 0x09 {
			for _, n := range streams {
				if n == 0 {
					return s, errSevenZipHeader
				}
				for j := uint64(1); j < n; j++ {
					if _, err := v.num(); err != nil {
						return s, err
					}
				}
			}
			if id, err = v.byte(); err != nil {
				return s, err
			}
		}
		if id == 0x0a {
			if err := v.digests(files); err != nil {
				return s, err
			}
			if id, err = v.byte(); err != nil {
				return s, err
			}
		}
		if id != 0 {
			return s, errSevenZipHeader
		}
		if id, err = v.byte(); err != nil {
			return s, err
		}
	}
	if id != 0 {
		return s, errSevenZipHeader
	}
	return s, nil
}

// header checks a plain header (after its 0x01 id).
func (v *sz7) header() error {
	id, err := v.byte()
	if err != nil {
		return err
	}
	if id == 0x04 {
		if _, err := v.streams(false); err != nil {
			return err
		}
		if id, err = v.byte(); err != nil {
			return err
		}
	}
	if id == 0x05 {
		if _, err := v.count(); err != nil {
			return err
		}
		for {
			prop, err := v.byte()
			if err != nil {
				return err
			}
			if prop == 0 {
				break
			}
			length, err := v.num()
			if err != nil {
				return err
			}
			if err := v.skip(length); err != nil {
				return err
			}
		}
		if id, err = v.byte(); err != nil {
			return err
		}
	}
	if id != 0 {
		return fmt.Errorf("%w: unexpected property %#x", errSevenZipHeader, id)
	}
	return nil
}

// check7z validates the header of the 7z archive in r before the library
// sees it. maxCount bounds every list (files, folders, streams).
func check7z(r io.ReaderAt, size int64, maxCount int) error {
	var sig [32]byte
	if _, err := r.ReadAt(sig[:], 0); err != nil {
		return fmt.Errorf("7z: %w", err)
	}
	off, n := binary.LittleEndian.Uint64(sig[12:]), binary.LittleEndian.Uint64(sig[20:])
	if n == 0 {
		return nil // empty archive
	}
	if n > maxSevenZipHeader || off > uint64(size) || 32+off+n > uint64(size) {
		return fmt.Errorf("%w: header of %d bytes at %d does not fit", errSevenZipHeader, n, off)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(32+off)); err != nil {
		return fmt.Errorf("7z: %w", err)
	}
	v := &sz7{b: b[1:], limit: min(uint64(len(b)), uint64(maxCount))}
	switch b[0] {
	case 0x01:
		return v.header()
	case 0x17:
	default:
		return errSevenZipHeader
	}
	// Encoded header: one folder with one LZMA or LZMA2 coder.
	s, err := v.streams(true)
	if err != nil {
		return err
	}
	if len(s.folders) != 1 || len(s.packSizes) != 1 || len(s.unpack) != 1 {
		return fmt.Errorf("%w: unsupported encoded header layout", errSevenZipHeader)
	}
	f := s.folders[0]
	unpack := s.unpack[0]
	if unpack == 0 || unpack > maxSevenZipHeader || s.packSizes[0] > uint64(size) || 32+s.packPos > uint64(size)-s.packSizes[0] {
		return fmt.Errorf("%w: encoded header sizes", errSevenZipHeader)
	}
	for _, c := range f.coder {
		if bytes.Equal(c.id, []byte{0x06, 0xf1, 0x07, 0x01}) {
			return errSevenZipEncrypted
		}
	}
	if len(f.coder) != 1 {
		return fmt.Errorf("%w: unsupported header coders", errSevenZipHeader)
	}
	packed := io.NewSectionReader(r, int64(32+s.packPos), int64(s.packSizes[0]))
	var dec io.Reader
	switch c := f.coder[0]; {
	case bytes.Equal(c.id, []byte{0x03, 0x01, 0x01}) && len(c.props) == 5:
		var hdr [13]byte
		copy(hdr[:5], c.props)
		binary.LittleEndian.PutUint64(hdr[5:], unpack)
		rc, err := newLZMA(io.MultiReader(bytes.NewReader(hdr[:]), packed))
		if err != nil {
			return err
		}
		dec = rc
	case bytes.Equal(c.id, []byte{0x21}) && len(c.props) == 1:
		if c.props[0] > 40 {
			return errSevenZipHeader
		}
		dict := maxLZMADict
		if c.props[0] < 40 {
			dict = min(maxLZMADict, int(uint64(2|(c.props[0]&1))<<(c.props[0]/2+11)))
		}
		d, err := lzma.Reader2Config{DictCap: max(dict, lzma.MinDictCap)}.NewReader2(packed)
		if err != nil {
			return fmt.Errorf("7z: header: %w", err)
		}
		dec = d
	default:
		return fmt.Errorf("%w: unsupported header coder %x", errSevenZipHeader, c.id)
	}
	plain := make([]byte, unpack)
	if _, err := io.ReadFull(dec, plain); err != nil {
		return fmt.Errorf("7z: decode header: %w", err)
	}
	if plain[0] != 0x01 {
		return errSevenZipHeader
	}
	v = &sz7{b: plain[1:], limit: min(uint64(len(plain)), uint64(maxCount))}
	return v.header()
}

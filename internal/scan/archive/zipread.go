package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"
)

// The tolerant zip reader. It trusts neither the central directory nor the
// local headers: it reads the directory when it is sane, checks every local
// header it points to, follows the chain of local headers from each entry's
// end, and searches every byte range no entry accounts for (prepended data,
// gaps, a missing directory) for further local headers. Reads are bounded:
// it touches headers and the unaccounted ranges only, never member data of
// entries whose size is known.

const (
	sigLocal   = 0x04034b50
	sigCentral = 0x02014b50
	sigEOCD    = 0x06054b50
	sigEOCD64  = 0x06064b50
	sigLoc64   = 0x07064b50
	sigDesc    = 0x08074b50

	flagEncrypted  = 0x0001
	flagDescriptor = 0x0008
	flagStrongEnc  = 0x0040

	maxCentralDir = 256 << 20 // bytes of central directory read at most
	maxNameLen    = 4096
	maxIssues     = 64 // findings of one kind per archive
)

// zipEntry is one view of an entry: what the central directory or a local
// header says about it.
type zipEntry struct {
	name   string
	method uint16
	flags  uint16
	crc    uint32
	csize  int64 // compressed size; -1 when unknown
	usize  int64 // uncompressed size; -1 when unknown
	hdrOff int64 // absolute offset of the local header
	// dataOff is the absolute offset of the data; -1 when the local header
	// could not be read.
	dataOff int64
	// end is the end of the entry (data plus data descriptor); 0 if unknown.
	end int64
	// truncated: the data runs past the end of the file or its end was not
	// found.
	truncated bool
	zip64     bool
}

// zipIssue is a tampering observation turned into a finding by the scanner.
type zipIssue struct {
	kind   string // "mismatch", "hidden", "duplicate", "extra"
	member string
	text   string
	fields map[string]any
}

// zipDir is what the tolerant reader learnt.
type zipDir struct {
	// views are the entry views to scan, deduplicated by data position and
	// decoding (central directory views first).
	views  []*zipEntry
	issues []zipIssue
	gaps   []string
	// hasCD: a usable central directory was found.
	hasCD bool
	// prefix is the length of data before the first zip structure.
	prefix int64
	// suffix is where unaccounted data after the archive starts (0: none).
	suffix int64
	size   int64
}

type interval struct{ lo, hi int64 }

type zipReader struct {
	ctx        context.Context
	r          io.ReaderAt
	size       int64
	maxEntries int
	dir        *zipDir
	covered    []interval
	// done holds ranges already searched without a header, so later
	// passes do not search them again.
	done []interval
	// mismatches counts header disagreements (findings are capped).
	mismatches int
	locals     map[int64]*zipEntry // local header views by header offset
	cdByOff    map[int64][]*zipEntry
	searched   int64
}

func u16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func u64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func (z *zipReader) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > z.size || int64(n) > z.size-off {
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n)
	if _, err := z.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, err
	}
	return b, nil
}

func (z *zipReader) gap(format string, args ...any) {
	if len(z.dir.gaps) < 64 {
		z.dir.gaps = append(z.dir.gaps, fmt.Sprintf(format, args...))
	}
}

// readZipDir runs the tolerant reader over r.
func readZipDir(ctx context.Context, r io.ReaderAt, size int64, maxEntries int) (*zipDir, error) {
	z := &zipReader{
		ctx: ctx, r: r, size: size, maxEntries: maxEntries,
		dir:     &zipDir{size: size},
		locals:  map[int64]*zipEntry{},
		cdByOff: map[int64][]*zipEntry{},
	}
	cd, eocdEnd, err := z.centralDirectory()
	if err != nil {
		return nil, err
	}
	// Local headers the central directory points to.
	var pending []int64
	for _, e := range cd {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l := z.local(e.hdrOff, e)
		if l == nil {
			z.gap("%s: no local header at offset %d where the central directory points", memberName(e.name, e.hdrOff), e.hdrOff)
			continue
		}
		e.dataOff = l.dataOff
		z.compare(e, l)
		z.cover(e.hdrOff, max(l.end, e.endFrom(l.dataOff)))
		pending = append(pending, l.end, e.endFrom(l.dataOff))
	}
	// Follow the chain from each entry's end: a header right after an
	// entry that the directory does not list is hidden, not junk.
	if err := z.follow(pending); err != nil {
		return nil, err
	}
	// Search what nothing accounts for.
	if err := z.searchUncovered(); err != nil {
		return nil, err
	}
	z.collect(cd, eocdEnd)
	return z.dir, nil
}

// endFrom is the entry's end (data and descriptor) if its data started at
// dataOff, per this view's sizes.
func (e *zipEntry) endFrom(dataOff int64) int64 {
	if e.csize < 0 || dataOff < 0 {
		return dataOff
	}
	if e.csize > math.MaxInt64/2 {
		return math.MaxInt64 / 2 // impossible size: past any file
	}
	end := dataOff + e.csize
	if e.flags&flagDescriptor != 0 {
		end += 12
		if e.zip64 {
			end += 8
		}
	}
	return end
}

func (z *zipReader) cover(lo, hi int64) {
	if hi > z.size {
		hi = z.size
	}
	if lo < hi {
		z.covered = append(z.covered, interval{lo, hi})
	}
}

// centralDirectory finds and parses the end record and the directory. It
// returns the directory's views and the end of the end record (0 if none).
func (z *zipReader) centralDirectory() ([]*zipEntry, int64, error) {
	tailLen := min(z.size, 22+65535)
	tail, err := z.readAt(z.size-tailLen, int(tailLen))
	if err != nil {
		return nil, 0, fmt.Errorf("read end of archive: %w", err)
	}
	base := z.size - tailLen
	for i := len(tail) - 22; i >= 0; i-- {
		if u32(tail[i:]) != sigEOCD {
			continue
		}
		p := base + int64(i)
		rec := tail[i : i+22]
		count := int64(u16(rec[10:]))
		cdSize := int64(u32(rec[12:]))
		cdOff := int64(u32(rec[16:]))
		commentLen := int64(u16(rec[20:]))
		if p+22+commentLen > z.size {
			continue
		}
		recStart := p
		if p >= 20 {
			if loc, err := z.readAt(p-20, 20); err == nil && u32(loc) == sigLoc64 {
				off64 := int64(u64(loc[8:]))
				if r64, ok := z.eocd64(off64, p-20); ok {
					count, cdSize, cdOff = r64.count, r64.cdSize, r64.cdOff
					recStart = r64.at
					z.cover(r64.at, p)
				}
			}
		}
		z.cover(p, p+22)
		entries, ok := z.parseCD(count, cdSize, cdOff, recStart)
		if !ok {
			continue
		}
		z.dir.hasCD = true
		return entries, p + 22 + commentLen, nil
	}
	z.gap("no usable central directory (truncated or damaged archive): scanned the local headers only")
	return nil, 0, nil
}

type eocd64Rec struct {
	count, cdSize, cdOff, at int64
}

// eocd64 reads the zip64 end record at off, or where it must be if the
// archive was prefixed (just before the locator).
func (z *zipReader) eocd64(off, locAt int64) (eocd64Rec, bool) {
	for _, at := range []int64{off, locAt - 56} {
		b, err := z.readAt(at, 56)
		if err != nil || u32(b) != sigEOCD64 {
			continue
		}
		r := eocd64Rec{count: int64(u64(b[32:])), cdSize: int64(u64(b[40:])), cdOff: int64(u64(b[48:])), at: at}
		if r.count < 0 || r.cdSize < 0 || r.cdOff < 0 {
			continue
		}
		return r, true
	}
	return eocd64Rec{}, false
}

// parseCD reads the directory that should end at recStart. Offsets in the
// directory are relative to the archive start, which differs from the file
// start when data was prepended: delta corrects for that.
func (z *zipReader) parseCD(count, cdSize, cdOff, recStart int64) ([]*zipEntry, bool) {
	if cdSize < 0 || cdSize > recStart || cdSize > maxCentralDir {
		if cdSize > maxCentralDir {
			z.gap("central directory of %d bytes exceeds the %d-byte limit", cdSize, maxCentralDir)
		}
		return nil, false
	}
	var delta int64
	found := false
	for _, d := range []int64{recStart - cdSize - cdOff, 0} {
		at := cdOff + d
		if at < 0 || at+cdSize > recStart {
			continue
		}
		if cdSize == 0 {
			delta, found = d, true
			break
		}
		if b, err := z.readAt(at, 4); err == nil && u32(b) == sigCentral {
			delta, found = d, true
			break
		}
	}
	if !found {
		return nil, false
	}
	start := cdOff + delta
	buf, err := z.readAt(start, int(cdSize))
	if err != nil {
		return nil, false
	}
	z.cover(start, start+cdSize)
	var out []*zipEntry
	for p := 0; p+46 <= len(buf); {
		if u32(buf[p:]) != sigCentral {
			break
		}
		h := buf[p:]
		nameLen, extraLen, commentLen := int(u16(h[28:])), int(u16(h[30:])), int(u16(h[32:]))
		if p+46+nameLen+extraLen+commentLen > len(buf) {
			z.gap("central directory record at %d runs past the directory", start+int64(p))
			break
		}
		e := &zipEntry{
			flags:   u16(h[8:]),
			method:  u16(h[10:]),
			crc:     u32(h[16:]),
			csize:   int64(u32(h[20:])),
			usize:   int64(u32(h[24:])),
			hdrOff:  int64(u32(h[42:])),
			dataOff: -1,
			name:    string(h[46 : 46+nameLen]),
		}
		extra := h[46+nameLen : 46+nameLen+extraLen]
		needU, needC, needO := e.usize == 0xffffffff, e.csize == 0xffffffff, e.hdrOff == 0xffffffff
		if v, ok := zip64Extra(extra, needU, needC, needO); ok {
			e.zip64 = true
			if needU {
				e.usize = v[0]
			}
			if needC {
				e.csize = v[1]
			}
			if needO {
				e.hdrOff = v[2]
			}
		}
		e.hdrOff += delta
		out = append(out, e)
		z.cdByOff[e.hdrOff] = append(z.cdByOff[e.hdrOff], e)
		if len(out) > z.maxEntries {
			z.gap("archive lists more than %d members: the rest were not scanned", z.maxEntries)
			break
		}
		p += 46 + nameLen + extraLen + commentLen
	}
	if int64(len(out)) < count && len(out) <= z.maxEntries {
		z.gap("central directory declares %d entries but holds %d readable records", count, len(out))
	}
	if start > 0 && delta > 0 {
		z.dir.prefix = start // refined later by the first entry
	}
	return out, true
}

// zip64Extra decodes the zip64 extended information extra field; only the
// values whose 32-bit field was saturated are present, in this order.
func zip64Extra(extra []byte, needU, needC, needO bool) ([3]int64, bool) {
	var v [3]int64
	for len(extra) >= 4 {
		id, n := u16(extra), int(u16(extra[2:]))
		if 4+n > len(extra) {
			break
		}
		if id == 0x0001 {
			d := extra[4 : 4+n]
			ok := true
			for i, need := range []bool{needU, needC, needO} {
				if !need {
					continue
				}
				if len(d) < 8 {
					ok = false
					break
				}
				v[i] = int64(u64(d))
				d = d[8:]
			}
			return v, ok
		}
		extra = extra[4+n:]
	}
	return v, false
}

// local parses the local header at off. cd, when not nil, is the directory
// view of the same entry (it supplies sizes a data descriptor defers).
func (z *zipReader) local(off int64, cd *zipEntry) *zipEntry {
	if l, ok := z.locals[off]; ok {
		return l
	}
	h, err := z.readAt(off, 30)
	if err != nil || u32(h) != sigLocal {
		return nil
	}
	nameLen, extraLen := int(u16(h[26:])), int(u16(h[28:]))
	if nameLen > maxNameLen {
		return nil
	}
	ne, err := z.readAt(off+30, nameLen+extraLen)
	if err != nil {
		return nil
	}
	l := &zipEntry{
		flags:   u16(h[6:]),
		method:  u16(h[8:]),
		crc:     u32(h[14:]),
		csize:   int64(u32(h[18:])),
		usize:   int64(u32(h[22:])),
		hdrOff:  off,
		dataOff: off + 30 + int64(nameLen+extraLen),
		name:    string(ne[:nameLen]),
	}
	needU, needC := l.usize == 0xffffffff, l.csize == 0xffffffff
	if v, ok := zip64Extra(ne[nameLen:], needU, needC, false); ok {
		l.zip64 = true
		if needU {
			l.usize = v[0]
		}
		if needC {
			l.csize = v[1]
		}
	} else if needU || needC {
		l.zip64 = true
	}
	if l.flags&flagDescriptor != 0 {
		if cd != nil {
			l.csize, l.usize, l.crc = cd.csize, cd.usize, cd.crc
			l.zip64 = l.zip64 || cd.zip64
		} else if l.csize == 0 {
			l.csize, l.usize = -1, -1
		}
	}
	if l.csize < 0 {
		z.findEnd(l)
	} else {
		l.end = l.endFrom(l.dataOff)
		if l.csize > z.size-l.dataOff {
			l.truncated = true
			l.end = z.size
		} else if l.flags&flagDescriptor != 0 {
			// The descriptor signature is optional: account for it when
			// present.
			if b, err := z.readAt(l.dataOff+l.csize, 4); err == nil && u32(b) == sigDesc {
				l.end += 4
			}
		}
	}
	z.locals[off] = l
	return l
}

// findEnd locates the end of an entry whose size the local header defers
// to a data descriptor and no directory supplies: deflate streams end by
// themselves; stored data ends at a descriptor whose size matches.
func (z *zipReader) findEnd(l *zipEntry) {
	limit := z.size
	if l.method == 8 {
		n, err := deflateLength(z.ctx, io.NewSectionReader(z.r, l.dataOff, limit-l.dataOff))
		if err == nil {
			l.csize = n
			z.readDescriptor(l)
			return
		}
	} else if l.method == 0 {
		if z.searchDescriptor(l) {
			return
		}
	}
	// Unknown end: up to the next local or central header, or the end.
	next := z.nextSignature(l.dataOff, limit)
	l.csize = next - l.dataOff
	l.end = next
	l.truncated = true
}

// readDescriptor fills CRC and sizes from the descriptor after the data.
func (z *zipReader) readDescriptor(l *zipEntry) {
	p := l.dataOff + l.csize
	b, err := z.readAt(p, int(min(28, z.size-p)))
	if err != nil || len(b) < 12 {
		l.end = l.dataOff + l.csize
		l.truncated = true
		return
	}
	skip := 0
	if u32(b) == sigDesc {
		skip = 4
	}
	d := b[skip:]
	l.crc = u32(d)
	n := 12
	if len(d) >= 20 && int64(u64(d[4:])) == l.csize {
		l.usize = int64(u64(d[12:]))
		n = 20
	} else if len(d) >= 12 {
		l.usize = int64(u32(d[8:]))
	}
	l.end = p + int64(skip+n)
}

// searchDescriptor looks for a stored entry's data descriptor: a signature
// followed by a compressed size equal to the distance from the data start.
func (z *zipReader) searchDescriptor(l *zipEntry) bool {
	sig := []byte{'P', 'K', 7, 8}
	found := false
	_ = z.scanFor(l.dataOff, z.size, sig, func(p int64) bool {
		b, err := z.readAt(p, int(min(24, z.size-p)))
		if err != nil || len(b) < 16 {
			return true
		}
		n := p - l.dataOff
		switch {
		case int64(u32(b[8:])) == n:
			l.crc, l.csize, l.usize, l.end = u32(b[4:]), n, int64(u32(b[12:])), p+16
		case len(b) >= 24 && int64(u64(b[8:])) == n:
			l.crc, l.csize, l.usize, l.end, l.zip64 = u32(b[4:]), n, int64(u64(b[16:])), p+24, true
		default:
			return true
		}
		found = true
		return false
	})
	return found
}

// nextSignature is the offset of the next local or central header at or
// after from, or limit.
func (z *zipReader) nextSignature(from, limit int64) int64 {
	next := limit
	_ = z.scanFor(from, limit, []byte{'P', 'K'}, func(p int64) bool {
		b, err := z.readAt(p, 4)
		if err == nil && (u32(b) == sigLocal || u32(b) == sigCentral || u32(b) == sigEOCD) {
			next = p
			return false
		}
		return true
	})
	return next
}

// scanFor calls fn at each occurrence of sig in [from, limit) until fn
// returns false. It reads in chunks and honours the context.
func (z *zipReader) scanFor(from, limit int64, sig []byte, fn func(int64) bool) error {
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(sig)-1)
	for off := from; off < limit; off += chunk {
		if err := z.ctx.Err(); err != nil {
			return err
		}
		n := int(min(int64(len(buf)), limit-off))
		m, err := z.r.ReadAt(buf[:n], off)
		if m <= 0 {
			if err != nil {
				return nil
			}
		}
		z.searched += int64(m)
		b := buf[:m]
		for i := 0; ; {
			j := bytes.Index(b[i:], sig)
			if j < 0 {
				break
			}
			if !fn(off + int64(i+j)) {
				return nil
			}
			i += j + 1
		}
		if m < n {
			return nil
		}
	}
	return nil
}

// compare records disagreements between a directory view and its local
// header.
func (z *zipReader) compare(cd, l *zipEntry) {
	var diffs []string
	fields := map[string]any{}
	if cd.name != l.name {
		diffs = append(diffs, fmt.Sprintf("name %q in the directory, %q in the local header", cd.name, l.name))
		fields["local_name"] = l.name
	}
	if cd.method != l.method {
		diffs = append(diffs, fmt.Sprintf("method %d in the directory, %d in the local header", cd.method, l.method))
		fields["local_method"], fields["cd_method"] = l.method, cd.method
	}
	if (cd.flags^l.flags)&flagEncrypted != 0 {
		diffs = append(diffs, fmt.Sprintf("encryption flag %v in the directory, %v in the local header", cd.flags&flagEncrypted != 0, l.flags&flagEncrypted != 0))
		fields["local_flags"], fields["cd_flags"] = l.flags, cd.flags
	}
	if l.flags&flagDescriptor == 0 && cd.flags&flagDescriptor == 0 {
		if cd.csize != l.csize || cd.usize != l.usize {
			diffs = append(diffs, fmt.Sprintf("sizes %d/%d in the directory, %d/%d in the local header", cd.csize, cd.usize, l.csize, l.usize))
			fields["local_csize"], fields["cd_csize"] = l.csize, cd.csize
		}
		if cd.crc != l.crc {
			diffs = append(diffs, fmt.Sprintf("CRC %08x in the directory, %08x in the local header", cd.crc, l.crc))
		}
	}
	if len(diffs) == 0 {
		return
	}
	text := diffs[0]
	for _, d := range diffs[1:] {
		text += "; " + d
	}
	fields["offset"] = cd.hdrOff
	z.mismatches++
	if z.mismatches > maxIssues {
		return
	}
	z.dir.issues = append(z.dir.issues, zipIssue{kind: "mismatch", member: memberName(cd.name, cd.hdrOff), text: text, fields: fields})
}

// follow walks local headers from the given positions (entry ends).
func (z *zipReader) follow(pending []int64) error {
	seen := map[int64]bool{}
	for len(pending) > 0 {
		if err := z.ctx.Err(); err != nil {
			return err
		}
		p := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		if p <= 0 || p >= z.size || seen[p] {
			continue
		}
		seen[p] = true
		if _, inCD := z.cdByOff[p]; inCD {
			continue
		}
		if _, done := z.locals[p]; done {
			continue
		}
		if len(z.locals) > z.maxEntries {
			z.gap("more than %d local headers: the rest were not scanned", z.maxEntries)
			return nil
		}
		l := z.hiddenLocal(p)
		if l == nil {
			continue
		}
		pending = append(pending, l.end)
	}
	return nil
}

// hiddenLocal parses a local header at p that the directory does not list;
// it is kept only when it looks like a real entry.
func (z *zipReader) hiddenLocal(p int64) *zipEntry {
	l := z.local(p, nil)
	if l == nil {
		return nil
	}
	if !plausible(l) {
		delete(z.locals, p)
		return nil
	}
	z.cover(p, l.end)
	return l
}

func plausible(l *zipEntry) bool {
	if l.name == "" || (!utf8.ValidString(l.name) && len(l.name) > 255) {
		return false
	}
	for _, c := range []byte(l.name) {
		if c < 0x20 && c != '\t' {
			return false
		}
	}
	switch l.method {
	case 0, 8, 9, 12, 14, 93, 95, 98, 99:
	default:
		return false
	}
	return l.end > l.dataOff || l.csize == 0
}

// searchUncovered searches every range no structure accounts for.
func (z *zipReader) searchUncovered() error {
	for {
		gaps := z.uncovered()
		found := false
		for _, g := range gaps {
			var hit int64 = -1
			if err := z.scanFor(g.lo, g.hi, []byte{'P', 'K', 3, 4}, func(p int64) bool {
				if l := z.hiddenLocal(p); l != nil {
					hit = p
					return false
				}
				return true
			}); err != nil {
				return err
			}
			if err := z.ctx.Err(); err != nil {
				return err
			}
			if hit < 0 {
				z.done = append(z.done, g)
			} else {
				z.done = append(z.done, interval{g.lo, hit})
			}
			if hit >= 0 {
				found = true
				if err := z.follow([]int64{z.locals[hit].end}); err != nil {
					return err
				}
				break // the covered set changed
			}
		}
		if !found {
			return nil
		}
		if len(z.locals) > z.maxEntries {
			return nil
		}
	}
}

// uncovered returns the ranges of the file no structure accounts for.
func (z *zipReader) uncovered() []interval {
	iv := append(append([]interval(nil), z.covered...), z.done...)
	sort.Slice(iv, func(i, j int) bool { return iv[i].lo < iv[j].lo })
	var out []interval
	var pos int64
	for _, c := range iv {
		if c.lo > pos {
			out = append(out, interval{pos, c.lo})
		}
		pos = max(pos, c.hi)
	}
	if pos < z.size {
		out = append(out, interval{pos, z.size})
	}
	return out
}

// collect builds the scan views and the remaining issues.
func (z *zipReader) collect(cd []*zipEntry, eocdEnd int64) {
	d := z.dir
	type key struct {
		off    int64
		method uint16
		csize  int64
	}
	seen := map[key]bool{}
	add := func(e *zipEntry) {
		if e.dataOff < 0 {
			return
		}
		k := key{e.dataOff, e.method, e.csize}
		if seen[k] {
			return
		}
		seen[k] = true
		d.views = append(d.views, e)
	}
	names := map[string]int{}
	for _, e := range cd {
		names[e.name]++
		add(e)
		if l := z.locals[e.hdrOff]; l != nil && e.dataOff >= 0 {
			add(l)
		}
	}
	// Hidden entries: local headers no directory record points to.
	var hidden []*zipEntry
	for off, l := range z.locals {
		if _, ok := z.cdByOff[off]; !ok {
			hidden = append(hidden, l)
		}
	}
	sort.Slice(hidden, func(i, j int) bool { return hidden[i].hdrOff < hidden[j].hdrOff })
	for i, l := range hidden {
		if d.hasCD && i == maxIssues {
			d.issues = append(d.issues, zipIssue{kind: "hidden", text: fmt.Sprintf("%d entries in all are not in the central directory", len(hidden)),
				fields: map[string]any{"count": len(hidden)}})
		}
		if d.hasCD && i < maxIssues {
			d.issues = append(d.issues, zipIssue{kind: "hidden", member: memberName(l.name, l.hdrOff),
				text:   fmt.Sprintf("local header at offset %d (%q) is not in the central directory", l.hdrOff, l.name),
				fields: map[string]any{"offset": l.hdrOff, "name": l.name}})
		} else {
			names[l.name]++
		}
		if l.truncated {
			z.gap("%s: entry data truncated or its end not found", memberName(l.name, l.hdrOff))
		}
		add(l)
	}
	// Entries whose local ranges overlap: never written by a real zip tool
	// (overlapping-entry zip bombs, parser confusion).
	offs := make([]int64, 0, len(z.locals))
	for off := range z.locals {
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	overlaps := 0
	for i := 1; i < len(offs); i++ {
		prev, cur := z.locals[offs[i-1]], z.locals[offs[i]]
		if cur.hdrOff < prev.end {
			overlaps++
			if overlaps <= 8 {
				d.issues = append(d.issues, zipIssue{kind: "overlap", member: memberName(cur.name, cur.hdrOff),
					text:   fmt.Sprintf("entry %q at offset %d lies inside entry %q (offsets %d-%d)", cur.name, cur.hdrOff, prev.name, prev.hdrOff, prev.end),
					fields: map[string]any{"offset": cur.hdrOff, "inside": prev.name}})
			}
		}
	}
	if overlaps > 8 {
		d.issues = append(d.issues, zipIssue{kind: "overlap", member: "",
			text: fmt.Sprintf("%d entries overlap others in all", overlaps), fields: map[string]any{"count": overlaps}})
	}
	dups := 0
	for _, e := range cd {
		if names[e.name] > 1 && dups < maxIssues {
			dups++
			d.issues = append(d.issues, zipIssue{kind: "duplicate", member: memberName(e.name, e.hdrOff),
				text: fmt.Sprintf("%d members are named %q", names[e.name], e.name), fields: map[string]any{"name": e.name, "count": names[e.name]}})
			names[e.name] = 0 // report once
		}
	}
	// Data before the first structure and after the end record.
	first := z.size
	for _, c := range z.covered {
		first = min(first, c.lo)
	}
	if first > 0 && first < z.size {
		d.prefix = first
	} else {
		d.prefix = 0
	}
	if eocdEnd > 0 && eocdEnd < z.size {
		d.suffix = eocdEnd
	}
}

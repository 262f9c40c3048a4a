package pickle

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Op is one decoded opcode.
type Op struct {
	// Offset is the byte offset of the opcode in the stream.
	Offset int64 `json:"offset"`
	// Index counts opcodes from the start of the stream (all pickles).
	Index int `json:"index"`
	// Code is the opcode byte; Name its pickletools name.
	Code byte   `json:"-"`
	Name string `json:"op"`
	// Arg is the inline argument: nil, int64, *big.Int, float64, bool,
	// string (text), []byte (binary data), or GlobalRef (GLOBAL, INST).
	Arg any `json:"arg,omitempty"`
	// Len is the declared length of a string or bytes argument.
	Len int64 `json:"len,omitempty"`
	// Truncated is set when only the first part of a long argument was
	// kept (the rest was skipped, never buffered).
	Truncated bool `json:"truncated,omitempty"`
}

// GlobalRef is the argument of GLOBAL and INST.
type GlobalRef struct {
	Module string `json:"module"`
	Name   string `json:"name"`
}

// ErrTruncated means the stream ended inside a pickle.
var ErrTruncated = errors.New("pickle truncated")

// DecodeError is a byte sequence that is not a valid pickle.
type DecodeError struct {
	Offset int64
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("invalid pickle at offset %d: %s", e.Offset, e.Msg)
}

// decoder reads opcodes from a stream. It never allocates more than
// Limits.MaxKeep bytes for one argument however long the declared length.
type decoder struct {
	r     *bufio.Reader
	off   int64
	index int
	lim   *Limits
	// kept is the total bytes of string arguments kept so far.
	kept int64
	// badByte is the last byte that was not an opcode, at badAt.
	badByte byte
	badAt   int64
}

func newDecoder(r io.Reader, lim *Limits) *decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		size := 64 << 10
		if br, ok := r.(*bytes.Reader); ok && br.Len() < size {
			size = max(br.Len(), 16)
		}
		br = bufio.NewReaderSize(r, size)
	}
	return &decoder{r: br, lim: lim}
}

// atEOF reports whether no bytes remain.
func (d *decoder) atEOF() bool {
	_, err := d.r.Peek(1)
	return err != nil
}

func (d *decoder) readByte() (byte, error) {
	b, err := d.r.ReadByte()
	if err != nil {
		return 0, eofToTrunc(err)
	}
	d.off++
	return b, nil
}

func eofToTrunc(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrTruncated
	}
	return err
}

func (d *decoder) readFull(n int) ([]byte, error) {
	if n > 64<<10 {
		// Grow with the data actually present, so a declared length in a
		// short stream costs nothing.
		var buf bytes.Buffer
		m, err := io.CopyN(&buf, d.r, int64(n))
		d.off += m
		if err != nil {
			return nil, eofToTrunc(err)
		}
		return buf.Bytes(), nil
	}
	buf := make([]byte, n)
	m, err := io.ReadFull(d.r, buf)
	d.off += int64(m)
	if err != nil {
		return nil, eofToTrunc(err)
	}
	return buf, nil
}

// skip discards n bytes.
func (d *decoder) skip(n int64) error {
	for n > 0 {
		chunk := min(n, 1<<30)
		m, err := d.r.Discard(int(chunk))
		d.off += int64(m)
		n -= int64(m)
		if err != nil {
			return eofToTrunc(err)
		}
	}
	return nil
}

// keepCap returns how many bytes of an argument of length n to keep.
func (d *decoder) keepCap(n int64) int64 {
	c := d.lim.MaxKeep
	if d.kept > d.lim.MaxKeptTotal {
		c = min(c, 4096)
	}
	return min(n, c)
}

// readData reads a length-prefixed argument, keeping at most keepCap bytes.
func (d *decoder) readData(n int64) ([]byte, bool, error) {
	if n < 0 {
		return nil, false, &DecodeError{d.off, fmt.Sprintf("negative length %d", n)}
	}
	k := d.keepCap(n)
	buf, err := d.readFull(int(k))
	if err != nil {
		return nil, false, err
	}
	d.kept += k
	if k < n {
		if err := d.skip(n - k); err != nil {
			return buf, true, err
		}
		return buf, true, nil
	}
	return buf, false, nil
}

// readLine reads up to and excluding '\n', keeping at most MaxKeep bytes.
func (d *decoder) readLine() ([]byte, bool, error) {
	var out []byte
	trunc := false
	for {
		frag, err := d.r.ReadSlice('\n')
		d.off += int64(len(frag))
		done := err == nil
		if done {
			frag = frag[:len(frag)-1]
		}
		if room := d.lim.MaxKeep - int64(len(out)); room > 0 {
			out = append(out, frag[:min(int64(len(frag)), room)]...)
			if int64(len(frag)) > room {
				trunc = true
			}
		} else if len(frag) > 0 {
			trunc = true
		}
		if done {
			d.kept += int64(len(out))
			return out, trunc, nil
		}
		if err != bufio.ErrBufferFull {
			return out, trunc, eofToTrunc(err)
		}
	}
}

// next decodes one opcode. At a clean end of stream it returns io.EOF.
func (d *decoder) next() (Op, error) {
	op := Op{Offset: d.off, Index: d.index}
	c, err := d.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			return op, io.EOF
		}
		return op, err
	}
	d.off++
	info := &opcodes[c]
	if info.name == "" {
		d.badByte, d.badAt = c, op.Offset
		return op, &DecodeError{op.Offset, fmt.Sprintf("invalid opcode 0x%02x", c)}
	}
	d.index++
	op.Code, op.Name = c, info.name
	bad := func(msg string, args ...any) (Op, error) {
		return op, &DecodeError{op.Offset, fmt.Sprintf("%s: ", info.name) + fmt.Sprintf(msg, args...)}
	}
	switch info.arg {
	case argNone:
	case argU1:
		b, err := d.readByte()
		if err != nil {
			return op, err
		}
		op.Arg = int64(b)
	case argU2:
		b, err := d.readFull(2)
		if err != nil {
			return op, err
		}
		op.Arg = int64(binary.LittleEndian.Uint16(b))
	case argI4:
		b, err := d.readFull(4)
		if err != nil {
			return op, err
		}
		op.Arg = int64(int32(binary.LittleEndian.Uint32(b)))
	case argU4:
		b, err := d.readFull(4)
		if err != nil {
			return op, err
		}
		op.Arg = int64(binary.LittleEndian.Uint32(b))
	case argU8:
		b, err := d.readFull(8)
		if err != nil {
			return op, err
		}
		v := binary.LittleEndian.Uint64(b)
		if v > math.MaxInt64 {
			return bad("length %d too large", v)
		}
		op.Arg = int64(v)
	case argF8:
		b, err := d.readFull(8)
		if err != nil {
			return op, err
		}
		op.Arg = math.Float64frombits(binary.BigEndian.Uint64(b))
	case argLine:
		line, trunc, err := d.readLine()
		if err != nil {
			return op, err
		}
		if trunc && c != opPERSID {
			return bad("line too long")
		}
		switch c {
		case opINT:
			s := strings.TrimSpace(string(line))
			switch s {
			case "00":
				op.Arg = false
			case "01":
				op.Arg = true
			default:
				v, ok := parsePyInt(s)
				if !ok {
					return bad("invalid integer %q", clip(s, 40))
				}
				op.Arg = v
			}
		case opLONG:
			s := strings.TrimSpace(string(line))
			s = strings.TrimSuffix(s, "L")
			v, ok := parsePyInt(s)
			if !ok {
				return bad("invalid integer %q", clip(s, 40))
			}
			op.Arg = v
		case opFLOAT:
			s := strings.TrimSpace(string(line))
			f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return bad("invalid float %q", clip(s, 40))
			}
			op.Arg = f
		case opGET, opPUT:
			s := strings.TrimSpace(string(line))
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				return bad("invalid memo index %q", clip(s, 40))
			}
			op.Arg = v
		case opPERSID:
			op.Arg = string(line)
			op.Truncated = trunc
		}
	case argStringLine:
		line, trunc, err := d.readLine()
		if err != nil {
			return op, err
		}
		if trunc {
			// The closing quote is gone; keep the text without it.
			op.Arg, op.Truncated = string(escapeDecode(line[1:])), true
			break
		}
		if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
			return bad("argument must be quoted")
		}
		op.Arg = string(escapeDecode(line[1 : len(line)-1]))
	case argUnicodeLine:
		line, trunc, err := d.readLine()
		if err != nil {
			return op, err
		}
		op.Arg, op.Truncated = rawUnicodeEscapeDecode(line), trunc
	case argTwoLines:
		mod, t1, err := d.readLine()
		if err != nil {
			return op, err
		}
		name, t2, err := d.readLine()
		if err != nil {
			return op, err
		}
		if t1 || t2 {
			return bad("module or name too long")
		}
		op.Arg = GlobalRef{Module: string(mod), Name: string(name)}
	case argBytes1, argBytes4, argBytes8:
		var n int64
		switch info.arg {
		case argBytes1:
			b, err := d.readByte()
			if err != nil {
				return op, err
			}
			n = int64(b)
		case argBytes4:
			b, err := d.readFull(4)
			if err != nil {
				return op, err
			}
			if c == opBINSTRING {
				n = int64(int32(binary.LittleEndian.Uint32(b)))
			} else {
				n = int64(binary.LittleEndian.Uint32(b))
			}
		case argBytes8:
			b, err := d.readFull(8)
			if err != nil {
				return op, err
			}
			v := binary.LittleEndian.Uint64(b)
			if v > math.MaxInt64 {
				return bad("length %d too large", v)
			}
			n = int64(v)
		}
		isText := c == opBINUNICODE || c == opSHORT_BINUNICODE || c == opBINUNICODE8 || c == opBINSTRING || c == opSHORT_BINSTRING
		if isText && n >= 0 && n <= 4096 && n <= d.lim.MaxKeep {
			// Fast path: one allocation for the string.
			if b, err := d.r.Peek(int(n)); err == nil {
				op.Arg, op.Len = string(b), n
				d.r.Discard(int(n))
				d.off += n
				d.kept += n
				break
			}
		}
		data, trunc, err := d.readData(n)
		if err != nil {
			return op, err
		}
		op.Len, op.Truncated = n, trunc
		if isText {
			op.Arg = string(data)
		} else {
			op.Arg = data
		}
	case argLong1, argLong4:
		var n int64
		if info.arg == argLong1 {
			b, err := d.readByte()
			if err != nil {
				return op, err
			}
			n = int64(b)
		} else {
			b, err := d.readFull(4)
			if err != nil {
				return op, err
			}
			n = int64(int32(binary.LittleEndian.Uint32(b)))
			if n < 0 {
				return bad("negative length %d", n)
			}
		}
		if n > d.lim.MaxKeep {
			return bad("integer of %d bytes too large", n)
		}
		data, err := d.readFull(int(n))
		if err != nil {
			return op, err
		}
		op.Arg = decodeLong(data)
	}
	return op, nil
}

// parsePyInt parses Python int() text with base 0 (0x, 0o, 0b, underscores).
func parsePyInt(s string) (any, bool) {
	if len(s) > 4300 {
		// CPython refuses int() of more than 4300 digits (sys.int_info).
		return nil, false
	}
	if v, err := strconv.ParseInt(s, 0, 64); err == nil {
		return v, true
	}
	if strings.HasPrefix(s, "0") && len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		// Python 3 rejects leading zeros; Go would read octal. Accept as decimal.
		s = strings.TrimLeft(s, "0")
		if s == "" {
			return int64(0), true
		}
	}
	b, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return nil, false
	}
	if b.IsInt64() {
		return b.Int64(), true
	}
	return b, true
}

// decodeLong decodes a two's complement little-endian integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// escapeDecode implements Python's codecs.escape_decode for STRING.
func escapeDecode(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		switch e := b[i]; e {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, e)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 < len(b)+0 && isHex(b[i+1]) && isHex(b[i+2]) {
				v, _ := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
				out = append(out, byte(v))
				i += 2
			} else {
				out = append(out, '\\', 'x')
			}
		default:
			if e >= '0' && e <= '7' {
				v := int(e - '0')
				for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
					i++
					v = v*8 + int(b[i]-'0')
				}
				out = append(out, byte(v))
			} else {
				out = append(out, '\\', e)
			}
		}
	}
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// rawUnicodeEscapeDecode implements Python's raw_unicode_escape decoding:
// bytes are Latin-1 except \uXXXX and \UXXXXXXXX.
func rawUnicodeEscapeDecode(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(b) {
				if v, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32); err == nil {
					r := rune(v)
					if !utf8.ValidRune(r) {
						r = utf8.RuneError
					}
					sb.WriteRune(r)
					i += 1 + n
					continue
				}
			}
		}
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

package tabular

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// csvReader is a bounded RFC 4180 reader that hands out only the fields a
// caller asked for, as slices into its buffer (no per-field allocation on
// unquoted fields). Quoted fields may hold delimiters, doubled quotes and
// newlines; CRLF and LF line ends are both accepted; a UTF-8 byte-order mark
// before the header is dropped; blank lines are skipped (as pandas does).
type csvReader struct {
	r        io.Reader
	comma    byte
	maxRec   int
	buf      []byte
	pos, end int
	eof      bool
	line     int64 // 1-based line number where the current record starts
	nextLine int64
	fields   [][]byte // every field of the current record
	scratch  []byte   // unescaped quoted fields
}

func newCSVReader(r io.Reader, comma byte, maxRecord int) *csvReader {
	if maxRecord <= 0 {
		maxRecord = DefaultLimits().MaxRecordBytes
	}
	size := 1 << 20
	if size > maxRecord+1 {
		size = maxRecord + 1
	}
	return &csvReader{r: r, comma: comma, maxRec: maxRecord, buf: make([]byte, size), nextLine: 1}
}

// fill reads more input, moving unread bytes to the front and growing the
// buffer (up to the record limit) when it is full.
func (c *csvReader) fill() error {
	if c.eof {
		return io.EOF
	}
	if c.pos > 0 {
		n := copy(c.buf, c.buf[c.pos:c.end])
		c.pos, c.end = 0, n
	}
	if c.end == len(c.buf) {
		if len(c.buf) > c.maxRec {
			return fmt.Errorf("line %d: record longer than %d bytes", c.nextLine, c.maxRec)
		}
		nb := make([]byte, min(2*len(c.buf), c.maxRec+1))
		copy(nb, c.buf[:c.end])
		c.buf = nb
	}
	n, err := c.r.Read(c.buf[c.end:])
	c.end += n
	if errors.Is(err, io.EOF) {
		c.eof = true
		return nil
	}
	if err != nil {
		return err
	}
	if n == 0 {
		// A reader that returns neither data nor an error: try again later.
		return nil
	}
	return nil
}

// next reads one record into c.fields. It returns io.EOF at the end.
func (c *csvReader) next() error {
	for {
		rec, quoted, err := c.record()
		if err != nil {
			return err
		}
		if len(rec) == 0 { // blank line
			continue
		}
		return c.split(rec, quoted)
	}
}

// record finds the bytes of the next record (without its line end). The
// record ends at the first newline outside quotes; the scan offset is kept
// relative to c.pos so that refilling the buffer does not disturb it.
func (c *csvReader) record() (rec []byte, quoted bool, err error) {
	c.line = c.nextLine
	off, quotes := 0, 0
	for {
		seg := c.buf[c.pos+off : c.end]
		if i := bytes.IndexByte(seg, '\n'); i >= 0 {
			quotes += bytes.Count(seg[:i], quoteByte)
			c.nextLine++
			if quotes%2 == 0 {
				rec = c.buf[c.pos : c.pos+off+i]
				c.pos += off + i + 1
				return trimCR(rec), quotes > 0, nil
			}
			off += i + 1
			continue
		}
		quotes += bytes.Count(seg, quoteByte)
		off += len(seg)
		if c.eof {
			if off == 0 {
				return nil, false, io.EOF
			}
			if quotes%2 != 0 {
				return nil, false, fmt.Errorf("line %d: unterminated quoted field", c.line)
			}
			rec = c.buf[c.pos : c.pos+off]
			c.pos += off
			return trimCR(rec), quotes > 0, nil
		}
		if err := c.fill(); err != nil {
			return nil, false, fmt.Errorf("line %d: %w", c.line, err)
		}
	}
}

var quoteByte = []byte{'"'}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// split cuts a record into fields.
func (c *csvReader) split(rec []byte, quoted bool) error {
	c.fields = c.fields[:0]
	if !quoted {
		for {
			i := bytes.IndexByte(rec, c.comma)
			if i < 0 {
				c.fields = append(c.fields, rec)
				return nil
			}
			c.fields = append(c.fields, rec[:i])
			rec = rec[i+1:]
		}
	}
	c.scratch = c.scratch[:0]
	var starts []int
	i := 0
	for {
		if i < len(rec) && rec[i] == '"' {
			// Quoted field.
			i++
			s := len(c.scratch)
			for {
				j := bytes.IndexByte(rec[i:], '"')
				if j < 0 {
					return fmt.Errorf("line %d: unterminated quoted field", c.line)
				}
				c.scratch = append(c.scratch, rec[i:i+j]...)
				i += j + 1
				if i < len(rec) && rec[i] == '"' {
					c.scratch = append(c.scratch, '"')
					i++
					continue
				}
				break
			}
			starts = append(starts, s, len(c.scratch))
			c.fields = append(c.fields, nil) // filled below: scratch may move
			if i == len(rec) {
				break
			}
			if rec[i] != c.comma {
				return fmt.Errorf("line %d: extraneous %q after quoted field", c.line, rec[i])
			}
			i++
			continue
		}
		j := bytes.IndexByte(rec[i:], c.comma)
		if j < 0 {
			f := rec[i:]
			if bytes.IndexByte(f, '"') >= 0 {
				return fmt.Errorf("line %d: bare quote in unquoted field", c.line)
			}
			c.fields = append(c.fields, f)
			starts = append(starts, -1, -1)
			break
		}
		f := rec[i : i+j]
		if bytes.IndexByte(f, '"') >= 0 {
			return fmt.Errorf("line %d: bare quote in unquoted field", c.line)
		}
		c.fields = append(c.fields, f)
		starts = append(starts, -1, -1)
		i += j + 1
		if i == len(rec) {
			c.fields = append(c.fields, rec[i:])
			starts = append(starts, -1, -1)
			break
		}
	}
	for k := range c.fields {
		if s := starts[2*k]; s >= 0 {
			c.fields[k] = c.scratch[s:starts[2*k+1]:starts[2*k+1]]
		}
	}
	return nil
}

package data

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/mlsec/mlsec/internal/scan"
)

// recordLimit fails a read once a line grows beyond max bytes.
type recordLimit struct {
	r   io.Reader
	max int
	cur int
}

func (l *recordLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	b := p[:n]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.cur += len(b)
			break
		}
		l.cur = 0
		b = b[i+1:]
	}
	if l.cur > l.max {
		return n, fmt.Errorf("%w: a record is longer than %d bytes", scan.ErrLimit, l.max)
	}
	return n, err
}

// stripeOffsets returns where the stripes of a file of size start, skipping
// anything the head already covered.
func stripeOffsets(size, headEnd int64, lim Limits) []int64 {
	var out []int64
	if size <= 0 {
		return nil
	}
	for k := 1; k <= lim.Stripes; k++ {
		off := size * int64(k) / int64(lim.Stripes+1)
		if off > headEnd {
			out = append(out, off)
		}
	}
	return out
}

// afterNewline returns a reader positioned after the first newline at or
// after off (the stripe starts on a record boundary, unless inside a quoted
// field, in which case records with the wrong width are dropped).
func afterNewline(r io.ReaderAt, off, size int64, max int) (*bufio.Reader, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), 64<<10)
	skipped := 0
	for {
		b, err := br.ReadSlice('\n')
		skipped += len(b)
		if err == nil {
			return br, nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
		if skipped > max {
			return nil, fmt.Errorf("%w: a record is longer than %d bytes", scan.ErrLimit, max)
		}
	}
}

func sniffComma(head []byte, kind, name string) rune {
	if kind == "tsv" {
		return '\t'
	}
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	}
	best, bestN := ',', 0
	for _, c := range []rune{',', ';', '\t', '|'} {
		n, quoted := 0, false
		for _, b := range line {
			if b == '"' {
				quoted = !quoted
			} else if !quoted && rune(b) == c {
				n++
			}
		}
		if n > bestN {
			best, bestN = c, n
		}
	}
	return best
}

func looksLikeHeader(rec []string) bool {
	for _, f := range rec {
		if f == "" {
			return false
		}
		if _, err := strconv.ParseFloat(f, 64); err == nil {
			return false
		}
		if len(f) > 128 {
			return false
		}
	}
	return true
}

// sampleDelimited samples a CSV or TSV file.
func sampleDelimited(ctx context.Context, r io.ReaderAt, size int64, kind, name string, lim Limits, t *table) error {
	head := make([]byte, 64<<10)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read: %w", err)
	}
	comma := sniffComma(head[:n], kind, name)
	newReader := func(src io.Reader) *csv.Reader {
		cr := csv.NewReader(&recordLimit{r: src, max: lim.MaxRecord})
		cr.Comma = comma
		cr.LazyQuotes = true
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		return cr
	}
	cr := newReader(io.NewSectionReader(r, 0, size))
	first, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var cols []*column
	if looksLikeHeader(first) {
		for _, h := range first {
			cols = append(cols, t.col(h))
		}
	} else {
		for i, v := range first {
			c := t.col(fmt.Sprintf("column_%d", i+1))
			cols = append(cols, c)
			c.add(v)
		}
		t.rows++
	}
	width := len(first)
	add := func(rec []string) {
		for i, v := range rec {
			if i < len(cols) {
				cols[i].add(v)
			}
		}
		t.rows++
	}
	bad := 0
	eof := false
	for i := 0; i < lim.HeadRows; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			eof = true
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			if bad++; bad > 100 {
				return fmt.Errorf("more than 100 malformed records: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		add(rec)
	}
	if eof || size < 0 {
		return nil
	}
	headEnd := cr.InputOffset()
	for _, off := range stripeOffsets(size, headEnd, lim) {
		if err := ctx.Err(); err != nil {
			return err
		}
		br, err := afterNewline(r, off, size, lim.MaxRecord)
		if err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			return err
		}
		sr := newReader(br)
		for i := 0; i < lim.StripeRows; i++ {
			rec, err := sr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					continue
				}
				return err
			}
			if len(rec) == width {
				add(rec)
			}
		}
	}
	return nil
}

// sampleJSONL samples a JSON Lines file; nested objects become dotted
// column names and arrays "name[]".
func sampleJSONL(ctx context.Context, r io.ReaderAt, size int64, lim Limits, t *table) error {
	readLines := func(br *bufio.Reader, max int, first bool) (int64, bool, error) {
		var consumed int64
		bad := 0
		for i := 0; i < max; {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return consumed, false, err
				}
			}
			line, err := readLine(br, lim.MaxRecord)
			consumed += int64(len(line))
			if len(bytes.TrimSpace(line)) > 0 {
				i++
				if perr := addJSONLine(line, t); perr != nil {
					if first && t.rows == 0 {
						return consumed, false, fmt.Errorf("line 1: %w", perr)
					}
					if bad++; first && bad > 100 {
						return consumed, false, fmt.Errorf("more than 100 malformed lines: %w", perr)
					}
				}
			}
			if err == io.EOF {
				return consumed, true, nil
			}
			if err != nil {
				return consumed, false, err
			}
		}
		return consumed, false, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, max(size, 0)), 64<<10)
	headEnd, eof, err := readLines(br, lim.HeadRows, true)
	if err != nil || eof {
		return err
	}
	for _, off := range stripeOffsets(size, headEnd, lim) {
		br, err := afterNewline(r, off, size, lim.MaxRecord)
		if err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			return err
		}
		if _, _, err := readLines(br, lim.StripeRows, false); err != nil {
			return err
		}
	}
	return nil
}

func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		b, err := br.ReadSlice('\n')
		if buf == nil && err != bufio.ErrBufferFull {
			return b, err
		}
		buf = append(buf, b...)
		if len(buf) > max {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", scan.ErrLimit, max)
		}
		if err != bufio.ErrBufferFull {
			return buf, err
		}
	}
}

func addJSONLine(line []byte, t *table) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("line is not a JSON object")
	}
	t.rows++
	flatten("", obj, t, 0)
	return nil
}

const maxJSONDepth = 8

func flatten(prefix string, v any, t *table, depth int) {
	switch v := v.(type) {
	case map[string]any:
		if depth >= maxJSONDepth {
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x := v[k]
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, x, t, depth+1)
		}
	case []any:
		if depth >= maxJSONDepth {
			return
		}
		for i, x := range v {
			if i == 64 {
				break
			}
			flatten(prefix+"[]", x, t, depth+1)
		}
	case string:
		t.col(prefix).add(v)
	case json.Number:
		t.col(prefix).add(v.String())
	}
}

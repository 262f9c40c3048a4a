// Package tabular reads the columns mlsec analyses out of CSV and Parquet
// files, streaming and column by column: a caller names the columns it
// needs and gets one row at a time as Cells that point into the reader's
// buffers, so memory stays flat however many rows a file holds.
//
// The format is decided from content: a file that starts and ends with the
// Parquet magic "PAR1" is Parquet, anything else is read as CSV (RFC 4180,
// header row required). Readers are bounded (record size, column count,
// Parquet metadata size) and return errors, never panic, on malformed input.
package tabular

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// Format is a detected file format.
type Format string

// Formats read by this package.
const (
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// Limits bound what a reader accepts.
type Limits struct {
	// MaxRecordBytes is the longest CSV record (quoted newlines included).
	MaxRecordBytes int
	// MaxColumns is the most columns a header or schema may have.
	MaxColumns int
	// MaxRows stops a scan with ErrTooManyRows past this many rows (0: no limit).
	MaxRows int64
}

// DefaultLimits are generous for prediction files and strict enough to keep
// a hostile file from exhausting memory.
func DefaultLimits() Limits {
	return Limits{MaxRecordBytes: 16 << 20, MaxColumns: 100_000}
}

// ErrTooManyRows is returned (wrapped) when Limits.MaxRows is exceeded.
var ErrTooManyRows = errors.New("too many rows")

// ErrNoColumn is returned (wrapped) when a requested column is not in the file.
var ErrNoColumn = errors.New("no such column")

// Kind says what a Cell holds.
type Kind uint8

// Cell kinds.
const (
	Null   Kind = iota // missing value (empty CSV field, Parquet null)
	Text               // Bytes holds the value (every non-empty CSV field)
	Number             // Num holds the value (Parquet numeric)
	Bool               // Num is 0 or 1 (Parquet boolean)
)

// Cell is one value of one row. Bytes is only valid until the callback
// that received it returns.
type Cell struct {
	Kind  Kind
	Bytes []byte
	Num   float64
}

// Float returns the cell as a number: Number and Bool cells directly, Text
// cells parsed (surrounding spaces ignored). ok is false for Null cells and
// text that is not a number.
func (c Cell) Float() (v float64, ok bool) {
	switch c.Kind {
	case Number, Bool:
		return c.Num, true
	case Text:
		b := bytes.TrimSpace(c.Bytes)
		if len(b) == 0 {
			return 0, false
		}
		// unsafe.String avoids an allocation per value; ParseFloat does not
		// keep the string.
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
		if err != nil {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// String returns the cell as text ("" for Null, "true"/"false" for Bool,
// the shortest round-trip form for numbers).
func (c Cell) String() string {
	switch c.Kind {
	case Text:
		return string(c.Bytes)
	case Number:
		return strconv.FormatFloat(c.Num, 'g', -1, 64)
	case Bool:
		if c.Num != 0 {
			return "true"
		}
		return "false"
	}
	return ""
}

// IsMissing reports whether the cell is Null or a text spelling pandas
// reads as NaN ("", "NA", "NaN", "null", "None", "N/A", …).
func (c Cell) IsMissing() bool {
	switch c.Kind {
	case Null:
		return true
	case Number:
		return math.IsNaN(c.Num)
	case Text:
		switch strings.TrimSpace(string(c.Bytes)) {
		case "", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "n/a", "-NaN", "-nan", "#N/A", "<NA>":
			return true
		}
	}
	return false
}

// Source is an open tabular file.
type Source struct {
	path    string
	f       *os.File
	size    int64
	format  Format
	columns []string
	limits  Limits
	pq      *parquetFile
}

// Open opens a CSV or Parquet file and reads its header or schema.
func Open(path string, lim Limits) (*Source, error) {
	if lim.MaxRecordBytes <= 0 {
		lim.MaxRecordBytes = DefaultLimits().MaxRecordBytes
	}
	if lim.MaxColumns <= 0 {
		lim.MaxColumns = DefaultLimits().MaxColumns
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	s := &Source{path: path, f: f, size: st.Size(), limits: lim}
	if isParquet(f, st.Size()) {
		s.format = Parquet
		s.pq, err = openParquet(f, st.Size(), lim)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: parquet: %w", path, err)
		}
		s.columns = s.pq.columns
		return s, nil
	}
	s.format = CSV
	s.columns, err = csvHeader(io.NewSectionReader(f, 0, st.Size()), lim)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: csv: %w", path, err)
	}
	return s, nil
}

// Close releases the file.
func (s *Source) Close() error { return s.f.Close() }

// Path, Size, Format and Columns describe the file.
func (s *Source) Path() string      { return s.path }
func (s *Source) Size() int64       { return s.size }
func (s *Source) Format() Format    { return s.format }
func (s *Source) Columns() []string { return append([]string(nil), s.columns...) }

// Index returns the position of a column, matched exactly, or -1.
func (s *Source) Index(name string) int {
	for i, c := range s.columns {
		if c == name {
			return i
		}
	}
	return -1
}

// Scan calls fn once per row with the cells of cols, in that order. The
// slice and the cells' bytes are reused: copy what must outlive the call.
// It returns the number of rows read. An error from fn stops the scan and
// is returned as is.
func (s *Source) Scan(ctx context.Context, cols []string, fn func(row []Cell) error) (int64, error) {
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = s.Index(c)
		if idx[i] < 0 {
			return 0, fmt.Errorf("%w %q in %s (columns: %s)", ErrNoColumn, c, s.path, preview(s.columns))
		}
	}
	if s.format == Parquet {
		return s.pq.scan(ctx, idx, s.limits, fn)
	}
	return scanCSV(ctx, io.NewSectionReader(s.f, 0, s.size), idx, s.limits, fn)
}

func preview(cols []string) string {
	if len(cols) > 12 {
		return strings.Join(cols[:12], ", ") + ", …"
	}
	return strings.Join(cols, ", ")
}

func isParquet(f io.ReaderAt, size int64) bool {
	if size < 12 {
		return false
	}
	var head, tail [4]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return false
	}
	if _, err := f.ReadAt(tail[:], size-4); err != nil {
		return false
	}
	return string(head[:]) == "PAR1" && string(tail[:]) == "PAR1"
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func csvHeader(r io.Reader, lim Limits) ([]string, error) {
	c := newCSVReader(r, ',', lim.MaxRecordBytes)
	if err := c.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file (a header row is required)")
		}
		return nil, err
	}
	if len(c.fields) > lim.MaxColumns {
		return nil, fmt.Errorf("header has %d columns (limit %d)", len(c.fields), lim.MaxColumns)
	}
	cols := make([]string, len(c.fields))
	for i, f := range c.fields {
		if i == 0 {
			f = bytes.TrimPrefix(f, utf8BOM)
		}
		cols[i] = string(f)
	}
	return cols, nil
}

// ReadCSV scans CSV from r (header first) with the same rules as Scan; it
// is what Scan uses and what the fuzz target drives.
func ReadCSV(ctx context.Context, r io.Reader, cols []string, lim Limits, fn func(row []Cell) error) (int64, error) {
	if lim.MaxRecordBytes <= 0 {
		lim.MaxRecordBytes = DefaultLimits().MaxRecordBytes
	}
	if lim.MaxColumns <= 0 {
		lim.MaxColumns = DefaultLimits().MaxColumns
	}
	c := newCSVReader(r, ',', lim.MaxRecordBytes)
	if err := c.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("empty file (a header row is required)")
		}
		return 0, err
	}
	if len(c.fields) > lim.MaxColumns {
		return 0, fmt.Errorf("header has %d columns (limit %d)", len(c.fields), lim.MaxColumns)
	}
	header := make([]string, len(c.fields))
	for i, f := range c.fields {
		if i == 0 {
			f = bytes.TrimPrefix(f, utf8BOM)
		}
		header[i] = string(f)
	}
	idx := make([]int, len(cols))
	for i, name := range cols {
		idx[i] = -1
		for j, h := range header {
			if h == name {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return 0, fmt.Errorf("%w %q (columns: %s)", ErrNoColumn, name, preview(header))
		}
	}
	return csvRows(ctx, c, len(header), idx, lim, fn)
}

func scanCSV(ctx context.Context, r io.Reader, idx []int, lim Limits, fn func(row []Cell) error) (int64, error) {
	c := newCSVReader(r, ',', lim.MaxRecordBytes)
	if err := c.next(); err != nil { // header
		return 0, err
	}
	return csvRows(ctx, c, len(c.fields), idx, lim, fn)
}

func csvRows(ctx context.Context, c *csvReader, width int, idx []int, lim Limits, fn func(row []Cell) error) (int64, error) {
	row := make([]Cell, len(idx))
	var n int64
	for {
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		err := c.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if len(c.fields) > width {
			return n, fmt.Errorf("line %d: %d fields, header has %d", c.line, len(c.fields), width)
		}
		if lim.MaxRows > 0 && n >= lim.MaxRows {
			return n, fmt.Errorf("%w: more than %d", ErrTooManyRows, lim.MaxRows)
		}
		for k, j := range idx {
			if j >= len(c.fields) || len(c.fields[j]) == 0 {
				row[k] = Cell{Kind: Null}
				continue
			}
			row[k] = Cell{Kind: Text, Bytes: c.fields[j]}
		}
		n++
		if err := fn(row); err != nil {
			return n, err
		}
	}
}

// RowError adds a 1-based data row number to an error from a scan callback.
type RowError struct {
	Row int64
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

package tabular

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// maxFooter bounds the Parquet file metadata read before any row.
const maxFooter = 64 << 20

// batchRows is how many values are read per column at a time.
const batchRows = 4096

type parquetFile struct {
	f       *parquet.File
	columns []string // leaf column paths joined with "."
	flat    []bool   // leaf is neither repeated nor nested under a list
}

func openParquet(r io.ReaderAt, size int64, lim Limits) (pf *parquetFile, err error) {
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, fmt.Errorf("malformed file: %v", p)
		}
	}()
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, err
	}
	footer := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footer > maxFooter || footer > size-12 {
		return nil, fmt.Errorf("footer of %d bytes does not fit (limit %d, file %d)", footer, maxFooter, size)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	paths := f.Schema().Columns()
	if len(paths) > lim.MaxColumns {
		return nil, fmt.Errorf("schema has %d columns (limit %d)", len(paths), lim.MaxColumns)
	}
	pf = &parquetFile{f: f}
	for _, p := range paths {
		name := strings.Join(p, ".")
		leaf, ok := f.Schema().Lookup(p...)
		pf.columns = append(pf.columns, name)
		pf.flat = append(pf.flat, ok && leaf.MaxRepetitionLevel == 0)
	}
	return pf, nil
}

// columnCursor walks the values of one column chunk page by page.
type columnCursor struct {
	pages parquet.Pages
	vals  parquet.ValueReader
	buf   []parquet.Value
	n, i  int
}

func (c *columnCursor) close() {
	if c.pages != nil {
		c.pages.Close()
	}
}

// fill reads up to len(buf) values, crossing page boundaries.
func (c *columnCursor) fill() error {
	c.n, c.i = 0, 0
	for c.n < len(c.buf) {
		if c.vals == nil {
			p, err := c.pages.ReadPage()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			c.vals = p.Values()
		}
		k, err := c.vals.ReadValues(c.buf[c.n:])
		c.n += k
		if errors.Is(err, io.EOF) {
			c.vals = nil
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return errors.New("page yielded no values")
		}
	}
	return nil
}

func (p *parquetFile) scan(ctx context.Context, idx []int, lim Limits, fn func(row []Cell) error) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet: malformed file: %v", r)
		}
	}()
	for _, j := range idx {
		if !p.flat[j] {
			return 0, fmt.Errorf("parquet column %q is repeated or nested; only flat columns can be read", p.columns[j])
		}
	}
	row := make([]Cell, len(idx))
	for gi, rg := range p.f.RowGroups() {
		chunks := rg.ColumnChunks()
		curs := make([]columnCursor, len(idx))
		for k, j := range idx {
			curs[k] = columnCursor{pages: chunks[j].Pages(), buf: make([]parquet.Value, batchRows)}
		}
		rows := rg.NumRows()
		var done int64
		for done < rows {
			if err := ctx.Err(); err != nil {
				closeAll(curs)
				return n, err
			}
			want := rows - done
			if want > batchRows {
				want = batchRows
			}
			for k := range curs {
				curs[k].buf = curs[k].buf[:want]
				if err := curs[k].fill(); err != nil {
					closeAll(curs)
					return n, fmt.Errorf("row group %d column %q: %w", gi, p.columns[idx[k]], err)
				}
				if int64(curs[k].n) != want {
					closeAll(curs)
					return n, fmt.Errorf("row group %d column %q: %d values, want %d", gi, p.columns[idx[k]], done+int64(curs[k].n), rows)
				}
			}
			for r := 0; r < int(want); r++ {
				if lim.MaxRows > 0 && n >= lim.MaxRows {
					closeAll(curs)
					return n, fmt.Errorf("%w: more than %d", ErrTooManyRows, lim.MaxRows)
				}
				for k := range curs {
					row[k] = cellOf(curs[k].buf[r])
				}
				n++
				if err := fn(row); err != nil {
					closeAll(curs)
					return n, err
				}
			}
			done += want
		}
		closeAll(curs)
	}
	return n, nil
}

func closeAll(cs []columnCursor) {
	for i := range cs {
		cs[i].close()
	}
}

func cellOf(v parquet.Value) Cell {
	if v.IsNull() {
		return Cell{Kind: Null}
	}
	switch v.Kind() {
	case parquet.Boolean:
		if v.Boolean() {
			return Cell{Kind: Bool, Num: 1}
		}
		return Cell{Kind: Bool}
	case parquet.Int32:
		return Cell{Kind: Number, Num: float64(v.Int32())}
	case parquet.Int64:
		return Cell{Kind: Number, Num: float64(v.Int64())}
	case parquet.Float:
		return Cell{Kind: Number, Num: float64(v.Float())}
	case parquet.Double:
		return Cell{Kind: Number, Num: v.Double()}
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return Cell{Kind: Text, Bytes: v.ByteArray()}
	}
	return Cell{Kind: Text, Bytes: []byte(v.String())}
}

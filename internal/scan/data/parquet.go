package data

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/mlsec/mlsec/internal/scan"
)

// sampleParquet reads the first rows of evenly spaced row groups, only the
// columns whose physical type can hold personal data (byte arrays and
// integers).
func sampleParquet(ctx context.Context, r io.ReaderAt, size int64, lim Limits, t *table) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed Parquet file: %v", p)
		}
	}()
	if size < 12 {
		return errors.New("file too short for Parquet")
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	if string(tail[4:]) != "PAR1" {
		if string(tail[4:]) == "PARE" {
			return errors.New("encrypted Parquet footer: cannot be read without keys")
		}
		return errors.New("missing Parquet footer magic")
	}
	footer := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footer > size-12 {
		return fmt.Errorf("footer length %d beyond the file", footer)
	}
	if footer > lim.MaxParquetFooter {
		return fmt.Errorf("%w: Parquet footer of %d bytes (limit %d)", scan.ErrLimit, footer, lim.MaxParquetFooter)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	paths := f.Schema().Columns()
	leaves := make([]*column, len(paths))
	for i, p := range paths {
		leaves[i] = t.col(strings.Join(p, "."))
	}
	meta := f.Metadata()
	groups := f.RowGroups()
	if len(groups) == 0 {
		return nil
	}
	// Row groups to read: the first, then evenly spaced ones.
	picks := []int{0}
	for k := 1; k <= lim.Stripes; k++ {
		g := len(groups) * k / (lim.Stripes + 1)
		if len(groups) <= lim.Stripes+1 {
			g = k
		}
		if g < len(groups) && g > picks[len(picks)-1] {
			picks = append(picks, g)
		}
	}
	for n, gi := range picks {
		want := lim.StripeRows
		if n == 0 {
			want = lim.HeadRows
		}
		rg := groups[gi]
		rows := int64(0)
		for ci, cc := range rg.ColumnChunks() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if ci >= len(leaves) || leaves[ci] == nil {
				continue
			}
			switch cc.Type().Kind() {
			case parquet.ByteArray, parquet.FixedLenByteArray, parquet.Int64, parquet.Int32:
			default:
				continue
			}
			if gi < len(meta.RowGroups) && ci < len(meta.RowGroups[gi].Columns) {
				if sz := meta.RowGroups[gi].Columns[ci].MetaData.TotalUncompressedSize; sz > lim.MaxParquetChunk {
					return fmt.Errorf("%w: column %q chunk of %d bytes (limit %d)", scan.ErrLimit, leaves[ci].name, sz, lim.MaxParquetChunk)
				}
			}
			got, err := readColumn(cc, leaves[ci], want)
			if err != nil {
				return fmt.Errorf("row group %d column %q: %w", gi, leaves[ci].name, err)
			}
			rows = max(rows, int64(got))
		}
		t.rows += int(min(rows, rg.NumRows()))
	}
	return nil
}

func readColumn(cc parquet.ColumnChunk, c *column, want int) (int, error) {
	pages := cc.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 256)
	read := 0
	for read < want {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return read, err
		}
		vr := p.Values()
		for read < want {
			n, err := vr.ReadValues(buf[:min(len(buf), want-read)])
			for _, v := range buf[:n] {
				read++
				if v.IsNull() {
					continue
				}
				switch v.Kind() {
				case parquet.ByteArray, parquet.FixedLenByteArray:
					c.add(string(v.ByteArray()))
				case parquet.Int64:
					c.add(strconv.FormatInt(v.Int64(), 10))
				case parquet.Int32:
					c.add(strconv.FormatInt(int64(v.Int32()), 10))
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				parquet.Release(p)
				return read, err
			}
			if n == 0 {
				break
			}
		}
		parquet.Release(p)
	}
	return read, nil
}

package tabular

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\n\"x\ny\",\"\"\"\"\n", "\xEF\xBB\xBFa\r\n1\r\n", "a\n\"", "a,b\n,,,\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rows int64
		n, err := ReadCSV(context.Background(), bytes.NewReader(data), []string{"a"}, Limits{MaxRecordBytes: 4096}, func(row []Cell) error {
			rows++
			if len(row) != 1 {
				t.Fatalf("row width %d", len(row))
			}
			return nil
		})
		if err == nil && n != rows {
			t.Fatalf("n=%d rows=%d", n, rows)
		}
	})
}

func FuzzParquet(f *testing.F) {
	f.Add([]byte("PAR1\x15\x00PAR1"))
	if seed, err := os.ReadFile(filepath.Join("testdata", "small.parquet")); err == nil {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(p, Limits{MaxColumns: 64})
		if err != nil {
			return
		}
		defer s.Close()
		cols := s.Columns()
		if len(cols) > 4 {
			cols = cols[:4]
		}
		_, _ = s.Scan(context.Background(), cols, func([]Cell) error { return nil })
	})
}

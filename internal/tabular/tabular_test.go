package tabular

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/parquet-go/parquet-go"
)

func readAll(t *testing.T, src string, cols []string, lim Limits) ([][]string, error) {
	t.Helper()
	var out [][]string
	_, err := ReadCSV(context.Background(), strings.NewReader(src), cols, lim, func(row []Cell) error {
		r := make([]string, len(row))
		for i, c := range row {
			if c.Kind == Null {
				r[i] = "<null>"
			} else {
				r[i] = c.String()
			}
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name string
		src  string
		cols []string
		want [][]string
		err  string
	}{
		{"plain", "a,b,c\n1,2,3\n4,5,6\n", []string{"c", "a"}, [][]string{{"3", "1"}, {"6", "4"}}, ""},
		{"crlf no final newline", "a,b\r\n1,2\r\n3,4", []string{"b"}, [][]string{{"2"}, {"4"}}, ""},
		{"bom", "\xEF\xBB\xBFa,b\n1,2\n", []string{"a"}, [][]string{{"1"}}, ""},
		{"quoted", "a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n", []string{"a", "b"}, [][]string{{"x,y", `he said "hi"`}}, ""},
		{"quoted newline", "a,b\n\"line1\nline2\",2\n3,4\n", []string{"a", "b"}, [][]string{{"line1\nline2", "2"}, {"3", "4"}}, ""},
		{"empty and short", "a,b,c\n1,,\n2\n", []string{"b", "c"}, [][]string{{"<null>", "<null>"}, {"<null>", "<null>"}}, ""},
		{"blank lines", "a\n1\n\n\r\n2\n", []string{"a"}, [][]string{{"1"}, {"2"}}, ""},
		{"empty quoted last", "a,b\n1,\"\"\n", []string{"b"}, [][]string{{"<null>"}}, ""},
		{"trailing comma", "a,b\n1,\n", []string{"a", "b"}, [][]string{{"1", "<null>"}}, ""},
		{"too many fields", "a,b\n1,2,3\n", []string{"a"}, nil, "line 2: 3 fields"},
		{"unterminated", "a\n\"abc\n", []string{"a"}, nil, "unterminated"},
		{"bare quote", "a\nab\"c\"d\n", []string{"a"}, nil, "bare quote"},
		{"junk after quote", "a,b\n\"x\"y,1\n", []string{"a"}, nil, "extraneous"},
		{"missing column", "a,b\n1,2\n", []string{"z"}, nil, "no such column"},
		{"empty", "", []string{"a"}, nil, "header row is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.src, tt.cols, Limits{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCSVSmallReads checks records that straddle buffer refills, with a
// reader that returns one byte at a time.
func TestCSVSmallReads(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,text\n")
	for i := 0; i < 500; i++ {
		b.WriteString("7,\"a \"\"q\"\" b,\nc\"\n")
	}
	var n int
	_, err := ReadCSV(context.Background(), iotest.OneByteReader(strings.NewReader(b.String())), []string{"text"}, Limits{}, func(row []Cell) error {
		if string(row[0].Bytes) != "a \"q\" b,\nc" {
			t.Fatalf("row %d: %q", n, row[0].Bytes)
		}
		n++
		return nil
	})
	if err != nil || n != 500 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestCSVRecordLimit(t *testing.T) {
	src := "a\n" + strings.Repeat("x", 5000) + "\n"
	_, err := readAll(t, src, []string{"a"}, Limits{MaxRecordBytes: 1024})
	if err == nil || !strings.Contains(err.Error(), "longer than 1024") {
		t.Fatalf("err = %v", err)
	}
	_, err = readAll(t, "a\n1\n2\n3\n", []string{"a"}, Limits{MaxRows: 2})
	if !errors.Is(err, ErrTooManyRows) {
		t.Fatalf("err = %v", err)
	}
}

type pqRow struct {
	Label int64   `parquet:"label"`
	Score float64 `parquet:"score"`
	Sex   string  `parquet:"sex,dict"`
	Flag  bool    `parquet:"flag"`
	Opt   *string `parquet:"opt,optional"`
}

func TestParquetAndDetection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "preds.data") // the name says nothing: content decides
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[pqRow](f, parquet.MaxRowsPerRowGroup(3000))
	x := "x"
	var rows []pqRow
	for i := 0; i < 10000; i++ {
		r := pqRow{Label: int64(i % 2), Score: float64(i) / 10, Sex: []string{"f", "m", "x"}[i%3], Flag: i%5 == 0}
		if i%4 == 0 {
			r.Opt = &x
		}
		rows = append(rows, r)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err := Open(p, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Format() != Parquet {
		t.Fatalf("format %s", s.Format())
	}
	var i int
	n, err := s.Scan(context.Background(), []string{"sex", "score", "opt", "flag", "label"}, func(row []Cell) error {
		want := rows[i]
		if string(row[0].Bytes) != want.Sex || row[1].Num != want.Score || (row[2].Kind == Null) != (want.Opt == nil) ||
			(row[3].Num == 1) != want.Flag || row[4].Num != float64(want.Label) {
			t.Fatalf("row %d: %+v, want %+v", i, row, want)
		}
		i++
		return nil
	})
	if err != nil || n != 10000 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if _, err := s.Scan(context.Background(), []string{"nope"}, func([]Cell) error { return nil }); !errors.Is(err, ErrNoColumn) {
		t.Fatalf("err = %v", err)
	}

	csvPath := filepath.Join(dir, "preds.parquet") // a CSV despite its name
	if err := os.WriteFile(csvPath, []byte("label,score\n1,0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(csvPath, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format() != CSV || !reflect.DeepEqual(c.Columns(), []string{"label", "score"}) {
		t.Fatalf("%s %v", c.Format(), c.Columns())
	}
}

func TestParquetMalformed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.parquet")
	data := append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...)
	data = append(data, []byte("PAR1")...)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p, Limits{}); err == nil {
		t.Fatal("want error")
	}
}

func TestCellFloatAndMissing(t *testing.T) {
	for _, tt := range []struct {
		c       Cell
		v       float64
		ok      bool
		missing bool
	}{
		{Cell{Kind: Text, Bytes: []byte(" 1.5 ")}, 1.5, true, false},
		{Cell{Kind: Text, Bytes: []byte("abc")}, 0, false, false},
		{Cell{Kind: Text, Bytes: []byte("NA")}, 0, false, true},
		{Cell{Kind: Null}, 0, false, true},
		{Cell{Kind: Bool, Num: 1}, 1, true, false},
	} {
		v, ok := tt.c.Float()
		if v != tt.v || ok != tt.ok || tt.c.IsMissing() != tt.missing {
			t.Errorf("%+v: %v %v %v", tt.c, v, ok, tt.c.IsMissing())
		}
	}
}

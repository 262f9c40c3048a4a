// Package numpy scans NumPy .npy files: the header (a Python dict literal,
// parsed as data, never evaluated), the declared shape and dtype against
// the file size, and object arrays, whose data is a pickle that
// numpy.load(allow_pickle=True) runs. .npz archives are zips of .npy
// members and are opened by package archive.
package numpy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/pickle"
)

// RuleObjectArray reports an object array: loading it needs allow_pickle.
var RuleObjectArray = finding.MustRegister(finding.Rule{
	ID:       "MLS-NPY-001",
	Name:     "NumpyObjectArray",
	Title:    "NumPy object array requires allow_pickle",
	Severity: finding.Medium,
	Summary: "The array has an object dtype: its data is a pickle, and numpy.load runs it only with " +
		"allow_pickle=True, which lets any pickle in the file execute code. mlsec analysed the pickle; this " +
		"finding stands even when it looks benign, because loading it means trusting pickles.",
	Remediation: "Store numeric data in numeric dtypes (or safetensors); load with allow_pickle=False and " +
		"reject files that need it unless they come from a trusted, verified source.",
	References: []finding.Reference{
		finding.CWE(502), finding.ATLAS("AML.T0010.003"), finding.ATLAS("AML.T0011.000"), finding.OWASPML("ML06"),
	},
})

// Magic starts every .npy file.
var Magic = []byte("\x93NUMPY")

// maxHeader bounds the header read (numpy itself refuses more than 10 000
// bytes unless told otherwise; structured dtypes can be longer).
const maxHeader = 1 << 20

// Header is the parsed .npy header.
type Header struct {
	Major, Minor int
	// DataOffset is where the array data starts.
	DataOffset int64
	Descr      string // the descr as written (a str, or the list's repr kind)
	Fortran    bool
	Shape      []int64
	// ItemSize is the bytes per element; Object is set when any field is
	// a Python object (the data is then a pickle).
	ItemSize int64
	Object   bool
}

// DataSize is the byte size the header implies, or -1 on overflow.
func (h *Header) DataSize() int64 {
	n := uint64(1)
	for _, d := range h.Shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return -1
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, uint64(h.ItemSize))
	if hi != 0 || lo > math.MaxInt64 {
		return -1
	}
	return int64(lo)
}

// ReadHeader parses the header at the start of r.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	var pre [12]byte
	n, _ := r.ReadAt(pre[:], 0)
	if n < 10 || !bytes.HasPrefix(pre[:], Magic) {
		return nil, errors.New("npy: bad magic")
	}
	h := &Header{Major: int(pre[6]), Minor: int(pre[7])}
	var hlen, start int64
	switch h.Major {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if n < 12 {
			return nil, errors.New("npy: truncated header")
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", h.Major, h.Minor)
	}
	if hlen > maxHeader {
		return nil, fmt.Errorf("npy: header of %d bytes exceeds the %d-byte limit", hlen, maxHeader)
	}
	if size >= 0 && start+hlen > size {
		return nil, errors.New("npy: header runs past the end of the file")
	}
	buf := make([]byte, hlen)
	if m, err := r.ReadAt(buf, start); int64(m) != hlen {
		return nil, fmt.Errorf("npy: read header: %w", err)
	}
	h.DataOffset = start + hlen
	text := string(buf)
	if h.Major < 3 {
		text = latin1(buf)
	} else if !utf8.Valid(buf) {
		return nil, errors.New("npy: header is not UTF-8")
	}
	if err := h.parse(text); err != nil {
		return nil, err
	}
	return h, nil
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func (h *Header) parse(text string) error {
	v, err := parseLiteral(text)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	d, ok := v.(*litDict)
	if !ok {
		return errors.New("npy: header is not a dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if _, ok := d.vals[k]; !ok {
			return fmt.Errorf("npy: header lacks %q", k)
		}
	}
	if len(d.keys) != 3 {
		return fmt.Errorf("npy: header has unexpected keys %v", d.keys)
	}
	fo, ok := d.vals["fortran_order"].(bool)
	if !ok {
		return errors.New("npy: fortran_order is not a bool")
	}
	h.Fortran = fo
	shape, ok := d.vals["shape"].([]any)
	if !ok {
		return errors.New("npy: shape is not a tuple")
	}
	for _, s := range shape {
		n, ok := s.(int64)
		if !ok || n < 0 {
			return errors.New("npy: shape holds a non-integer or negative dimension")
		}
		h.Shape = append(h.Shape, n)
	}
	size, obj, err := descrSize(d.vals["descr"], 0)
	if err != nil {
		return fmt.Errorf("npy: descr: %w", err)
	}
	h.ItemSize, h.Object = size, obj
	if s, ok := d.vals["descr"].(string); ok {
		h.Descr = s
	} else {
		h.Descr = "structured"
	}
	return nil
}

// descrSize returns the item size a descr implies and whether it holds
// Python objects.
func descrSize(v lit, depth int) (int64, bool, error) {
	if depth > 16 {
		return 0, false, errors.New("nested too deep")
	}
	switch d := v.(type) {
	case string:
		return typestrSize(d)
	case []any:
		var total int64
		obj := false
		for _, f := range d {
			field, ok := f.([]any)
			if !ok || len(field) < 2 || len(field) > 3 {
				return 0, false, errors.New("bad field")
			}
			sz, o, err := descrSize(field[1], depth+1)
			if err != nil {
				return 0, false, err
			}
			if len(field) == 3 {
				dims, ok := field[2].([]any)
				if !ok {
					n, isInt := field[2].(int64)
					if !isInt {
						return 0, false, errors.New("bad subarray shape")
					}
					dims = []any{n}
				}
				for _, x := range dims {
					n, ok := x.(int64)
					if !ok || n < 0 {
						return 0, false, errors.New("bad subarray shape")
					}
					hi, lo := bits.Mul64(uint64(sz), uint64(n))
					if hi != 0 || lo > math.MaxInt32 {
						return 0, false, errors.New("field too large")
					}
					sz = int64(lo)
				}
			}
			total += sz
			if total > math.MaxInt32 {
				return 0, false, errors.New("item too large")
			}
			obj = obj || o
		}
		return total, obj, nil
	}
	return 0, false, errors.New("not a type string or field list")
}

// typestrSize decodes an array-protocol type string such as "<f4", "|O",
// "<U10" or "<M8[ns]".
func typestrSize(s string) (int64, bool, error) {
	t := s
	if t != "" && strings.IndexByte("<>|=", t[0]) >= 0 {
		t = t[1:]
	}
	if i := strings.IndexByte(t, '['); i >= 0 {
		if !strings.HasSuffix(t, "]") {
			return 0, false, fmt.Errorf("bad type string %q", s)
		}
		t = t[:i]
	}
	if t == "" {
		return 0, false, fmt.Errorf("bad type string %q", s)
	}
	kind, digits := t[0], t[1:]
	if kind == 'O' {
		return 8, true, nil
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("bad type string %q", s)
	}
	switch kind {
	case 'b', 'i', 'u', 'f', 'c', 'S', 'a', 'V', 'M', 'm':
		return n, false, nil
	case 'U':
		return 4 * n, false, nil
	}
	return 0, false, fmt.Errorf("unknown type kind in %q", s)
}

// Scanner scans .npy files.
type Scanner struct {
	opts pickle.Options
}

// New returns the .npy scanner; opts configure the analysis of object
// arrays' pickles.
func New(opts pickle.Options) *Scanner { return &Scanner{opts: opts} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "numpy-npy" }

// Match implements scan.Scanner.
func (*Scanner) Match(f scan.FileInfo) bool {
	return len(f.Head) >= 10 && bytes.HasPrefix(f.Head, Magic)
}

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult("numpy-npy")
	if in.Size < 0 {
		return res, errors.New("npy: unknown size")
	}
	h, err := ReadHeader(in.R, in.Size)
	if err != nil {
		return res, err
	}
	self := in.Name
	if in.Member != "" {
		self = in.Member
	}
	data := in.Size - h.DataOffset
	if h.Object {
		f := in.NewFinding(RuleObjectArray)
		f.Location = f.Location.At(h.DataOffset)
		f.Evidence = finding.Evidence{
			Text:   fmt.Sprintf("dtype %s, shape %v: the data is a pickle", h.Descr, h.Shape),
			Fields: map[string]any{"descr": h.Descr, "shape": h.Shape},
		}
		res.Add(f)
		a, err := pickle.Analyze(ctx, bufio.NewReaderSize(io.NewSectionReader(in.R, h.DataOffset, data), 64<<10), s.opts)
		if a != nil {
			a.Apply(&res, in.Artifact, in.Member, h.DataOffset, self)
			complete := false
			for _, p := range a.Pickles {
				complete = complete || (p.Complete && p.Nested == "")
			}
			if !complete && a.Complete() {
				res.Gap("%s: object array data is not a complete pickle", self)
			}
		}
		if err != nil {
			res.Gap("%s: %v", self, err)
		}
		return res, nil
	}
	want := h.DataSize()
	switch {
	case want < 0:
		res.Gap("%s: shape %v × item size %d overflows", self, h.Shape, h.ItemSize)
	case data < want:
		res.Gap("%s: header implies %d data bytes but the file holds %d (truncated)", self, want, data)
	case data > want:
		extra := data - want
		res.Gap("%s: %d bytes after the array data were not expected", self, extra)
		res.Merge(in.ScanReaderAt(ctx, "<trailing data>", io.NewSectionReader(in.R, h.DataOffset+want, extra), extra))
	}
	return res, nil
}

// Package safetensors validates safetensors files
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header describing every tensor, then the raw tensor bytes.
// The format cannot carry code, so a file that passes the same checks as the
// reference Rust crate's validation is complete with no findings; anything
// else is inconclusive. Tensor data is never read.
package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"

	"github.com/mlsec/mlsec/internal/scan"
)

// MaxHeaderSize is the largest JSON header accepted, as in the reference
// implementation (100 MB).
const MaxHeaderSize = 100_000_000

// maxTensors bounds the number of header entries.
const maxTensors = 1_000_000

// dtypeBits gives the element size in bits of every dtype the reference crate
// knows. Sub-byte types are packed; a tensor's bit size must be whole bytes.
var dtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// Scanner is the safetensors format scanner.
type Scanner struct{}

// New returns the safetensors scanner.
func New() *Scanner { return &Scanner{} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "safetensors" }

// Match accepts content whose first 8 bytes are a plausible header length
// followed by a JSON object.
func (*Scanner) Match(f scan.FileInfo) bool {
	if len(f.Head) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(f.Head)
	if n < 2 || n > MaxHeaderSize {
		return false
	}
	if f.Size >= 0 && n > uint64(f.Size-8) {
		return false
	}
	rest := f.Head[8:]
	if uint64(len(rest)) > n {
		rest = rest[:n]
	}
	rest = bytes.TrimLeft(rest, " \t\r\n")
	if len(rest) == 0 {
		// Only whitespace in the part we can see: look for the brace.
		return false
	}
	if rest[0] != '{' {
		return false
	}
	// A JSON object's next significant byte is a key or its end.
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	return len(rest) == 0 || rest[0] == '"' || rest[0] == '}'
}

// Tensor is one header entry.
type Tensor struct {
	Name  string
	DType string
	Shape []uint64
	Begin uint64
	End   uint64
}

// Header is a parsed and validated safetensors header.
type Header struct {
	// HeaderLen is the JSON header length from the first 8 bytes.
	HeaderLen uint64
	Tensors   []Tensor
	Metadata  map[string]string
}

// ErrInvalid marks a file that is not valid safetensors.
var ErrInvalid = errors.New("invalid safetensors")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads and validates the header of a safetensors file of the given
// size. It follows the reference crate: tensors sorted by offset must cover
// the data section contiguously, without holes or overlap, each tensor's
// byte length must equal its shape times its dtype size, and the data
// section must end exactly at the end of the file.
func Parse(r io.ReaderAt, size int64) (*Header, error) {
	if size < 8 {
		return nil, invalid("file of %d bytes is shorter than the length prefix", size)
	}
	var pre [8]byte
	if _, err := r.ReadAt(pre[:], 0); err != nil {
		return nil, fmt.Errorf("read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > MaxHeaderSize {
		return nil, invalid("header length %d exceeds %d", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, invalid("header length %d runs past the end of the %d-byte file", n, size)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 8); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return nil, fmt.Errorf("read header: %w", err)
	}
	h, err := parseHeader(buf)
	if err != nil {
		return nil, err
	}
	h.HeaderLen = n
	dataLen := uint64(size) - 8 - n
	var end uint64
	for _, t := range h.Tensors {
		if t.Begin != end {
			if t.Begin < end {
				return nil, invalid("tensor %q overlaps the previous tensor (offset %d < %d)", t.Name, t.Begin, end)
			}
			return nil, invalid("hole in the data section before tensor %q (offset %d, expected %d)", t.Name, t.Begin, end)
		}
		if t.End < t.Begin {
			return nil, invalid("tensor %q has end offset %d before begin %d", t.Name, t.End, t.Begin)
		}
		nbits, ok := tensorBits(t)
		if !ok {
			return nil, invalid("tensor %q: shape %v overflows", t.Name, t.Shape)
		}
		if nbits%8 != 0 {
			return nil, invalid("tensor %q: %d bits of %s is not a whole number of bytes", t.Name, nbits, t.DType)
		}
		if want := nbits / 8; t.End-t.Begin != want {
			return nil, invalid("tensor %q: shape %v of %s needs %d bytes but offsets give %d", t.Name, t.Shape, t.DType, want, t.End-t.Begin)
		}
		if t.End > dataLen {
			return nil, invalid("tensor %q: data offsets [%d, %d] beyond the %d-byte data section", t.Name, t.Begin, t.End, dataLen)
		}
		end = t.End
	}
	if end != dataLen {
		return nil, invalid("data section is %d bytes but tensors cover %d", dataLen, end)
	}
	return h, nil
}

func tensorBits(t Tensor) (uint64, bool) {
	n := uint64(1)
	for _, d := range t.Shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, dtypeBits[t.DType])
	return lo, hi == 0
}

// parseHeader decodes the JSON header strictly: one object, no duplicate
// keys, every entry a tensor description except __metadata__.
func parseHeader(b []byte) (*Header, error) {
	if !utf8.Valid(b) {
		return nil, invalid("header is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("header does not start with a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, invalid("header is not a JSON object")
	}
	h := &Header{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid("header JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalid("header JSON: key is not a string")
		}
		if seen[key] {
			return nil, invalid("duplicate header key %q", key)
		}
		seen[key] = true
		if len(seen) > maxTensors {
			return nil, invalid("more than %d header entries", maxTensors)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, invalid("header JSON: value of %q: %v", key, err)
		}
		if key == "__metadata__" {
			md, err := parseMetadata(raw)
			if err != nil {
				return nil, err
			}
			h.Metadata = md
			continue
		}
		t, err := parseTensor(key, raw)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid("header JSON: %v", err)
	}
	// Only whitespace may follow the object (writers pad with spaces).
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) != 0 {
		return nil, invalid("trailing data after the header JSON object")
	}
	sort.SliceStable(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	return h, nil
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var md map[string]json.RawMessage
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, invalid("__metadata__ is not an object of strings: %v", err)
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalid("__metadata__[%q] is not a string", k)
		}
		out[k] = s
	}
	return out, nil
}

type rawTensor struct {
	DType       *string        `json:"dtype"`
	Shape       *[]json.Number `json:"shape"`
	DataOffsets *[]json.Number `json:"data_offsets"`
}

// parseTensor decodes one entry; extra fields are ignored, as in the
// reference crate.
func parseTensor(name string, raw json.RawMessage) (Tensor, error) {
	var rt rawTensor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&rt); err != nil {
		return Tensor{}, invalid("tensor %q: %v", name, err)
	}
	if rt.DType == nil || rt.Shape == nil || rt.DataOffsets == nil {
		return Tensor{}, invalid("tensor %q lacks dtype, shape or data_offsets", name)
	}
	t := Tensor{Name: name, DType: *rt.DType}
	if _, ok := dtypeBits[t.DType]; !ok {
		return Tensor{}, invalid("tensor %q has unknown dtype %q", name, t.DType)
	}
	for _, d := range *rt.Shape {
		v, err := uintOf(d)
		if err != nil {
			return Tensor{}, invalid("tensor %q: shape: %v", name, err)
		}
		t.Shape = append(t.Shape, v)
	}
	if len(*rt.DataOffsets) != 2 {
		return Tensor{}, invalid("tensor %q: data_offsets must have two entries", name)
	}
	var err error
	if t.Begin, err = uintOf((*rt.DataOffsets)[0]); err != nil {
		return Tensor{}, invalid("tensor %q: data_offsets: %v", name, err)
	}
	if t.End, err = uintOf((*rt.DataOffsets)[1]); err != nil {
		return Tensor{}, invalid("tensor %q: data_offsets: %v", name, err)
	}
	return t, nil
}

func uintOf(n json.Number) (uint64, error) {
	s := n.String()
	var v uint64
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not a non-negative integer", s)
		}
		if v > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, fmt.Errorf("%s overflows", s)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, nil
}

// Scan implements scan.Scanner. A valid file is complete and clean.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if in.Size < 0 {
		return res, fmt.Errorf("safetensors: size unknown")
	}
	if _, err := Parse(in.R, in.Size); err != nil {
		return res, fmt.Errorf("safetensors: %w", err)
	}
	return res, nil
}

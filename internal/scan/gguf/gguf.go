// Package gguf scans GGUF model files (llama.cpp's format,
// https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): it reads the
// header, the whole metadata table and the tensor directory under size
// limits, checks that tensor offsets and sizes fit the file, and parses
// every chat template (tokenizer.chat_template and its named variants) as
// Jinja2 to find sandbox-escape constructs (the CVE-2024-34359 family).
// Tensor data is never read.
package gguf

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/gguf/jinja"
)

// Rules reported by this package.
var (
	RuleTemplateEscape = finding.MustRegister(finding.Rule{
		ID: "MLS-GGUF-001", Name: "GGUFChatTemplateSandboxEscape",
		Title:    "GGUF chat template escapes the Jinja2 sandbox",
		Severity: finding.Critical,
		Summary: "A chat template stored in the model reaches Python internals (dunder attributes such as " +
			"__class__, __globals__, __subclasses__, or name-mangled privates). Rendered by an unsandboxed " +
			"or vulnerable Jinja2 environment it runs arbitrary code when the model is loaded for chat.",
		Doc: "llama-cpp-python before 0.2.72 rendered `tokenizer.chat_template` with a non-sandboxed Jinja2 " +
			"environment (CVE-2024-34359, 'Llama Drama'); other loaders have had the same flaw. Legitimate " +
			"chat templates never touch Python internals.",
		Remediation: "Do not load the model. Remove or replace the chat template (e.g. with the base model's " +
			"official template) and obtain the model from a trusted publisher.",
		References: []finding.Reference{finding.CWE(1336), finding.CWE(94), finding.CVE("CVE-2024-34359"),
			finding.ATLAS("AML.T0010.003"), finding.ATLAS("AML.T0011.000"), finding.OWASPML("ML06")},
	})
	RuleTemplateSuspicious = finding.MustRegister(finding.Rule{
		ID: "MLS-GGUF-002", Name: "GGUFChatTemplateSuspicious",
		Title:    "GGUF chat template uses constructs that prepare a sandbox escape",
		Severity: finding.High,
		Summary: "A chat template accesses private attributes, looks attributes up by computed names, names " +
			"Python modules or builtins, or spells dunder names in strings: no chat template needs these, " +
			"and they are the building blocks of template-injection payloads.",
		Remediation: "Review the template; replace it with the base model's official chat template.",
		References: []finding.Reference{finding.CWE(1336), finding.CVE("CVE-2024-34359"),
			finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06")},
	})
	RuleTemplateInclude = finding.MustRegister(finding.Rule{
		ID: "MLS-GGUF-003", Name: "GGUFChatTemplateLoadsTemplates",
		Title:    "GGUF chat template loads other templates",
		Severity: finding.Medium,
		Summary: "The chat template uses include, import, extends or from, which read templates through the " +
			"rendering environment's loader (possibly from the file system).",
		Remediation: "Chat templates should be self-contained; replace the template.",
		References:  []finding.Reference{finding.CWE(73), finding.OWASPML("ML06")},
	})
)

// Value types of the metadata table.
const (
	typeUint8 uint32 = iota
	typeInt8
	typeUint16
	typeInt16
	typeUint32
	typeInt32
	typeFloat32
	typeBool
	typeString
	typeArray
	typeUint64
	typeInt64
	typeFloat64
)

var scalarSize = map[uint32]int64{
	typeUint8: 1, typeInt8: 1, typeBool: 1, typeUint16: 2, typeInt16: 2, typeUint32: 4, typeInt32: 4,
	typeFloat32: 4, typeUint64: 8, typeInt64: 8, typeFloat64: 8,
}

// Limits.
const (
	maxKeyLen      = 1 << 16
	maxArrayDepth  = 4
	maxDims        = 8
	maxTemplateLen = jinja.MaxTemplateSize
	defaultAlign   = 32
)

// ggmlTypes maps tensor types to (block size, bytes per block) for the types
// whose layout is settled; others are checked for range and alignment only.
var ggmlTypes = map[uint32][2]uint64{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34},
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 15: {256, 292},
	16: {256, 66}, 17: {256, 74}, 18: {256, 98}, 19: {256, 50}, 20: {32, 18}, 21: {256, 110},
	22: {256, 82}, 23: {256, 136}, 24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8},
	29: {256, 56}, 30: {1, 2}, 34: {256, 54}, 35: {256, 66}, 39: {32, 17},
}

// maxTensorType bounds plausible type IDs (future quantisations included).
const maxTensorType = 1024

// Scanner is the GGUF format scanner.
type Scanner struct{}

// New returns the GGUF scanner.
func New() *Scanner { return &Scanner{} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "gguf" }

// Match implements scan.Scanner: the "GGUF" magic and a known version in
// either byte order.
func (*Scanner) Match(f scan.FileInfo) bool {
	if len(f.Head) < 8 || string(f.Head[:4]) != "GGUF" {
		return false
	}
	_, _, ok := version(f.Head[4:8])
	return ok
}

func version(b []byte) (uint32, binary.ByteOrder, bool) {
	if v := binary.LittleEndian.Uint32(b); v >= 1 && v <= 3 {
		return v, binary.LittleEndian, true
	}
	if v := binary.BigEndian.Uint32(b); v >= 1 && v <= 3 {
		return v, binary.BigEndian, true
	}
	return 0, nil, false
}

// Template is one chat template found in the metadata.
type Template struct {
	Key    string
	Text   string
	Offset int64
}

// TensorInfo is one entry of the tensor directory.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   uint32
	Offset uint64
}

// File is what Parse learned.
type File struct {
	Version      uint32
	BigEndian    bool
	KVCount      uint64
	Alignment    uint64
	Templates    []Template
	Tensors      []TensorInfo
	DataOffset   int64
	Architecture string
	// General holds the string and integer "general.*" metadata (name,
	// file_type, quantization_version, license, ...) as text, strings up
	// to 256 bytes; inventory only, no check depends on it.
	General map[string]string
}

// ErrInvalid marks a file that is not valid GGUF.
var ErrInvalid = errors.New("invalid GGUF")

type reader struct {
	br   *bufio.Reader
	bo   binary.ByteOrder
	off  int64
	size int64
	v1   bool
	buf  [8]byte
	ctx  context.Context
	n    int
}

func (r *reader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrInvalid, r.off, fmt.Sprintf(format, args...))
}

func (r *reader) read(n int) ([]byte, error) {
	if _, err := io.ReadFull(r.br, r.buf[:n]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, r.fail("truncated")
		}
		return nil, fmt.Errorf("read at %d: %w", r.off, err)
	}
	r.off += int64(n)
	return r.buf[:n], nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.read(4)
	if err != nil {
		return 0, err
	}
	return r.bo.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.read(8)
	if err != nil {
		return 0, err
	}
	return r.bo.Uint64(b), nil
}

// count reads a length or count: 32-bit in GGUF v1, 64-bit after.
func (r *reader) count() (uint64, error) {
	if r.v1 {
		v, err := r.u32()
		return uint64(v), err
	}
	return r.u64()
}

func (r *reader) remaining() uint64 { return uint64(r.size - r.off) }

func (r *reader) skip(n uint64) error {
	if n > r.remaining() {
		return r.fail("value of %d bytes runs past the end of the file", n)
	}
	for n > 0 {
		k, err := r.br.Discard(int(min(n, 1<<30)))
		r.off += int64(k)
		n -= uint64(k)
		if err != nil {
			return r.fail("truncated")
		}
	}
	return nil
}

// str reads a string, keeping at most keep bytes (the rest is skipped).
func (r *reader) str(keep uint64) (string, bool, error) {
	n, err := r.count()
	if err != nil {
		return "", false, err
	}
	if n > r.remaining() {
		return "", false, r.fail("string of %d bytes runs past the end of the file", n)
	}
	if n > keep {
		return "", false, r.skip(n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		return "", false, r.fail("truncated")
	}
	r.off += int64(n)
	return string(b), true, nil
}

func (r *reader) tick() error {
	r.n++
	if r.n&8191 == 0 {
		return r.ctx.Err()
	}
	return nil
}

// value reads (and mostly skips) one metadata value of type t.
func (r *reader) value(t uint32, depth int) error {
	if err := r.tick(); err != nil {
		return err
	}
	if sz, ok := scalarSize[t]; ok {
		return r.skip(uint64(sz))
	}
	switch t {
	case typeString:
		_, _, err := r.str(0)
		return err
	case typeArray:
		if depth >= maxArrayDepth {
			return r.fail("arrays nested deeper than %d", maxArrayDepth)
		}
		et, err := r.u32()
		if err != nil {
			return err
		}
		n, err := r.count()
		if err != nil {
			return err
		}
		if sz, ok := scalarSize[et]; ok {
			hi, lo := bits.Mul64(n, uint64(sz))
			if hi != 0 {
				return r.fail("array of %d elements overflows", n)
			}
			return r.skip(lo)
		}
		if et != typeString && et != typeArray {
			return r.fail("unknown array element type %d", et)
		}
		// Every string or nested array takes at least a length prefix.
		minElem := uint64(8)
		if r.v1 || et == typeArray {
			minElem = 4
		}
		if n > r.remaining()/minElem {
			return r.fail("array of %d elements cannot fit in the file", n)
		}
		for i := uint64(0); i < n; i++ {
			if err := r.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return r.fail("unknown value type %d", t)
}

func (r *reader) scalarUint(t uint32) (uint64, bool, error) {
	switch t {
	case typeUint8, typeUint16, typeUint32, typeUint64, typeInt8, typeInt16, typeInt32, typeInt64:
		sz := scalarSize[t]
		b, err := r.read(int(sz))
		if err != nil {
			return 0, false, err
		}
		switch sz {
		case 1:
			return uint64(b[0]), true, nil
		case 2:
			return uint64(r.bo.Uint16(b)), true, nil
		case 4:
			return uint64(r.bo.Uint32(b)), true, nil
		}
		return r.bo.Uint64(b), true, nil
	}
	return 0, false, r.value(t, 0)
}

// Parse reads and checks the header, metadata and tensor directory.
func Parse(ctx context.Context, ra io.ReaderAt, size int64) (*File, error) {
	r := &reader{br: bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10), size: size, ctx: ctx}
	magic, err := r.read(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != "GGUF" {
		return nil, r.fail("bad magic %q", magic)
	}
	vb, err := r.read(4)
	if err != nil {
		return nil, err
	}
	v, bo, ok := version(vb)
	if !ok {
		return nil, r.fail("unsupported version %d", binary.LittleEndian.Uint32(vb))
	}
	r.bo, r.v1 = bo, v == 1
	f := &File{Version: v, BigEndian: bo == binary.BigEndian, Alignment: defaultAlign}
	nTensors, err := r.count()
	if err != nil {
		return nil, err
	}
	nKV, err := r.count()
	if err != nil {
		return nil, err
	}
	f.KVCount = nKV
	// A key-value pair takes at least a key length, a type and one byte.
	if nKV > r.remaining()/9 {
		return nil, r.fail("%d metadata entries cannot fit in the file", nKV)
	}
	// A tensor entry takes at least a name length, n_dims, type and offset.
	if nTensors > r.remaining()/24 {
		return nil, r.fail("%d tensors cannot fit in the file", nTensors)
	}
	seen := map[string]bool{}
	for i := uint64(0); i < nKV; i++ {
		key, ok, err := r.str(maxKeyLen)
		if err != nil {
			return f, err
		}
		if !ok {
			return f, r.fail("metadata key longer than %d bytes", maxKeyLen)
		}
		if seen[key] {
			return f, r.fail("duplicate metadata key %q", key)
		}
		seen[key] = true
		t, err := r.u32()
		if err != nil {
			return f, err
		}
		switch {
		case strings.HasPrefix(key, "tokenizer.chat_template") && t == typeString:
			off := r.off
			s, ok, err := r.str(maxTemplateLen)
			if err != nil {
				return f, err
			}
			if !ok {
				return f, fmt.Errorf("%w: chat template %q larger than %d bytes", scan.ErrLimit, key, maxTemplateLen)
			}
			f.Templates = append(f.Templates, Template{Key: key, Text: s, Offset: off})
		case key == "general.alignment":
			a, isInt, err := r.scalarUint(t)
			if err != nil {
				return f, err
			}
			if !isInt || a == 0 || a&(a-1) != 0 || a > 1<<30 {
				return f, r.fail("general.alignment %d is not a power of two", a)
			}
			f.Alignment = a
		case key == "general.architecture" && t == typeString:
			s, _, err := r.str(256)
			if err != nil {
				return f, err
			}
			f.Architecture = s
		case strings.HasPrefix(key, "general.") && t == typeString:
			s, ok, err := r.str(256)
			if err != nil {
				return f, err
			}
			if ok {
				f.general(key, s)
			}
		case strings.HasPrefix(key, "general.") && scalarSize[t] > 0 && t != typeFloat32 && t != typeFloat64 && t != typeBool:
			v, _, err := r.scalarUint(t)
			if err != nil {
				return f, err
			}
			f.general(key, intText(t, v))
		default:
			if err := r.value(t, 0); err != nil {
				return f, fmt.Errorf("metadata %q: %w", key, err)
			}
		}
	}
	for i := uint64(0); i < nTensors; i++ {
		if err := r.tick(); err != nil {
			return f, err
		}
		name, ok, err := r.str(maxKeyLen)
		if err != nil {
			return f, err
		}
		if !ok {
			return f, r.fail("tensor name longer than %d bytes", maxKeyLen)
		}
		nd, err := r.u32()
		if err != nil {
			return f, err
		}
		if nd > maxDims {
			return f, r.fail("tensor %q has %d dimensions", name, nd)
		}
		ti := TensorInfo{Name: name, Dims: make([]uint64, nd)}
		for d := range ti.Dims {
			if ti.Dims[d], err = r.count(); err != nil {
				return f, err
			}
		}
		if ti.Type, err = r.u32(); err != nil {
			return f, err
		}
		if ti.Offset, err = r.u64(); err != nil {
			return f, err
		}
		f.Tensors = append(f.Tensors, ti)
	}
	start := uint64(r.off)
	if rem := start % f.Alignment; rem != 0 && len(f.Tensors) > 0 {
		start += f.Alignment - rem
	}
	f.DataOffset = int64(start)
	if err := checkTensors(f, uint64(size)); err != nil {
		return f, err
	}
	return f, nil
}

// intText renders an integer metadata value, signed types sign-extended.
func intText(t uint32, v uint64) string {
	switch t {
	case typeInt8:
		return strconv.FormatInt(int64(int8(v)), 10)
	case typeInt16:
		return strconv.FormatInt(int64(int16(v)), 10)
	case typeInt32:
		return strconv.FormatInt(int64(int32(v)), 10)
	case typeInt64:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatUint(v, 10)
}

func (f *File) general(key, val string) {
	if f.General == nil {
		f.General = map[string]string{}
	}
	f.General[key] = val
}

func checkTensors(f *File, size uint64) error {
	if len(f.Tensors) == 0 {
		return nil
	}
	if uint64(f.DataOffset) > size {
		return fmt.Errorf("%w: tensor data would start at %d, past the end of the %d-byte file", ErrInvalid, f.DataOffset, size)
	}
	dataLen := size - uint64(f.DataOffset)
	type span struct {
		name     string
		from, to uint64
	}
	spans := make([]span, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		if t.Type > maxTensorType {
			return fmt.Errorf("%w: tensor %q has type %d", ErrInvalid, t.Name, t.Type)
		}
		if t.Offset%f.Alignment != 0 {
			return fmt.Errorf("%w: tensor %q offset %d is not aligned to %d", ErrInvalid, t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > dataLen {
			return fmt.Errorf("%w: tensor %q offset %d is beyond the %d-byte data section", ErrInvalid, t.Name, t.Offset, dataLen)
		}
		bt, known := ggmlTypes[t.Type]
		if !known {
			continue
		}
		n := uint64(1)
		for _, d := range t.Dims {
			hi, lo := bits.Mul64(n, d)
			if hi != 0 {
				return fmt.Errorf("%w: tensor %q dimensions %v overflow", ErrInvalid, t.Name, t.Dims)
			}
			n = lo
		}
		if len(t.Dims) > 0 && t.Dims[0]%bt[0] != 0 {
			return fmt.Errorf("%w: tensor %q row of %d is not a multiple of block size %d", ErrInvalid, t.Name, t.Dims[0], bt[0])
		}
		hi, nbytes := bits.Mul64(n/bt[0], bt[1])
		if hi != 0 || nbytes > dataLen-t.Offset {
			return fmt.Errorf("%w: tensor %q (%d bytes at offset %d) runs past the %d-byte data section", ErrInvalid, t.Name, nbytes, t.Offset, dataLen)
		}
		spans = append(spans, span{t.Name, t.Offset, t.Offset + nbytes})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	for i := 1; i < len(spans); i++ {
		if spans[i].from < spans[i-1].to {
			return fmt.Errorf("%w: tensors %q and %q overlap", ErrInvalid, spans[i-1].name, spans[i].name)
		}
	}
	return nil
}

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	if in.Size < 0 {
		return res, errors.New("gguf: size unknown")
	}
	f, err := Parse(ctx, in.R, in.Size)
	if f != nil {
		checkTemplates(in, f.Templates, &res)
	}
	if err != nil {
		return res, fmt.Errorf("gguf: %w", err)
	}
	return res, nil
}

var levelRule = map[jinja.Level]*finding.Rule{
	jinja.Escape:     RuleTemplateEscape,
	jinja.Suspicious: RuleTemplateSuspicious,
	jinja.Include:    RuleTemplateInclude,
}

const maxIssuesPerTemplate = 10

func checkTemplates(in *scan.Input, ts []Template, res *scan.Result) {
	for _, t := range ts {
		issues, err := jinja.Check(t.Text)
		switch {
		case errors.Is(err, jinja.ErrLimit):
			res.Gap("chat template %q: %v", t.Key, err)
		case err != nil:
			res.Gap("chat template %q does not parse as Jinja2: %v", t.Key, err)
			continue
		}
		for i, is := range issues {
			if i == maxIssuesPerTemplate {
				break
			}
			f := in.NewFinding(levelRule[is.Level])
			f.Location = f.Location.At(t.Offset)
			f.Location.Pointer = t.Key
			f.Evidence = finding.Evidence{
				Text: fmt.Sprintf("%s line %d: %s: %s", t.Key, is.Line, is.Construct, is.Why),
				Fields: map[string]any{
					"key": t.Key, "construct": is.Construct, "reason": is.Why, "template_line": is.Line,
				},
			}
			res.Add(f)
		}
	}
}

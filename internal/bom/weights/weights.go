// Package weights reads what model weight files say about themselves from
// their headers alone: safetensors (JSON header), GGUF (metadata and tensor
// directory), PyTorch zip archives (member listing and the data.pkl
// storage types) and ONNX (model fields, opsets, graph inputs, outputs and
// initializer shapes). Tensor data is never read; the format parsers are
// the scanner's (packages scan/safetensors, scan/gguf, scan/onnx/protowalk,
// scan/pickle), so the BOM and the scan agree on what a file is.
package weights

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"path"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/gguf"
	"github.com/mlsec/mlsec/internal/scan/onnx"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
	"github.com/mlsec/mlsec/internal/scan/pickle"
	"github.com/mlsec/mlsec/internal/scan/safetensors"
)

// Formats.
const (
	Safetensors = "safetensors"
	GGUF        = "gguf"
	PyTorchZip  = "pytorch-zip"
	ONNX        = "onnx"
	// Pickle is a bare pickle stream (scikit-learn, joblib, legacy
	// torch.save): a model, but its header tells nothing without running
	// the pickle, so only the format is reported (the scanner analyses it).
	Pickle = "pickle"
)

// Limits.
const (
	// MaxZipEntries bounds the members listed from a PyTorch archive.
	MaxZipEntries = 200_000
	// MaxPickle bounds the data.pkl read from a PyTorch archive.
	MaxPickle = 64 << 20
	// MaxNames bounds the ONNX inputs and outputs listed.
	MaxNames = 256
)

// ErrUnknown is returned for content that is none of the formats.
var ErrUnknown = errors.New("not a weights format")

// Info is what a weights file's header tells.
type Info struct {
	Format string
	// Tensors counts tensors (safetensors, GGUF, ONNX initializers) or
	// storages (PyTorch archives).
	Tensors int
	// Parameters is the element count of all tensors; 0 when unknown.
	Parameters int64
	// DTypes are the element types present, sorted.
	DTypes []string
	// Architecture is GGUF general.architecture.
	Architecture string
	// Quantization names the GGUF file type (e.g. "Q4_K_M") or, without
	// one, the dominant quantised tensor type.
	Quantization string
	// Name is GGUF general.name or the ONNX graph name.
	Name string
	// Metadata is the safetensors __metadata__, GGUF general.* or ONNX
	// metadata_props.
	Metadata map[string]string
	// ONNX.
	IRVersion       uint64
	Producer        string
	ProducerVersion string
	Opsets          []string // "ai.onnx:17"
	Inputs, Outputs []string
	// PyTorch archives.
	Members int
	Version string
	// Error is set when the header could not be read completely; the
	// other fields hold what was read before.
	Error string `json:"error,omitempty"`
}

// Detect returns the weights format of content from its head, or "".
func Detect(name string, head []byte, size int64, r io.ReaderAt) string {
	fi := scan.FileInfo{Name: name, Size: size, Head: head, R: r}
	switch {
	case gguf.New().Match(fi):
		return GGUF
	case safetensors.New().Match(fi):
		return Safetensors
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		if isTorchZip(r, size) {
			return PyTorchZip
		}
	case onnx.Detect(head, size):
		return ONNX
	case len(head) > 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 && pickleExt(name):
		return Pickle
	}
	return ""
}

// Read parses the header of a weights file of the given format.
func Read(ctx context.Context, format string, r io.ReaderAt, size int64) (*Info, error) {
	switch format {
	case Safetensors:
		return readSafetensors(r, size)
	case GGUF:
		return readGGUF(ctx, r, size)
	case PyTorchZip:
		return readTorchZip(ctx, r, size)
	case ONNX:
		return readONNX(ctx, r, size)
	case Pickle:
		return &Info{Format: Pickle}, nil
	}
	return nil, ErrUnknown
}

func readSafetensors(r io.ReaderAt, size int64) (*Info, error) {
	h, err := safetensors.Parse(r, size)
	if err != nil {
		return nil, err
	}
	in := &Info{Format: Safetensors, Tensors: len(h.Tensors), Metadata: h.Metadata}
	dt := map[string]bool{}
	for _, t := range h.Tensors {
		dt[t.DType] = true
		in.Parameters = addSat(in.Parameters, elements(t.Shape))
	}
	in.DTypes = keys(dt)
	return in, nil
}

// ggmlTypeNames names GGML tensor types (ggml.h enum ggml_type).
var ggmlTypeNames = map[uint32]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
	10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
	17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
	24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0",
	35: "TQ2_0", 39: "MXFP4",
}

// fileTypeNames names llama.cpp's general.file_type (enum llama_ftype).
var fileTypeNames = map[string]string{
	"0": "F32", "1": "F16", "2": "Q4_0", "3": "Q4_1", "7": "Q8_0", "8": "Q5_0", "9": "Q5_1",
	"10": "Q2_K", "11": "Q3_K_S", "12": "Q3_K_M", "13": "Q3_K_L", "14": "Q4_K_S", "15": "Q4_K_M",
	"16": "Q5_K_S", "17": "Q5_K_M", "18": "Q6_K", "19": "IQ2_XXS", "20": "IQ2_XS", "21": "Q2_K_S",
	"22": "IQ3_XS", "23": "IQ3_XXS", "24": "IQ1_S", "25": "IQ4_NL", "26": "IQ3_S", "27": "IQ3_M",
	"28": "IQ2_S", "29": "IQ2_M", "30": "IQ4_XS", "31": "IQ1_M", "32": "BF16", "36": "TQ1_0",
	"37": "TQ2_0", "38": "MXFP4_MOE",
}

func readGGUF(ctx context.Context, r io.ReaderAt, size int64) (*Info, error) {
	f, err := gguf.Parse(ctx, r, size)
	if err != nil {
		return nil, err
	}
	in := &Info{Format: GGUF, Tensors: len(f.Tensors), Architecture: f.Architecture,
		Name: f.General["general.name"], Metadata: f.General}
	dt := map[string]bool{}
	byType := map[string]int64{}
	for _, t := range f.Tensors {
		n := ggmlTypeNames[t.Type]
		if n == "" {
			n = "type" + strconv.FormatUint(uint64(t.Type), 10)
		}
		dt[n] = true
		e := elements(t.Dims)
		byType[n] = addSat(byType[n], e)
		in.Parameters = addSat(in.Parameters, e)
	}
	in.DTypes = keys(dt)
	if ft, ok := f.General["general.file_type"]; ok {
		in.Quantization = fileTypeNames[ft]
		if in.Quantization == "" {
			in.Quantization = "file_type " + ft
		}
	} else {
		// The type holding most elements, when it is quantised.
		best, bestN := "", int64(-1)
		for _, n := range keys(dt) {
			if byType[n] > bestN {
				best, bestN = n, byType[n]
			}
		}
		if best != "F32" && best != "F16" && best != "BF16" && best != "F64" {
			in.Quantization = best
		}
	}
	return in, nil
}

func pickleExt(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".sav", ".dill":
		return true
	}
	return false
}

// isTorchZip reports whether a zip archive holds a torch.save pickle
// (<root>/data.pkl).
func isTorchZip(r io.ReaderAt, size int64) bool {
	if r == nil {
		return false
	}
	zr, err := zip.NewReader(r, size)
	if err != nil || len(zr.File) > MaxZipEntries {
		return false
	}
	for _, f := range zr.File {
		if path.Base(f.Name) == "data.pkl" && strings.Count(strings.Trim(f.Name, "/"), "/") == 1 {
			return true
		}
	}
	return false
}

// storageDTypes maps PyTorch storage classes to dtypes and element sizes.
var storageDTypes = map[string]struct {
	name string
	size int64
}{
	"FloatStorage": {"float32", 4}, "DoubleStorage": {"float64", 8}, "HalfStorage": {"float16", 2},
	"BFloat16Storage": {"bfloat16", 2}, "LongStorage": {"int64", 8}, "IntStorage": {"int32", 4},
	"ShortStorage": {"int16", 2}, "CharStorage": {"int8", 1}, "ByteStorage": {"uint8", 1},
	"BoolStorage": {"bool", 1}, "ComplexFloatStorage": {"complex64", 8}, "ComplexDoubleStorage": {"complex128", 16},
}

func readTorchZip(ctx context.Context, r io.ReaderAt, size int64) (*Info, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("pytorch archive: %w", err)
	}
	if len(zr.File) > MaxZipEntries {
		return nil, fmt.Errorf("pytorch archive: %d members (limit %d)", len(zr.File), MaxZipEntries)
	}
	in := &Info{Format: PyTorchZip, Members: len(zr.File)}
	var pkl *zip.File
	var storageBytes int64
	for _, f := range zr.File {
		name := strings.Trim(f.Name, "/")
		dir, base := path.Split(name)
		switch {
		case base == "data.pkl" && strings.Count(name, "/") == 1:
			pkl = f
		case strings.HasSuffix(dir, "/data/") && strings.Count(name, "/") == 2:
			in.Tensors++
			storageBytes = addSat(storageBytes, int64(min(f.UncompressedSize64, 1<<62)))
		case base == "version" && strings.Count(name, "/") == 1 && f.UncompressedSize64 < 64:
			if b, err := readMember(f, 64); err == nil {
				in.Version = strings.TrimSpace(string(b))
			}
		}
	}
	if pkl == nil {
		return in, fmt.Errorf("pytorch archive: no data.pkl")
	}
	if pkl.UncompressedSize64 > MaxPickle {
		return in, fmt.Errorf("pytorch archive: data.pkl of %d bytes (limit %d)", pkl.UncompressedSize64, MaxPickle)
	}
	b, err := readMember(pkl, MaxPickle)
	if err != nil {
		return in, fmt.Errorf("pytorch archive: read data.pkl: %w", err)
	}
	a, err := pickle.AnalyzeBytes(ctx, b, pickle.Options{})
	if err != nil {
		return in, fmt.Errorf("pytorch archive: data.pkl: %w", err)
	}
	dt := map[string]bool{}
	var elemSize int64
	for _, im := range a.Imports {
		if im.Module != "torch" {
			continue
		}
		if d, ok := storageDTypes[im.Name]; ok {
			dt[d.name] = true
			elemSize = d.size
		}
	}
	in.DTypes = keys(dt)
	if len(dt) == 1 && elemSize > 0 {
		in.Parameters = storageBytes / elemSize
	}
	return in, nil
}

func readMember(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("member larger than %d bytes", limit)
	}
	return b, nil
}

// ONNX field numbers (onnx/onnx.proto).
const (
	mIRVersion       = 1
	mProducerName    = 2
	mProducerVersion = 3
	mGraph           = 7
	mOpsetImport     = 8
	mMetadataProps   = 14
	gName            = 2
	gInitializer     = 5
	gInput           = 11
	gOutput          = 12
	tDims            = 1
	tDataType        = 2
	vName            = 1
	oDomain          = 1
	oVersion         = 2
	kvKey            = 1
	kvValue          = 2
)

// onnxTypes names TensorProto.DataType values.
var onnxTypes = map[uint64]string{
	1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
	9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
	15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
	20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1",
}

func readONNX(ctx context.Context, ra io.ReaderAt, size int64) (*Info, error) {
	r := protowalk.New(ctx, ra, size)
	in := &Info{Format: ONNX}
	dt := map[string]bool{}
	str := func(f protowalk.Field) string {
		s, _, err := r.String(f, 4096)
		if err != nil {
			return ""
		}
		return s
	}
	initializer := func(f protowalk.Field) error {
		var shape []uint64
		err := r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
			switch {
			case g.Num == tDims && g.Type == protowire.VarintType:
				shape = append(shape, g.Val)
			case g.Num == tDims && g.Type == protowire.BytesType:
				b, err := r.Bytes(g, 1<<16)
				if err != nil {
					return err
				}
				for len(b) > 0 {
					v, n := protowire.ConsumeVarint(b)
					if n < 0 {
						return fmt.Errorf("%w: packed dims", protowalk.ErrMalformed)
					}
					shape, b = append(shape, v), b[n:]
				}
			case g.Num == tDataType && g.Type == protowire.VarintType:
				n := onnxTypes[g.Val]
				if n == "" {
					n = "type" + strconv.FormatUint(g.Val, 10)
				}
				dt[n] = true
			}
			return nil
		})
		in.Tensors++
		in.Parameters = addSat(in.Parameters, elements(shape))
		return err
	}
	graph := func(f protowalk.Field) error {
		return r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
			if g.Type != protowire.BytesType {
				return nil
			}
			switch g.Num {
			case gName:
				in.Name = str(g)
			case gInitializer:
				return initializer(g)
			case gInput, gOutput:
				var name string
				if err := r.Walk(g.Off, g.End(), func(h protowalk.Field) error {
					if h.Num == vName && h.Type == protowire.BytesType {
						name = str(h)
					}
					return nil
				}); err != nil {
					return err
				}
				if g.Num == gInput && len(in.Inputs) < MaxNames {
					in.Inputs = append(in.Inputs, name)
				} else if g.Num == gOutput && len(in.Outputs) < MaxNames {
					in.Outputs = append(in.Outputs, name)
				}
			}
			return nil
		})
	}
	err := r.Walk(0, size, func(f protowalk.Field) error {
		switch {
		case f.Num == mIRVersion && f.Type == protowire.VarintType:
			in.IRVersion = f.Val
		case f.Type != protowire.BytesType:
		case f.Num == mProducerName:
			in.Producer = str(f)
		case f.Num == mProducerVersion:
			in.ProducerVersion = str(f)
		case f.Num == mGraph:
			return graph(f)
		case f.Num == mOpsetImport:
			var dom string
			var ver uint64
			if err := r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
				if g.Num == oDomain && g.Type == protowire.BytesType {
					dom = str(g)
				} else if g.Num == oVersion && g.Type == protowire.VarintType {
					ver = g.Val
				}
				return nil
			}); err != nil {
				return err
			}
			if dom == "" {
				dom = "ai.onnx"
			}
			in.Opsets = append(in.Opsets, dom+":"+strconv.FormatUint(ver, 10))
		case f.Num == mMetadataProps:
			var k, v string
			if err := r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
				if g.Num == kvKey && g.Type == protowire.BytesType {
					k = str(g)
				} else if g.Num == kvValue && g.Type == protowire.BytesType {
					v = str(g)
				}
				return nil
			}); err != nil {
				return err
			}
			if in.Metadata == nil {
				in.Metadata = map[string]string{}
			}
			if len(in.Metadata) < MaxNames {
				in.Metadata[k] = v
			}
		}
		return nil
	})
	sort.Strings(in.Opsets)
	in.DTypes = keys(dt)
	if err != nil {
		return in, fmt.Errorf("onnx: %w", err)
	}
	return in, nil
}

// elements multiplies a shape, saturating at MaxInt64.
func elements(shape []uint64) int64 {
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > 1<<63-1 {
			return 1<<63 - 1
		}
		n = lo
	}
	return int64(n)
}

func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Summary is a one-line description: "safetensors, 44 tensors, 27,106
// parameters, F32".
func (in *Info) Summary() string {
	parts := []string{in.Format}
	if in.Tensors > 0 {
		unit := "tensors"
		if in.Format == PyTorchZip {
			unit = "storages"
		}
		parts = append(parts, strconv.Itoa(in.Tensors)+" "+unit)
	}
	if in.Parameters > 0 {
		parts = append(parts, strconv.FormatInt(in.Parameters, 10)+" parameters")
	}
	if len(in.DTypes) > 0 {
		parts = append(parts, strings.Join(in.DTypes, "/"))
	}
	if in.Architecture != "" {
		parts = append(parts, "architecture "+in.Architecture)
	}
	if in.Quantization != "" {
		parts = append(parts, "quantization "+in.Quantization)
	}
	if len(in.Opsets) > 0 {
		parts = append(parts, "opsets "+strings.Join(in.Opsets, ","))
	}
	return strings.Join(parts, ", ")
}

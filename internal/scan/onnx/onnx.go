// Package onnx scans ONNX models (onnx/onnx.proto, ModelProto) decoded
// field by field with protowalk: tensor bytes are skipped, never copied.
// It reports external-data locations that leave the model's directory (the
// path-traversal family of CVE-2022-25882, CVE-2024-27318 and
// CVE-2024-5187), operators from custom domains (they need a native library
// registered with the runtime) and model-local functions. Subgraphs of
// control-flow operators (If, Loop, Scan) are walked recursively.
package onnx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
)

// Rules reported by this package.
var (
	RuleExternalDataPath = finding.MustRegister(finding.Rule{
		ID: "MLS-ONNX-001", Name: "ONNXExternalDataOutsideModel",
		Title:    "ONNX external data location leaves the model directory",
		Severity: finding.High,
		Summary: "A tensor stores its data in an external file whose location is absolute, climbs out of the " +
			"model directory, names a URL or device, or is a symbolic link. Loading the model reads that file " +
			"(arbitrary file read; combined with saving, arbitrary file write).",
		Doc: "ONNX external data (`TensorProto.external_data`, key `location`) must be a relative path inside " +
			"the directory that holds the model. onnx and onnxruntime versions before the fixes for " +
			"CVE-2022-25882, CVE-2024-27318 and CVE-2024-5187 follow `..`, absolute paths and symlinks.",
		Remediation: "Do not load the model. Obtain it from a trusted source, or rewrite the external data " +
			"locations to relative paths inside the model directory after checking the referenced files.",
		References: []finding.Reference{finding.CWE(22), finding.CWE(59), finding.CVE("CVE-2022-25882"),
			finding.CVE("CVE-2024-27318"), finding.CVE("CVE-2024-5187"), finding.ATLAS("AML.T0010.003"),
			finding.OWASPML("ML06")},
	})
	RuleCustomDomain = finding.MustRegister(finding.Rule{
		ID: "MLS-ONNX-002", Name: "ONNXCustomOperatorDomain",
		Title:    "ONNX model uses operators from a custom domain",
		Severity: finding.Medium,
		Summary: "Operators outside the standard ONNX domains and ONNX Runtime's contrib domain only run when " +
			"the runtime registers a custom-operator library: native code that ships with or is demanded by the model.",
		Remediation: "Check where the custom-operator library comes from before registering it; prefer models " +
			"that use only standard operators.",
		References: []finding.Reference{finding.CWE(829), finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06")},
	})
	RuleLocalFunctions = finding.MustRegister(finding.Rule{
		ID: "MLS-ONNX-003", Name: "ONNXModelLocalFunctions",
		Title:    "ONNX model defines local functions",
		Severity: finding.Info,
		Summary: "The model embeds FunctionProto definitions that its graph can call. They are ONNX graphs, not " +
			"native code; listed so reviewers know operator names may resolve to model-defined bodies.",
		Remediation: "No action needed unless the function names shadow operators you rely on.",
		References:  []finding.Reference{finding.OWASPML("ML06")},
	})
)

// Field numbers from onnx/onnx.proto.
const (
	modelIRVersion    = 1
	modelProducerName = 2
	modelGraph        = 7
	modelOpsetImport  = 8
	modelTrainingInfo = 20
	modelFunctions    = 25

	graphNode              = 1
	graphInitializer       = 5
	graphSparseInitializer = 15

	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName          = 1
	attrT             = 5
	attrG             = 6
	attrTensors       = 10
	attrGraphs        = 11
	attrSparseTensor  = 22
	attrSparseTensors = 23

	tensorName         = 8
	tensorExternalData = 13

	sparseValues  = 1
	sparseIndices = 2

	entryKey   = 1
	entryValue = 2

	opsetDomain = 1

	trainingInit      = 1
	trainingAlgorithm = 2

	funcName   = 1
	funcNode   = 7
	funcDomain = 10
)

const (
	maxDepth    = 32
	maxName     = 4096
	maxFindings = 50
	// Plausible IR versions: 3 is ONNX 1.0 (2017); leave room for growth.
	minIR, maxIR = 3, 64
)

// knownDomains need no extra native library in the reference runtimes.
func knownDomain(d string) bool {
	switch d {
	case "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "ai.onnx.preview":
		return true
	}
	// ONNX Runtime's built-in contrib operators.
	return d == "com.microsoft" || strings.HasPrefix(d, "com.microsoft.")
}

// Scanner is the ONNX format scanner.
type Scanner struct{}

// New returns the ONNX scanner.
func New() *Scanner { return &Scanner{} }

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "onnx" }

var (
	schemaOpset = &protowalk.Schema{Name: "OperatorSetIdProto", Open: true, Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Text}, 2: {Kind: protowalk.Varint}}}
	schemaEntry = &protowalk.Schema{Name: "StringStringEntryProto", Open: true, Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Bytes}, 2: {Kind: protowalk.Bytes}}}
	schemaNode = &protowalk.Schema{Name: "NodeProto", Open: true, Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Bytes}, 2: {Kind: protowalk.Bytes}, 3: {Kind: protowalk.Bytes},
		4: {Kind: protowalk.Text}, 5: {Kind: protowalk.Bytes}, 6: {Kind: protowalk.Bytes}, 7: {Kind: protowalk.Text}}}
	schemaGraph = &protowalk.Schema{Name: "GraphProto", Open: true, Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Message, Msg: schemaNode}, 2: {Kind: protowalk.Bytes}, 5: {Kind: protowalk.Bytes},
		10: {Kind: protowalk.Bytes}, 11: {Kind: protowalk.Bytes}, 12: {Kind: protowalk.Bytes},
		13: {Kind: protowalk.Bytes}, 14: {Kind: protowalk.Bytes}, 15: {Kind: protowalk.Bytes}, 16: {Kind: protowalk.Bytes}}}
	// schemaModel is closed: every ModelProto field to date, so that other
	// protobuf content (e.g. TensorFlow) is not mistaken for ONNX.
	schemaModel = &protowalk.Schema{Name: "ModelProto", Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Varint}, 2: {Kind: protowalk.Text}, 3: {Kind: protowalk.Text}, 4: {Kind: protowalk.Text},
		5: {Kind: protowalk.Varint}, 6: {Kind: protowalk.Bytes}, 7: {Kind: protowalk.Message, Msg: schemaGraph},
		8: {Kind: protowalk.Message, Msg: schemaOpset}, 14: {Kind: protowalk.Message, Msg: schemaEntry},
		20: {Kind: protowalk.Bytes}, 25: {Kind: protowalk.Bytes}, 26: {Kind: protowalk.Bytes}}}
)

// Match implements scan.Scanner: a strict trial decode of the head as a
// ModelProto whose first field is a plausible ir_version.
// A .onnx file whose head starts like a model but does not decode is
// matched too, so that the scan reports why it is inconclusive.
func (*Scanner) Match(f scan.FileInfo) bool {
	if Detect(f.Head, f.Size) {
		return true
	}
	if f.Ext() != ".onnx" || len(f.Head) < 2 || f.Head[0] != 0x08 {
		return false
	}
	ir, n := protowire.ConsumeVarint(f.Head[1:])
	return n > 0 && ir >= minIR && ir <= maxIR
}

// Detect reports whether head (the first bytes of content of the given size,
// -1 if unknown) decodes as an ONNX ModelProto.
func Detect(head []byte, size int64) bool {
	if len(head) < 4 || head[0] != 0x08 { // field 1 (ir_version), varint
		return false
	}
	ir, n := protowire.ConsumeVarint(head[1:])
	if n < 0 || ir < minIR || ir > maxIR {
		return false
	}
	r := protowalk.NewPrefix(head, size)
	c, err := r.Validate(0, r.Size(), schemaModel, 2)
	if err != nil {
		return false
	}
	if c.Seen[modelIRVersion] != 1 {
		return false
	}
	if c.Seen[modelGraph] > 0 || c.Seen[modelOpsetImport] > 0 {
		return true
	}
	// A truncated head: require some structure before trusting it.
	return c.Truncated && c.Fields >= 3
}

// Model is what a scan learned about a model.
type Model struct {
	IRVersion    uint64
	Producer     string
	OpsetDomains []string
	// External lists every external-data reference.
	External []ExternalRef
	// Ops counts operator uses by domain ("" is the default domain).
	Ops map[string]map[string]int
	// Functions lists model-local functions as "domain:name".
	Functions []string
}

// ExternalRef is one tensor whose data lives in another file.
type ExternalRef struct {
	Tensor   string
	Location string
	// Offset is where the TensorProto's external_data entry sits.
	Offset int64
}

type walker struct {
	r *protowalk.Reader
	m *Model
}

// Decode walks a whole model. It returns what it learned even with an error.
func Decode(r *protowalk.Reader) (*Model, error) {
	w := &walker{r: r, m: &Model{Ops: map[string]map[string]int{}}}
	seenIR := false
	err := r.Walk(0, r.Size(), func(f protowalk.Field) error {
		switch {
		case f.Num == modelIRVersion && f.Type == protowire.VarintType:
			w.m.IRVersion, seenIR = f.Val, true
		case f.Num == modelProducerName && f.Type == protowire.BytesType:
			s, _, err := r.String(f, maxName)
			if err != nil {
				return err
			}
			w.m.Producer = s
		case f.Num == modelOpsetImport && f.Type == protowire.BytesType:
			return r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
				if g.Num == opsetDomain && g.Type == protowire.BytesType {
					s, _, err := r.String(g, maxName)
					if err != nil {
						return err
					}
					w.m.OpsetDomains = append(w.m.OpsetDomains, s)
				}
				return nil
			})
		case f.Num == modelGraph && f.Type == protowire.BytesType:
			return w.graph(f, 0)
		case f.Num == modelTrainingInfo && f.Type == protowire.BytesType:
			return r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
				if (g.Num == trainingInit || g.Num == trainingAlgorithm) && g.Type == protowire.BytesType {
					return w.graph(g, 0)
				}
				return nil
			})
		case f.Num == modelFunctions && f.Type == protowire.BytesType:
			return w.function(f)
		}
		return nil
	})
	if err == nil && !seenIR {
		err = fmt.Errorf("%w: no ir_version", protowalk.ErrMalformed)
	}
	return w.m, err
}

func (w *walker) graph(f protowalk.Field, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: subgraphs nested deeper than %d", scan.ErrLimit, maxDepth)
	}
	return w.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Type != protowire.BytesType {
			return nil
		}
		switch g.Num {
		case graphNode:
			return w.node(g, depth)
		case graphInitializer:
			return w.tensor(g)
		case graphSparseInitializer:
			return w.sparse(g)
		}
		return nil
	})
}

func (w *walker) node(f protowalk.Field, depth int) error {
	var op, domain string
	err := w.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Type != protowire.BytesType {
			return nil
		}
		switch g.Num {
		case nodeOpType, nodeDomain:
			s, _, err := w.r.String(g, maxName)
			if err != nil {
				return err
			}
			if g.Num == nodeOpType {
				op = s
			} else {
				domain = s
			}
		case nodeAttribute:
			return w.attribute(g, depth)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if w.m.Ops[domain] == nil {
		w.m.Ops[domain] = map[string]int{}
	}
	if len(w.m.Ops[domain]) < 10000 {
		w.m.Ops[domain][op]++
	}
	return nil
}

func (w *walker) attribute(f protowalk.Field, depth int) error {
	return w.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Type != protowire.BytesType {
			return nil
		}
		switch g.Num {
		case attrT, attrTensors:
			return w.tensor(g)
		case attrG, attrGraphs:
			return w.graph(g, depth+1)
		case attrSparseTensor, attrSparseTensors:
			return w.sparse(g)
		}
		return nil
	})
}

func (w *walker) sparse(f protowalk.Field) error {
	return w.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if (g.Num == sparseValues || g.Num == sparseIndices) && g.Type == protowire.BytesType {
			return w.tensor(g)
		}
		return nil
	})
}

func (w *walker) tensor(f protowalk.Field) error {
	var name string
	var locs []ExternalRef
	err := w.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Type != protowire.BytesType {
			return nil
		}
		switch g.Num {
		case tensorName:
			s, _, err := w.r.String(g, maxName)
			if err != nil {
				return err
			}
			name = s
		case tensorExternalData:
			var key, val string
			err := w.r.Walk(g.Off, g.End(), func(e protowalk.Field) error {
				if e.Type != protowire.BytesType {
					return nil
				}
				switch e.Num {
				case entryKey:
					s, _, err := w.r.String(e, maxName)
					key = s
					return err
				case entryValue:
					s, _, err := w.r.String(e, maxName)
					val = s
					return err
				}
				return nil
			})
			if err != nil {
				return err
			}
			if key == "location" {
				locs = append(locs, ExternalRef{Location: val, Offset: g.Start})
			}
		}
		return nil
	})
	for _, l := range locs {
		l.Tensor = name
		w.m.External = append(w.m.External, l)
	}
	return err
}

func (w *walker) function(f protowalk.Field) error {
	var name, domain string
	err := w.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Type != protowire.BytesType {
			return nil
		}
		switch g.Num {
		case funcName, funcDomain:
			s, _, err := w.r.String(g, maxName)
			if err != nil {
				return err
			}
			if g.Num == funcName {
				name = s
			} else {
				domain = s
			}
		case funcNode:
			return w.node(g, 0)
		}
		return nil
	})
	w.m.Functions = append(w.m.Functions, domain+":"+name)
	return err
}

// UnsafeLocation explains why an external-data location is unsafe, or
// returns "" for a plain relative path inside the model directory.
func UnsafeLocation(loc string) string {
	switch {
	case loc == "":
		return "empty location"
	case strings.ContainsRune(loc, 0):
		return "location contains a NUL byte"
	case strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`):
		return "absolute path"
	case len(loc) >= 2 && loc[1] == ':' && (loc[0]|0x20 >= 'a' && loc[0]|0x20 <= 'z'):
		return "Windows drive path"
	case strings.HasPrefix(loc, "~"):
		return "home-directory path"
	case strings.Contains(loc, "://") || strings.HasPrefix(strings.ToLower(loc), "file:"):
		return "URL"
	}
	for _, seg := range strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return "path climbs out of the model directory"
		}
	}
	return ""
}

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	if in.Size < 0 {
		return res, errors.New("onnx: size unknown")
	}
	m, err := Decode(protowalk.New(ctx, in.R, in.Size))
	s.report(in, m, &res)
	if err != nil {
		return res, fmt.Errorf("onnx: %w", err)
	}
	return res, nil
}

func (s *Scanner) report(in *scan.Input, m *Model, res *scan.Result) {
	n := 0
	for _, e := range m.External {
		why := UnsafeLocation(e.Location)
		if why == "" && in.Member == "" && in.Artifact.Path != "" {
			// A relative location that is a symlink beside the model
			// escapes the directory just the same.
			p := filepath.Join(filepath.Dir(in.Artifact.Path), filepath.FromSlash(e.Location))
			if st, err := os.Lstat(p); err == nil && st.Mode()&os.ModeSymlink != 0 {
				why = "location is a symbolic link"
			}
		}
		if why == "" {
			continue
		}
		n++
		if n > maxFindings {
			res.Gap("more than %d unsafe external-data locations; the rest are not listed", maxFindings)
			break
		}
		f := in.NewFinding(RuleExternalDataPath)
		f.Location = f.Location.At(e.Offset)
		f.Evidence = finding.Evidence{
			Text:   fmt.Sprintf("tensor %q external data location %q: %s", e.Tensor, e.Location, why),
			Fields: map[string]any{"tensor": e.Tensor, "location": e.Location, "reason": why},
		}
		res.Add(f)
	}
	local := map[string]bool{}
	for _, fn := range m.Functions {
		local[fn] = true
	}
	domains := map[string]bool{}
	for _, d := range m.OpsetDomains {
		domains[d] = true
	}
	for d := range m.Ops {
		domains[d] = true
	}
	var custom []string
	for d := range domains {
		if !knownDomain(d) {
			custom = append(custom, d)
		}
	}
	sort.Strings(custom)
	for _, d := range custom {
		var ops []string
		for op := range m.Ops[d] {
			if !local[d+":"+op] {
				ops = append(ops, op)
			}
		}
		if len(ops) == 0 && m.Ops[d] != nil {
			continue // every use resolves to a model-local function
		}
		if len(ops) == 0 && functionDomain(m, d) {
			continue // the opset import only declares local functions' domain
		}
		sort.Strings(ops)
		f := in.NewFinding(RuleCustomDomain)
		text := fmt.Sprintf("operator domain %q", d)
		if len(ops) > 0 {
			text += " used by " + strings.Join(firstN(ops, 20), ", ")
		}
		f.Evidence = finding.Evidence{Text: text, Fields: map[string]any{"domain": d, "operators": ops}}
		res.Add(f)
	}
	if len(m.Functions) > 0 {
		f := in.NewFinding(RuleLocalFunctions)
		fns := append([]string(nil), m.Functions...)
		sort.Strings(fns)
		f.Evidence = finding.Evidence{
			Text:   fmt.Sprintf("%d local function(s): %s", len(fns), strings.Join(firstN(fns, 20), ", ")),
			Fields: map[string]any{"functions": fns},
		}
		res.Add(f)
	}
}

func functionDomain(m *Model, d string) bool {
	for _, fn := range m.Functions {
		if strings.HasPrefix(fn, d+":") {
			return true
		}
	}
	return false
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… %d more", len(s)-n))
	}
	return s
}

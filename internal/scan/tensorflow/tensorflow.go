// Package tensorflow scans TensorFlow SavedModel (saved_model.pb:
// tensorflow/core/protobuf/saved_model.proto) and frozen GraphDef (.pb:
// tensorflow/core/framework/graph.proto) files, decoded field by field with
// protowalk. Every NodeDef of every meta graph and of every FunctionDef in
// the function library is checked for operations that run Python, read or
// write files or open network connections when the graph runs. Constant
// inputs (file paths) are resolved through Const, Identity,
// PlaceholderWithDefault and StringJoin nodes for evidence.
//
// Checkpoint operations (SaveV2, RestoreV2, MergeV2Checkpoints …) are part
// of every SavedModel's saver graph, where the loader feeds them the
// variables path; they are reported only when a constant path points
// outside the model directory. The files under a SavedModel's variables/
// directory are tensor data, not graphs, and are not matched here.
package tensorflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
)

// Rules reported by this package.
var (
	RulePyFunc = finding.MustRegister(finding.Rule{
		ID: "MLS-TF-001", Name: "TensorFlowPythonCallbackOp",
		Title:    "TensorFlow graph calls back into Python (PyFunc)",
		Severity: finding.Critical,
		Summary: "PyFunc, PyFuncStateless and EagerPyFunc run a Python function registered in the loading " +
			"process under the op's token. A model carrying them runs host Python code when the graph " +
			"executes; with a crafted registry or loader it is arbitrary code execution.",
		Remediation: "Do not load the model. Re-export it without tf.py_function / tf.numpy_function, or rebuild " +
			"the graph from trusted code.",
		References: []finding.Reference{finding.CWE(94), finding.CWE(502), finding.ATLAS("AML.T0010.003"),
			finding.ATLAS("AML.T0011.000"), finding.ATLAS("AML.T0018.002"), finding.OWASPML("ML06")},
	})
	RuleFileWrite = finding.MustRegister(finding.Rule{
		ID: "MLS-TF-002", Name: "TensorFlowFileWriteOp",
		Title:    "TensorFlow graph writes files",
		Severity: finding.High,
		Summary: "The graph contains an operation that writes to the file system (WriteFile, PrintV2 to a file, " +
			"dataset export, summary writers, or a checkpoint save to a path outside the model). Running " +
			"the model can plant or overwrite files.",
		Remediation: "Do not serve the model. Inference graphs have no reason to write files; re-export it " +
			"from trusted code.",
		References: []finding.Reference{finding.CWE(73), finding.CWE(94), finding.ATLAS("AML.T0010.003"),
			finding.ATLAS("AML.T0018.002"), finding.OWASPML("ML06")},
	})
	RuleFileRead = finding.MustRegister(finding.Rule{
		ID: "MLS-TF-003", Name: "TensorFlowFileReadOp",
		Title:    "TensorFlow graph reads files",
		Severity: finding.Medium,
		Summary: "The graph contains an operation that reads or lists files (ReadFile, MatchingFiles, file " +
			"datasets and readers, memory-mapped constants). Raised to high when the path is a constant " +
			"outside the model directory (absolute, '..', URL): the model can exfiltrate host files through its outputs.",
		Remediation: "Check which files the operation reads; prefer graphs that take data only through their inputs.",
		References: []finding.Reference{finding.CWE(73), finding.CWE(200), finding.ATLAS("AML.T0010.003"),
			finding.ATLAS("AML.T0018.002"), finding.OWASPML("ML06")},
	})
	RuleNetwork = finding.MustRegister(finding.Rule{
		ID: "MLS-TF-004", Name: "TensorFlowNetworkOp",
		Title:    "TensorFlow graph opens network connections",
		Severity: finding.High,
		Summary: "The graph contains RPC operations (RpcClient, RpcCall, RpcServer …) that connect to or serve " +
			"remote endpoints when the model runs.",
		Remediation: "Do not serve the model; inference graphs should not talk to the network.",
		References:  []finding.Reference{finding.CWE(918), finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06")},
	})
	RuleDebugSink = finding.MustRegister(finding.Rule{
		ID: "MLS-TF-005", Name: "TensorFlowDebugSinkOp",
		Title:       "TensorFlow debug op sends tensors to a file or remote URL",
		Severity:    finding.Medium,
		Summary:     "tfdbg operations with file:// or grpc:// debug URLs copy intermediate tensors out of the process.",
		Remediation: "Strip debug operations before deploying the model.",
		References:  []finding.Reference{finding.CWE(200), finding.OWASPML("ML06")},
	})
)

type opClass int

const (
	opPython opClass = iota + 1
	opWrite
	opRead
	opCheckpointWrite
	opCheckpointRead
	opTableInit
	opNetwork
	opDebug
	opMemmapped
	opPrint
)

// op describes a flagged operation: its class and which input carries the
// path (-1: none).
type op struct {
	class opClass
	path  int
}

var ops = map[string]op{
	"PyFunc": {opPython, -1}, "PyFuncStateless": {opPython, -1}, "EagerPyFunc": {opPython, -1},

	"WriteFile": {opWrite, 0}, "DatasetToTFRecord": {opWrite, 1}, "ExperimentalDatasetToTFRecord": {opWrite, 1},
	"SaveDataset": {opWrite, 1}, "SaveDatasetV2": {opWrite, 1}, "CreateSummaryFileWriter": {opWrite, 1},
	"CreateSummaryDbWriter": {opWrite, 1}, "FileSystemSetConfiguration": {opWrite, -1},
	"PrintV2": {opPrint, -1},

	"ReadFile": {opRead, 0}, "MatchingFiles": {opRead, 0}, "TextLineDataset": {opRead, 0},
	"TFRecordDataset": {opRead, 0}, "TFRecordDatasetV2": {opRead, 0}, "FixedLengthRecordDataset": {opRead, 0},
	"FixedLengthRecordDatasetV2": {opRead, 0}, "CSVDataset": {opRead, 0}, "CSVDatasetV2": {opRead, 0},
	"ExperimentalCSVDataset": {opRead, 0}, "LMDBDataset": {opRead, 0}, "ExperimentalLMDBDataset": {opRead, 0},
	"SqlDataset": {opRead, 1}, "ExperimentalSqlDataset": {opRead, 1}, "LoadDataset": {opRead, 0},
	"WholeFileReader": {opRead, -1}, "WholeFileReaderV2": {opRead, -1}, "TextLineReader": {opRead, -1},
	"TextLineReaderV2": {opRead, -1}, "TFRecordReader": {opRead, -1}, "TFRecordReaderV2": {opRead, -1},
	"FixedLengthRecordReader": {opRead, -1}, "FixedLengthRecordReaderV2": {opRead, -1}, "LMDBReader": {opRead, -1},
	"ImmutableConst": {opMemmapped, -1},

	"Save": {opCheckpointWrite, 0}, "SaveV2": {opCheckpointWrite, 0}, "SaveSlices": {opCheckpointWrite, 0},
	"MergeV2Checkpoints": {opCheckpointWrite, 1}, "Restore": {opCheckpointRead, 0},
	"RestoreV2": {opCheckpointRead, 0}, "RestoreSlice": {opCheckpointRead, 0},
	"LoadAndRemapMatrix":          {opCheckpointRead, 0},
	"InitializeTableFromTextFile": {opTableInit, 1}, "InitializeTableFromTextFileV2": {opTableInit, 1},

	"Rpc": {opNetwork, 0}, "TryRpc": {opNetwork, 0}, "RpcClient": {opNetwork, 0}, "RpcCall": {opNetwork, -1},
	"RpcServer": {opNetwork, 0}, "RpcServerStart": {opNetwork, -1}, "RpcServerRegister": {opNetwork, -1},
	"RpcCheckStatus": {opNetwork, -1}, "RpcGetValue": {opNetwork, -1}, "DeleteRpcFutureResource": {opNetwork, -1},

	"DebugIdentity": {opDebug, -1}, "DebugIdentityV2": {opDebug, -1}, "DebugIdentityV3": {opDebug, -1},
	"DebugNanCount": {opDebug, -1}, "DebugNumericSummary": {opDebug, -1}, "DebugNumericSummaryV2": {opDebug, -1},
}

// passthrough ops forward their first input unchanged (path resolution).
var passthrough = map[string]bool{
	"Identity": true, "PlaceholderWithDefault": true, "StopGradient": true, "Snapshot": true,
}

// Field numbers from the TensorFlow protos.
const (
	smSchemaVersion = 1 // SavedModel
	smMetaGraphs    = 2
	mgMetaInfo      = 1 // MetaGraphDef
	mgGraphDef      = 2
	mgAssetFileDef  = 6
	afFilename      = 2 // AssetFileDef
	miTags          = 4 // MetaInfoDef
	gdNode          = 1 // GraphDef
	gdLibrary       = 2
	libFunction     = 1 // FunctionDefLibrary
	fnSignature     = 1 // FunctionDef
	fnNodeDef       = 3
	opdefName       = 1 // OpDef
	ndName          = 1 // NodeDef
	ndOp            = 2
	ndInput         = 3
	ndAttr          = 5
	mapKey          = 1
	mapValue        = 2
	avList          = 1 // AttrValue
	avS             = 2
	avTensor        = 8
	lvS             = 2 // AttrValue.ListValue
	tpDtype         = 1 // TensorProto
	tpStringVal     = 8
	dtString        = 7
)

const (
	maxName     = 4096
	maxStr      = 4096
	maxInputs   = 16
	maxFindings = 200
)

var (
	schemaNode = &protowalk.Schema{Name: "NodeDef", Open: true, Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Text}, 2: {Kind: protowalk.Text}, 3: {Kind: protowalk.Text}, 4: {Kind: protowalk.Text},
		5: {Kind: protowalk.Bytes}, 6: {Kind: protowalk.Bytes}, 7: {Kind: protowalk.Bytes}}}
	schemaGraph = &protowalk.Schema{Name: "GraphDef", Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Message, Msg: schemaNode}, 2: {Kind: protowalk.Bytes}, 3: {Kind: protowalk.Varint},
		4: {Kind: protowalk.Bytes}, 5: {Kind: protowalk.Bytes}}}
	schemaMetaInfo = &protowalk.Schema{Name: "MetaInfoDef", Open: true, Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Text}, 2: {Kind: protowalk.Bytes}, 3: {Kind: protowalk.Bytes}, 4: {Kind: protowalk.Text},
		5: {Kind: protowalk.Text}, 6: {Kind: protowalk.Text}, 7: {Kind: protowalk.Varint}, 8: {Kind: protowalk.Bytes}}}
	schemaMetaGraph = &protowalk.Schema{Name: "MetaGraphDef", Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Message, Msg: schemaMetaInfo}, 2: {Kind: protowalk.Message, Msg: schemaGraph},
		3: {Kind: protowalk.Bytes}, 4: {Kind: protowalk.Bytes}, 5: {Kind: protowalk.Bytes},
		6: {Kind: protowalk.Bytes}, 7: {Kind: protowalk.Bytes}}}
	schemaSavedModel = &protowalk.Schema{Name: "SavedModel", Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Varint}, 2: {Kind: protowalk.Message, Msg: schemaMetaGraph}}}
)

// Kind is the detected file kind.
type Kind int

// Detected kinds.
const (
	Unknown Kind = iota
	SavedModel
	GraphDef
)

// Detect classifies the first bytes of content of the given size (-1 if
// unknown) by a strict trial decode.
func Detect(head []byte, size int64) Kind {
	if len(head) < 4 {
		return Unknown
	}
	if head[0] == 0x08 && head[1] == 0x01 && head[2] == 0x12 { // schema version 1, then meta_graphs
		r := protowalk.NewPrefix(head, size)
		c, err := r.Validate(0, r.Size(), schemaSavedModel, 4)
		if err == nil && c.Seen[smSchemaVersion] == 1 && c.Seen[smMetaGraphs] >= 1 && (c.Fields >= 4 || !c.Truncated) {
			return SavedModel
		}
		return Unknown
	}
	if head[0] == 0x0a { // node
		r := protowalk.NewPrefix(head, size)
		c, err := r.Validate(0, r.Size(), schemaGraph, 2)
		if err != nil || c.Seen[gdNode] == 0 || c.Fields < 3 {
			return Unknown
		}
		if firstNodeHasOp(r) {
			return GraphDef
		}
	}
	return Unknown
}

// firstNodeHasOp requires the first NodeDef to carry a plausible op name.
func firstNodeHasOp(r *protowalk.Reader) bool {
	found := false
	stop := errors.New("stop")
	_ = r.Walk(0, r.Size(), func(f protowalk.Field) error {
		if f.Num != gdNode || f.Type != protowire.BytesType {
			return stop
		}
		_ = r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
			if g.Num == ndOp && g.Type == protowire.BytesType {
				b, err := r.Bytes(g, 256)
				found = err == nil && validOpName(string(b))
				return stop
			}
			return nil
		})
		return stop
	})
	return found
}

func validOpName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || (i > 0 && (c >= '0' && c <= '9' || c == '>' || c == '.'))
		if !ok {
			return false
		}
	}
	return true
}

// Scanner scans one of the two kinds: SavedModel or GraphDef.
type Scanner struct{ kind Kind }

// NewSavedModel returns the "tf-savedmodel" scanner (saved_model.pb).
func NewSavedModel() *Scanner { return &Scanner{kind: SavedModel} }

// NewGraphDef returns the "tf-graphdef" scanner (frozen graph .pb).
func NewGraphDef() *Scanner { return &Scanner{kind: GraphDef} }

// Name implements scan.Scanner.
func (s *Scanner) Name() string {
	if s.kind == SavedModel {
		return "tf-savedmodel"
	}
	return "tf-graphdef"
}

// Match implements scan.Scanner. A .pb file that starts like this kind but
// does not decode is matched too, so the scan reports why it is
// inconclusive.
func (s *Scanner) Match(f scan.FileInfo) bool {
	if k := Detect(f.Head, f.Size); k != Unknown {
		return k == s.kind
	}
	if f.Ext() != ".pb" || len(f.Head) < 4 {
		return false
	}
	h := f.Head
	if s.kind == SavedModel {
		return h[0] == 0x08 && h[1] == 0x01 && h[2] == 0x12
	}
	return h[0] == 0x0a && h[2] == 0x0a
}

// Node is one decoded NodeDef, reduced to what the checks need.
type Node struct {
	Scope  string
	Name   string
	Op     string
	Inputs []string
	// Attrs holds string attributes ("token", "output_stream", …);
	// list(string) attributes are joined with ", ".
	Attrs map[string]string
	// Const is the first string of a DT_STRING Const's value.
	Const    string
	HasConst bool
	Offset   int64
}

// Graph is what a scan decoded.
type Graph struct {
	Kind Kind
	// Tags are the SavedModel meta graph tags.
	Tags []string
	// Flagged are the nodes whose op is in the table.
	Flagged []*Node
	// scopes map node names to resolvable nodes per graph or function.
	scopes map[string]map[string]*Node
	Nodes  int
}

type decoder struct {
	r *protowalk.Reader
	g *Graph
}

// Decode walks a SavedModel or GraphDef. It returns what it decoded even
// with an error.
func Decode(r *protowalk.Reader, kind Kind) (*Graph, error) {
	d := &decoder{r: r, g: &Graph{Kind: kind, scopes: map[string]map[string]*Node{}}}
	var err error
	switch kind {
	case SavedModel:
		err = d.savedModel()
	case GraphDef:
		err = d.graphDef(0, r.Size(), "graph")
	default:
		err = errors.New("not a SavedModel or GraphDef")
	}
	return d.g, err
}

func (d *decoder) str(f protowalk.Field, max int) (string, error) {
	s, _, err := d.r.String(f, max)
	return s, err
}

func (d *decoder) savedModel() error {
	mg := 0
	return d.r.Walk(0, d.r.Size(), func(f protowalk.Field) error {
		switch {
		case f.Num == smSchemaVersion && f.Type == protowire.VarintType:
		case f.Num == smMetaGraphs && f.Type == protowire.BytesType:
			mg++
			scope := fmt.Sprintf("meta_graph[%d]", mg-1)
			return d.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
				if g.Type != protowire.BytesType {
					return nil
				}
				switch g.Num {
				case mgMetaInfo:
					return d.r.Walk(g.Off, g.End(), func(h protowalk.Field) error {
						if h.Num == miTags && h.Type == protowire.BytesType && len(d.g.Tags) < 32 {
							s, err := d.str(h, 256)
							d.g.Tags = append(d.g.Tags, s)
							return err
						}
						return nil
					})
				case mgGraphDef:
					return d.graphDef(g.Off, g.End(), scope)
				case mgAssetFileDef:
					return d.asset(g, scope)
				}
				return nil
			})
		default:
			return fmt.Errorf("%w: unexpected SavedModel field %d", protowalk.ErrMalformed, f.Num)
		}
		return nil
	})
}

// asset records an AssetFileDef whose filename (joined to the assets
// directory by the loader) escapes it.
func (d *decoder) asset(f protowalk.Field, scope string) error {
	return d.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Num != afFilename || g.Type != protowire.BytesType {
			return nil
		}
		s, err := d.str(g, maxStr)
		if err == nil && unsafePath(s) != "" && len(d.g.Flagged) < 10*maxFindings {
			d.g.Flagged = append(d.g.Flagged, &Node{Scope: scope, Name: "asset_file_def", Op: assetOp,
				Const: s, HasConst: true, Offset: f.Start})
		}
		return err
	})
}

func (d *decoder) graphDef(start, end int64, scope string) error {
	return d.r.Walk(start, end, func(f protowalk.Field) error {
		if f.Type != protowire.BytesType {
			return nil
		}
		switch f.Num {
		case gdNode:
			return d.node(f, scope)
		case gdLibrary:
			return d.library(f, scope)
		}
		return nil
	})
}

func (d *decoder) library(f protowalk.Field, scope string) error {
	return d.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Num != libFunction || g.Type != protowire.BytesType {
			return nil
		}
		name := ""
		// The signature comes first in serialised FunctionDefs, but do not
		// rely on it: collect nodes, then name their scope.
		var nodes []protowalk.Field
		err := d.r.Walk(g.Off, g.End(), func(h protowalk.Field) error {
			if h.Type != protowire.BytesType {
				return nil
			}
			switch h.Num {
			case fnSignature:
				return d.r.Walk(h.Off, h.End(), func(k protowalk.Field) error {
					if k.Num == opdefName && k.Type == protowire.BytesType {
						s, err := d.str(k, maxName)
						name = s
						return err
					}
					return nil
				})
			case fnNodeDef:
				nodes = append(nodes, h)
			}
			return nil
		})
		if err != nil {
			return err
		}
		fscope := scope + "!function " + name
		for _, n := range nodes {
			if err := d.node(n, fscope); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *decoder) node(f protowalk.Field, scope string) error {
	n := &Node{Scope: scope, Offset: f.Start}
	var attrs []protowalk.Field
	err := d.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		if g.Type != protowire.BytesType {
			return nil
		}
		var err error
		switch g.Num {
		case ndName:
			n.Name, err = d.str(g, maxName)
		case ndOp:
			n.Op, err = d.str(g, maxName)
		case ndInput:
			if len(n.Inputs) < maxInputs {
				var s string
				s, err = d.str(g, maxName)
				n.Inputs = append(n.Inputs, s)
			}
		case ndAttr:
			attrs = append(attrs, g)
		}
		return err
	})
	if err != nil {
		return err
	}
	_, flagged := ops[n.Op]
	resolvable := n.Op == "Const" || passthrough[n.Op] || n.Op == "StringJoin"
	if (flagged || resolvable) && len(attrs) > 0 && len(attrs) < 256 {
		if err := d.attrs(n, attrs); err != nil {
			return err
		}
	}
	d.g.add(n)
	return nil
}

func (d *decoder) attrs(n *Node, attrs []protowalk.Field) error {
	n.Attrs = map[string]string{}
	for _, a := range attrs {
		var key string
		var val protowalk.Field
		hasVal := false
		err := d.r.Walk(a.Off, a.End(), func(g protowalk.Field) error {
			if g.Type != protowire.BytesType {
				return nil
			}
			switch g.Num {
			case mapKey:
				s, err := d.str(g, maxName)
				key = s
				return err
			case mapValue:
				val, hasVal = g, true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !hasVal {
			continue
		}
		err = d.r.Walk(val.Off, val.End(), func(g protowalk.Field) error {
			if g.Type != protowire.BytesType {
				return nil
			}
			switch g.Num {
			case avS:
				s, err := d.str(g, maxStr)
				n.Attrs[key] = s
				return err
			case avList:
				var parts []string
				err := d.r.Walk(g.Off, g.End(), func(h protowalk.Field) error {
					if h.Num == lvS && h.Type == protowire.BytesType && len(parts) < 16 {
						s, err := d.str(h, maxStr)
						parts = append(parts, s)
						return err
					}
					return nil
				})
				if len(parts) > 0 {
					n.Attrs[key] = strings.Join(parts, ", ")
				}
				return err
			case avTensor:
				if key == "value" && n.Op == "Const" {
					return d.constString(n, g)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) constString(n *Node, f protowalk.Field) error {
	isString := false
	var first *protowalk.Field
	err := d.r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
		switch {
		case g.Num == tpDtype && g.Type == protowire.VarintType:
			isString = g.Val == dtString
		case g.Num == tpStringVal && g.Type == protowire.BytesType && first == nil:
			gg := g
			first = &gg
		}
		return nil
	})
	if err != nil || !isString || first == nil {
		return err
	}
	s, err := d.str(*first, maxStr)
	n.Const, n.HasConst = s, err == nil
	return err
}

// resolve follows an input reference to a constant string.
func (g *Graph) resolve(scope, ref string, depth int) (string, bool) {
	if depth > 8 || strings.HasPrefix(ref, "^") {
		return "", false
	}
	name := ref
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	n := g.scopes[scope][name]
	if n == nil {
		return "", false
	}
	switch {
	case n.Op == "Const":
		return n.Const, n.HasConst
	case passthrough[n.Op] && len(n.Inputs) > 0:
		return g.resolve(scope, n.Inputs[0], depth+1)
	case n.Op == "StringJoin":
		var parts []string
		for _, in := range n.Inputs {
			if strings.HasPrefix(in, "^") {
				continue
			}
			s, ok := g.resolve(scope, in, depth+1)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, n.Attrs["separator"]), true
	}
	return "", false
}

// unsafePath explains why a constant path leaves the model directory, or
// returns "".
func unsafePath(p string) string {
	lp := strings.ToLower(p)
	switch {
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return "absolute path"
	case len(p) >= 2 && p[1] == ':' && (lp[0] >= 'a' && lp[0] <= 'z'):
		return "Windows drive path"
	case strings.HasPrefix(p, "~"):
		return "home-directory path"
	case strings.Contains(p, "://"):
		return "URL"
	}
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
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
		return res, fmt.Errorf("%s: size unknown", s.Name())
	}
	g, err := Decode(protowalk.New(ctx, in.R, in.Size), s.kind)
	report(in, g, &res)
	if err != nil {
		return res, fmt.Errorf("%s: %w", s.Name(), err)
	}
	return res, nil
}

func report(in *scan.Input, g *Graph, res *scan.Result) {
	sort.SliceStable(g.Flagged, func(i, j int) bool { return g.Flagged[i].Offset < g.Flagged[j].Offset })
	count := 0
	for _, n := range g.Flagged {
		f, ok := classify(g, n)
		if !ok {
			continue
		}
		count++
		if count > maxFindings {
			res.Gap("more than %d flagged operations; the rest are not listed", maxFindings)
			return
		}
		fd := in.NewFinding(f.rule)
		fd.Severity = f.sev
		fd.Location = fd.Location.At(n.Offset)
		fd.Location.Pointer = n.Scope + "/" + n.Name
		fields := map[string]any{"node": n.Name, "op": n.Op, "scope": n.Scope}
		text := fmt.Sprintf("%s: node %q op %s", n.Scope, n.Name, n.Op)
		if f.path != "" {
			fields["path"] = f.path
			text += fmt.Sprintf(" path %q", f.path)
		}
		if f.detail != "" {
			text += " (" + f.detail + ")"
			fields["detail"] = f.detail
		}
		if len(g.Tags) > 0 {
			fields["tags"] = g.Tags
		}
		fd.Evidence = finding.Evidence{Text: text, Fields: fields}
		res.Add(fd)
	}
}

type verdict struct {
	rule   *finding.Rule
	sev    finding.Severity
	path   string
	detail string
}

// assetOp marks a pseudo-node for an AssetFileDef.
const assetOp = "(asset)"

func classify(g *Graph, n *Node) (verdict, bool) {
	if n.Op == assetOp {
		return verdict{rule: RuleFileRead, sev: finding.High, path: n.Const,
			detail: "asset file " + unsafePath(n.Const)}, true
	}
	o := ops[n.Op]
	path, resolved := "", false
	if o.path >= 0 && o.path < len(n.Inputs) {
		path, resolved = g.resolve(n.Scope, n.Inputs[o.path], 0)
	}
	why := ""
	if resolved {
		why = unsafePath(path)
	}
	switch o.class {
	case opPython:
		v := verdict{rule: RulePyFunc, sev: finding.Critical}
		if t := n.Attrs["token"]; t != "" {
			v.detail = "token " + t
		}
		return v, true
	case opWrite:
		v := verdict{rule: RuleFileWrite, sev: finding.High, path: path}
		if why != "" {
			v.detail = why
		}
		return v, true
	case opPrint:
		dst := n.Attrs["output_stream"]
		if strings.HasPrefix(dst, "file://") {
			return verdict{rule: RuleFileWrite, sev: finding.High, path: strings.TrimPrefix(dst, "file://"), detail: "PrintV2 to a file"}, true
		}
		return verdict{}, false
	case opRead:
		v := verdict{rule: RuleFileRead, sev: finding.Medium, path: path}
		if why != "" {
			v.sev, v.detail = finding.High, why
		}
		return v, true
	case opMemmapped:
		region := n.Attrs["memory_region_name"]
		if strings.HasPrefix(region, "memmapped_package://") {
			return verdict{}, false
		}
		v := verdict{rule: RuleFileRead, sev: finding.Medium, path: region, detail: "memory-mapped constant"}
		if w := unsafePath(region); w != "" {
			v.sev, v.detail = finding.High, w
		}
		return v, true
	case opCheckpointWrite, opCheckpointRead, opTableInit:
		if why == "" {
			return verdict{}, false // fed by the loader or a relative asset: normal
		}
		rule := RuleFileRead
		if o.class == opCheckpointWrite {
			rule = RuleFileWrite
		}
		return verdict{rule: rule, sev: finding.High, path: path, detail: why}, true
	case opNetwork:
		v := verdict{rule: RuleNetwork, sev: finding.High, path: path}
		return v, true
	case opDebug:
		urls := n.Attrs["debug_urls"]
		if strings.Contains(urls, "file://") || strings.Contains(urls, "grpc://") {
			return verdict{rule: RuleDebugSink, sev: finding.Medium, detail: "debug_urls " + urls}, true
		}
	}
	return verdict{}, false
}

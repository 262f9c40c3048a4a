package inference

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ONNXOptions configure LoadONNX and ParseONNX.
type ONNXOptions struct {
	// Name is the model name in metadata (default: the file name without
	// extension, or "model").
	Name string
	// MaxBytes bounds the model file (default 256 MiB).
	MaxBytes int64
	// MaxBatch bounds the first dimension of an input (default 1<<20).
	MaxBatch int
}

// ONNXModel evaluates an ONNX model in pure Go. Floating-point arithmetic
// is done in float64 and rounded to the declared type on output, so results
// match the training framework (scikit-learn computes in float64) to about
// float32 precision. Safe for concurrent use.
type ONNXModel struct {
	meta     Metadata
	inputs   []valueInfo
	outputs  []valueInfo
	consts   map[string]*value
	steps    []step
	maxBatch int
}

type step struct {
	node   *protoNode
	run    kernel
	inputs []string
}

// kernel runs one node; absent optional inputs are nil.
type kernel func(in []*value) ([]*value, error)

// LoadONNX reads and compiles an ONNX model file. Tensors stored as
// external data are read from files inside the model's directory only.
func LoadONNX(path string, opts ONNXOptions) (*ONNXModel, error) {
	opts = opts.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load onnx: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load onnx %s: %w", path, err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("load onnx %s: %w: larger than %d bytes", path, ErrLimit, opts.MaxBytes)
	}
	if opts.Name == "" {
		base := filepath.Base(path)
		opts.Name = sanitizeName(strings.TrimSuffix(base, filepath.Ext(base)))
	}
	dir := filepath.Dir(path)
	ext := func(info map[string]string) ([]byte, error) { return readExternal(dir, info, opts.MaxBytes) }
	m, err := parseONNX(data, opts, ext)
	if err != nil {
		return nil, fmt.Errorf("load onnx %s: %w", path, err)
	}
	return m, nil
}

// ParseONNX compiles an ONNX model held in memory. External data is
// refused.
func ParseONNX(data []byte, opts ONNXOptions) (*ONNXModel, error) {
	opts = opts.withDefaults()
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("%w: model larger than %d bytes", ErrLimit, opts.MaxBytes)
	}
	if opts.Name == "" {
		opts.Name = "model"
	}
	return parseONNX(data, opts, nil)
}

func (o ONNXOptions) withDefaults() ONNXOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 20
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1 << 20
	}
	return o
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if !ValidName(b.String()) {
		return "model"
	}
	return b.String()
}

// readExternal loads external tensor data from a file under dir; os.Root
// confines the path (no "..", absolute paths or escaping symlinks).
func readExternal(dir string, info map[string]string, maxBytes int64) ([]byte, error) {
	loc := info["location"]
	if loc == "" {
		return nil, fmt.Errorf("%w: external data without a location", ErrMalformed)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(loc))
	if err != nil {
		return nil, fmt.Errorf("external data %q (must be inside the model's directory): %w", loc, err)
	}
	defer f.Close()
	var off, length int64
	if s := info["offset"]; s != "" {
		if off, err = strconv.ParseInt(s, 10, 64); err != nil || off < 0 {
			return nil, fmt.Errorf("%w: external data offset %q", ErrMalformed, s)
		}
	}
	if s := info["length"]; s != "" {
		if length, err = strconv.ParseInt(s, 10, 64); err != nil || length < 0 {
			return nil, fmt.Errorf("%w: external data length %q", ErrMalformed, s)
		}
	} else {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		length = st.Size() - off
	}
	if length > maxBytes || length < 0 {
		return nil, fmt.Errorf("%w: external data of %d bytes", ErrLimit, length)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	return buf, nil
}

func parseONNX(data []byte, opts ONNXOptions, ext func(map[string]string) ([]byte, error)) (*ONNXModel, error) {
	pm, err := decodeModel(data)
	if err != nil {
		return nil, err
	}
	m := &ONNXModel{consts: map[string]*value{}, maxBatch: opts.MaxBatch}
	var total int
	for _, t := range pm.graph.inits {
		v, err := tensorValue(t, ext)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		total += v.size()
		if total > maxEvalElements*4 {
			return nil, fmt.Errorf("%w: initializers hold more than %d values", ErrLimit, maxEvalElements*4)
		}
		m.consts[t.name] = v
	}
	for _, vi := range pm.graph.inputs {
		if _, ok := m.consts[vi.name]; ok {
			continue // an initializer with a default: not a real input
		}
		if vi.kind != kindTensor {
			return nil, fmt.Errorf("%w: input %q is not a tensor", ErrUnsupported, vi.name)
		}
		if _, ok := oipType(vi.elem); !ok {
			return nil, fmt.Errorf("%w: input %q has element type %d", ErrUnsupported, vi.name, vi.elem)
		}
		m.inputs = append(m.inputs, vi)
	}
	if len(m.inputs) == 0 {
		return nil, fmt.Errorf("%w: the graph has no inputs", ErrUnsupported)
	}
	if len(pm.graph.outputs) == 0 {
		return nil, fmt.Errorf("%w: the graph has no outputs", ErrMalformed)
	}
	m.outputs = pm.graph.outputs

	if err := m.compile(pm); err != nil {
		return nil, err
	}
	if err := m.buildMetadata(opts.Name, pm); err != nil {
		return nil, err
	}
	return m, nil
}

// compile orders the nodes topologically and builds their kernels.
func (m *ONNXModel) compile(pm *protoModel) error {
	known := map[string]bool{"": true}
	for n := range m.consts {
		known[n] = true
	}
	for _, vi := range m.inputs {
		known[vi.name] = true
	}
	nodes := pm.graph.nodes
	done := make([]bool, len(nodes))
	ctx := &compileCtx{opset: opsetVersion(pm.opsets, ""), mlOpset: opsetVersion(pm.opsets, "ai.onnx.ml"), consts: m.consts}
	for left := len(nodes); left > 0; {
		progress := false
		for k := range nodes {
			if done[k] {
				continue
			}
			n := &nodes[k]
			ready := true
			for _, in := range n.inputs {
				if !known[in] {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
			run, err := ctx.compile(n)
			if err != nil {
				return fmt.Errorf("node %q (%s): %w", n.name, n.op, err)
			}
			m.steps = append(m.steps, step{node: n, run: run, inputs: n.inputs})
			for _, o := range n.outputs {
				if known[o] && o != "" {
					return fmt.Errorf("%w: value %q is produced twice", ErrMalformed, o)
				}
				known[o] = true
			}
			done[k] = true
			left--
			progress = true
		}
		if !progress {
			for k := range nodes {
				if !done[k] {
					for _, in := range nodes[k].inputs {
						if !known[in] {
							return fmt.Errorf("%w: node %q (%s) reads %q, which nothing produces (or a cycle)", ErrMalformed, nodes[k].name, nodes[k].op, in)
						}
					}
				}
			}
			return fmt.Errorf("%w: graph is not a DAG", ErrMalformed)
		}
	}
	for _, o := range m.outputs {
		if !known[o.name] {
			return fmt.Errorf("%w: graph output %q is never produced", ErrMalformed, o.name)
		}
	}
	return nil
}

func opsetVersion(opsets map[string]int64, domain string) int64 {
	if v, ok := opsets[domain]; ok {
		return v
	}
	if domain == "" {
		if v, ok := opsets["ai.onnx"]; ok {
			return v
		}
		return 13
	}
	return 1
}

func (m *ONNXModel) buildMetadata(name string, pm *protoModel) error {
	md := Metadata{Name: name, Platform: "onnx", Versions: []string{"1"}}
	for _, vi := range m.inputs {
		dt, _ := oipType(vi.elem)
		md.Inputs = append(md.Inputs, TensorMeta{Name: vi.name, Datatype: dt, Shape: metaShape(vi)})
	}
	for _, vi := range m.outputs {
		tm := TensorMeta{Name: vi.name}
		switch vi.kind {
		case kindTensor:
			dt, ok := oipType(vi.elem)
			if !ok {
				dt = FP32 // filled in at run time when undeclared
			}
			tm.Datatype, tm.Shape = dt, metaShape(vi)
		case kindSeqMap:
			// ZipMap: delivered as a [batch, classes] FP32 tensor.
			tm.Datatype, tm.Shape = FP32, []int64{-1, -1}
		default:
			return fmt.Errorf("%w: output %q is neither a tensor nor a ZipMap sequence", ErrUnsupported, vi.name)
		}
		md.Outputs = append(md.Outputs, tm)
	}
	for _, st := range m.steps {
		if cl := classLabels(st.node); cl != nil {
			md.Parameters = map[string]any{"classes": cl}
			for k, o := range md.Outputs {
				if len(o.Shape) == 2 && o.Shape[1] < 0 && o.Datatype.Class() == ClassFloat {
					md.Outputs[k].Shape[1] = int64(len(cl))
				}
			}
		}
	}
	if pm.producer != "" {
		if md.Parameters == nil {
			md.Parameters = map[string]any{}
		}
		md.Parameters["producer"] = pm.producer
	}
	m.meta = md
	return nil
}

func metaShape(vi valueInfo) []int64 {
	if !vi.ranked {
		return []int64{-1}
	}
	return slices.Clone(vi.dims)
}

// Metadata implements Model.
func (m *ONNXModel) Metadata(context.Context) (Metadata, error) {
	md := m.meta
	md.Inputs = slices.Clone(md.Inputs)
	md.Outputs = slices.Clone(md.Outputs)
	return md, nil
}

// Predict implements Model.
func (m *ONNXModel) Predict(ctx context.Context, inputs []Tensor, outputs ...string) ([]Tensor, error) {
	env := make(map[string]*value, len(m.consts)+len(m.steps)+len(inputs))
	for k, v := range m.consts {
		env[k] = v
	}
	for _, vi := range m.inputs {
		var t *Tensor
		for k := range inputs {
			if inputs[k].Name == vi.name {
				if t != nil {
					return nil, fmt.Errorf("inference: %w: input %q given twice", ErrBadInput, vi.name)
				}
				t = &inputs[k]
			}
		}
		if t == nil {
			return nil, fmt.Errorf("inference: %w: missing input %q", ErrBadInput, vi.name)
		}
		v, err := m.inputValue(vi, t)
		if err != nil {
			return nil, fmt.Errorf("inference: %w", err)
		}
		env[vi.name] = v
	}
	if len(inputs) != len(m.inputs) {
		for k := range inputs {
			if !slices.ContainsFunc(m.inputs, func(vi valueInfo) bool { return vi.name == inputs[k].Name }) {
				return nil, fmt.Errorf("inference: %w: unknown input %q", ErrBadInput, inputs[k].Name)
			}
		}
	}
	want := m.outputs
	if len(outputs) > 0 {
		want = nil
		for _, name := range outputs {
			k := slices.IndexFunc(m.outputs, func(vi valueInfo) bool { return vi.name == name })
			if k < 0 {
				return nil, fmt.Errorf("inference: %w: unknown output %q", ErrBadInput, name)
			}
			want = append(want, m.outputs[k])
		}
	}
	budget := maxRunElements
	for _, st := range m.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := make([]*value, len(st.inputs))
		for k, name := range st.inputs {
			if name != "" {
				in[k] = env[name]
			}
		}
		out, err := m.runStep(st, in)
		if err != nil {
			return nil, fmt.Errorf("inference: node %q (%s): %w", st.node.name, st.node.op, err)
		}
		for k, name := range st.node.outputs {
			if name != "" && k < len(out) && out[k] != nil {
				env[name] = out[k]
				budget -= out[k].size()
			}
		}
		if budget < 0 {
			return nil, fmt.Errorf("inference: %w: evaluation needs more than %d values", ErrLimit, maxRunElements)
		}
	}
	res := make([]Tensor, 0, len(want))
	for _, vi := range want {
		v := env[vi.name]
		if v == nil {
			return nil, fmt.Errorf("inference: output %q was not computed", vi.name)
		}
		res = append(res, outputTensor(vi, v))
	}
	return res, nil
}

// runStep runs a kernel, turning a panic (a bug, never expected) into an
// error so that a hostile model cannot crash a server.
func (m *ONNXModel) runStep(st step, in []*value) (out []*value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: internal error: %v", ErrMalformed, r)
		}
	}()
	return st.run(in)
}

func (m *ONNXModel) inputValue(vi valueInfo, t *Tensor) (*value, error) {
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	dt, _ := oipType(vi.elem)
	if t.Datatype != dt {
		return nil, fmt.Errorf("%w: input %q is %s, model wants %s", ErrBadInput, vi.name, t.Datatype, dt)
	}
	if vi.ranked {
		if len(t.Shape) != len(vi.dims) {
			return nil, fmt.Errorf("%w: input %q has shape %v, model wants %v", ErrBadInput, vi.name, t.Shape, metaShape(vi))
		}
		for k, d := range vi.dims {
			if d >= 0 && t.Shape[k] != d {
				return nil, fmt.Errorf("%w: input %q has shape %v, model wants %v", ErrBadInput, vi.name, t.Shape, metaShape(vi))
			}
		}
	}
	shape := make([]int, len(t.Shape))
	for k, d := range t.Shape {
		shape[k] = int(d)
	}
	if len(shape) > 0 && shape[0] > m.maxBatch {
		return nil, fmt.Errorf("%w: batch of %d rows (at most %d)", ErrLimit, shape[0], m.maxBatch)
	}
	if _, err := checkShape(shape); err != nil {
		return nil, err
	}
	v := &value{dt: vi.elem, shape: shape}
	switch dt.Class() {
	case ClassFloat:
		v.f = make([]float64, len(t.Float))
		for k, x := range t.Float {
			v.f[k] = roundTo(vi.elem, x)
		}
	case ClassInt:
		v.i = t.Int
	case ClassBytes:
		v.s = make([]string, len(t.Bytes))
		for k, b := range t.Bytes {
			v.s[k] = string(b)
		}
	}
	return v, nil
}

func outputTensor(vi valueInfo, v *value) Tensor {
	dt, ok := oipType(v.dt)
	if !ok {
		dt = FP32
	}
	t := Tensor{Name: vi.name, Datatype: dt, Shape: make([]int64, len(v.shape))}
	for k, d := range v.shape {
		t.Shape[k] = int64(d)
	}
	switch dt.Class() {
	case ClassFloat:
		t.Float = make([]float64, len(v.f))
		for k, x := range v.f {
			t.Float[k] = roundTo(v.dt, x)
		}
	case ClassInt:
		t.Int = slices.Clone(v.i)
	case ClassBytes:
		t.Bytes = make([][]byte, len(v.s))
		for k, s := range v.s {
			t.Bytes[k] = []byte(s)
		}
	}
	return t
}

// classLabels returns the class labels of a classifier node, if any.
func classLabels(n *protoNode) []string {
	if n.domain != "ai.onnx.ml" {
		return nil
	}
	switch n.op {
	case "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier", "ZipMap":
	default:
		return nil
	}
	a := attrs(n.attrs)
	if s := a.strings("classlabels_strings"); len(s) > 0 {
		return s
	}
	if is := a.ints("classlabels_ints"); len(is) > 0 {
		return intStrings(is)
	}
	if is := a.ints("classlabels_int64s"); len(is) > 0 {
		return intStrings(is)
	}
	return nil
}

func intStrings(is []int64) []string {
	out := make([]string, len(is))
	for k, v := range is {
		out[k] = strconv.FormatInt(v, 10)
	}
	return out
}

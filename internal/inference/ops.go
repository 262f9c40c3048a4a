package inference

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// maxFlops bounds the multiply-adds of one Gemm or MatMul.
const maxFlops = 1 << 31

type compileCtx struct {
	opset, mlOpset int64
	consts         map[string]*value
}

type attrs map[string]*protoAttr

func (a attrs) has(name string) bool { _, ok := a[name]; return ok }

func (a attrs) int(name string, def int64) int64 {
	if x, ok := a[name]; ok {
		return x.i
	}
	return def
}

func (a attrs) float(name string, def float64) float64 {
	if x, ok := a[name]; ok {
		return float64(x.f)
	}
	return def
}

func (a attrs) str(name, def string) string {
	if x, ok := a[name]; ok {
		return string(x.s)
	}
	return def
}

func (a attrs) ints(name string) []int64 {
	if x, ok := a[name]; ok {
		return x.ints
	}
	return nil
}

// floats reads a float list, or its NAME_as_tensor double variant.
func (a attrs) floats(name string) []float64 {
	if x, ok := a[name+"_as_tensor"]; ok && x.t != nil {
		if v, err := tensorValue(x.t, nil); err == nil && isFloatDT(v.dt) {
			return v.f
		}
	}
	if x, ok := a[name]; ok {
		out := make([]float64, len(x.floats))
		for k, f := range x.floats {
			out[k] = float64(f)
		}
		return out
	}
	return nil
}

func (a attrs) strings(name string) []string {
	if x, ok := a[name]; ok {
		out := make([]string, len(x.strings))
		for k, s := range x.strings {
			out[k] = string(s)
		}
		return out
	}
	return nil
}

func (c *compileCtx) compile(n *protoNode) (kernel, error) {
	a := attrs(n.attrs)
	switch n.domain {
	case "", "ai.onnx":
	case "ai.onnx.ml":
		return c.compileML(n, a)
	default:
		return nil, fmt.Errorf("%w: operator %s from domain %q", ErrUnsupported, n.op, n.domain)
	}
	switch n.op {
	case "Identity":
		return arity(n, 1, 1, func(in []*value) ([]*value, error) { return in[:1], nil })
	case "Add", "Sub", "Mul", "Div":
		return arity(n, 2, 2, arith(n.op))
	case "Relu":
		return arity(n, 1, 1, unary(func(x float64) float64 { return max(x, 0) }))
	case "Sigmoid":
		return arity(n, 1, 1, unary(sigmoid))
	case "Tanh":
		return arity(n, 1, 1, unary(math.Tanh))
	case "Softmax", "LogSoftmax":
		def := int64(-1)
		if c.opset < 13 {
			def = 1
		}
		return arity(n, 1, 1, softmaxKernel(a.int("axis", def), c.opset < 13, n.op == "LogSoftmax"))
	case "Gemm":
		return arity(n, 2, 3, gemmKernel(a.float("alpha", 1), a.float("beta", 1), a.int("transA", 0) != 0, a.int("transB", 0) != 0))
	case "MatMul":
		return arity(n, 2, 2, matmul)
	case "Flatten":
		return arity(n, 1, 1, flattenKernel(a.int("axis", 1)))
	case "Reshape":
		return arity(n, 2, 2, reshapeKernel(a.int("allowzero", 0) != 0))
	case "Concat":
		if !a.has("axis") {
			return nil, fmt.Errorf("%w: Concat without axis", ErrMalformed)
		}
		return arity(n, 1, 4096, concatKernel(a.int("axis", 0)))
	case "Cast":
		to := a.int("to", 0)
		if _, ok := oipType(to); !ok {
			return nil, fmt.Errorf("%w: Cast to type %d", ErrUnsupported, to)
		}
		return arity(n, 1, 1, castKernel(to))
	case "ArgMax":
		return arity(n, 1, 1, argmaxKernel(a.int("axis", 0), a.int("keepdims", 1) != 0, a.int("select_last_index", 0) != 0))
	case "Clip":
		if c.opset < 11 {
			lo, hi := a.float("min", math.Inf(-1)), a.float("max", math.Inf(1))
			return arity(n, 1, 1, clipKernel(&lo, &hi))
		}
		return arity(n, 1, 3, clipKernel(nil, nil))
	case "Constant":
		v, err := constantValue(a)
		if err != nil {
			return nil, err
		}
		return arity(n, 0, 0, func([]*value) ([]*value, error) { return []*value{v}, nil })
	case "Squeeze", "Unsqueeze":
		var axes []int64
		if a.has("axes") {
			axes = a.ints("axes")
		}
		if n.op == "Squeeze" {
			return arity(n, 1, 2, squeezeKernel(axes))
		}
		return arity(n, 1, 2, unsqueezeKernel(axes))
	case "Gather":
		return arity(n, 2, 2, gatherKernel(a.int("axis", 0)))
	}
	return nil, fmt.Errorf("%w: operator %s (opset %d)", ErrUnsupported, n.op, c.opset)
}

// arity checks the input count at compile time and wraps k.
func arity(n *protoNode, lo, hi int, k kernel) (kernel, error) {
	if len(n.inputs) < lo || len(n.inputs) > hi {
		return nil, fmt.Errorf("%w: %s takes %d to %d inputs, has %d", ErrMalformed, n.op, lo, hi, len(n.inputs))
	}
	if len(n.outputs) == 0 {
		return nil, fmt.Errorf("%w: %s has no outputs", ErrMalformed, n.op)
	}
	return func(in []*value) ([]*value, error) {
		for k := 0; k < lo; k++ {
			if in[k] == nil {
				return nil, fmt.Errorf("%w: required input %d missing", ErrMalformed, k)
			}
		}
		return k(in)
	}, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func unary(f func(float64) float64) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		if !isFloatDT(x.dt) {
			return nil, fmt.Errorf("%w: needs a floating-point input", ErrUnsupported)
		}
		out := &value{dt: x.dt, shape: x.shape, f: make([]float64, len(x.f))}
		for k, v := range x.f {
			out.f[k] = f(v)
		}
		return []*value{out}, nil
	}
}

// broadcastShape computes the numpy broadcast of two shapes.
func broadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for k := range n {
		da, db := 1, 1
		if i := len(a) - n + k; i >= 0 {
			da = a[i]
		}
		if i := len(b) - n + k; i >= 0 {
			db = b[i]
		}
		switch {
		case da == db:
			out[k] = da
		case da == 1:
			out[k] = db
		case db == 1:
			out[k] = da
		default:
			return nil, fmt.Errorf("%w: shapes %v and %v do not broadcast", ErrBadInput, a, b)
		}
	}
	if _, err := checkShape(out); err != nil {
		return nil, err
	}
	return out, nil
}

// broadcastIndex maps each output position to an input position.
func broadcastIndex(in, out []int) []int {
	total := numel(out)
	idx := make([]int, total)
	if slices.Equal(in, out) {
		for k := range idx {
			idx[k] = k
		}
		return idx
	}
	// strides of in aligned to out, 0 on broadcast dimensions
	strides := make([]int, len(out))
	s := 1
	for k := len(out) - 1; k >= 0; k-- {
		i := len(in) - len(out) + k
		if i >= 0 && in[i] != 1 {
			strides[k] = s
		}
		if i >= 0 {
			s *= in[i]
		}
	}
	coord := make([]int, len(out))
	pos := 0
	for k := range total {
		idx[k] = pos
		for d := len(out) - 1; d >= 0; d-- {
			coord[d]++
			pos += strides[d]
			if coord[d] < out[d] {
				break
			}
			pos -= strides[d] * coord[d]
			coord[d] = 0
		}
	}
	return idx
}

func arith(op string) kernel {
	return func(in []*value) ([]*value, error) {
		a, b := in[0], in[1]
		if a.dt == dtString || b.dt == dtString {
			return nil, fmt.Errorf("%w: arithmetic on strings", ErrUnsupported)
		}
		shape, err := broadcastShape(a.shape, b.shape)
		if err != nil {
			return nil, err
		}
		ia, ib := broadcastIndex(a.shape, shape), broadcastIndex(b.shape, shape)
		if isIntDT(a.dt) && isIntDT(b.dt) {
			out := &value{dt: a.dt, shape: shape, i: make([]int64, len(ia))}
			for k := range ia {
				x, y := a.i[ia[k]], b.i[ib[k]]
				switch op {
				case "Add":
					out.i[k] = x + y
				case "Sub":
					out.i[k] = x - y
				case "Mul":
					out.i[k] = x * y
				case "Div":
					if y == 0 {
						return nil, fmt.Errorf("%w: integer division by zero", ErrBadInput)
					}
					if y == -1 {
						out.i[k] = -x
					} else {
						out.i[k] = x / y
					}
				}
			}
			return []*value{out}, nil
		}
		af, err := a.float64s()
		if err != nil {
			return nil, err
		}
		bf, err := b.float64s()
		if err != nil {
			return nil, err
		}
		dt := a.dt
		if !isFloatDT(dt) {
			dt = b.dt
		}
		out := &value{dt: dt, shape: shape, f: make([]float64, len(ia))}
		for k := range ia {
			x, y := af[ia[k]], bf[ib[k]]
			switch op {
			case "Add":
				out.f[k] = x + y
			case "Sub":
				out.f[k] = x - y
			case "Mul":
				out.f[k] = x * y
			case "Div":
				out.f[k] = x / y
			}
		}
		return []*value{out}, nil
	}
}

func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(max(rank, 1)) {
		return 0, fmt.Errorf("%w: axis %d out of range for rank %d", ErrBadInput, axis, rank)
	}
	return int(axis), nil
}

func softmaxKernel(axis int64, coerce2D, logs bool) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		if !isFloatDT(x.dt) {
			return nil, fmt.Errorf("%w: needs a floating-point input", ErrUnsupported)
		}
		ax, err := normAxis(axis, len(x.shape))
		if err != nil {
			return nil, err
		}
		// outer × n × inner; with the pre-13 semantics everything from the
		// axis on is one flattened row.
		outer := numel(x.shape[:ax])
		n, inner := 1, 1
		if len(x.shape) > 0 {
			n = x.shape[ax]
			inner = numel(x.shape[ax+1:])
		}
		if coerce2D {
			n, inner = n*inner, 1
		}
		out := &value{dt: x.dt, shape: x.shape, f: make([]float64, len(x.f))}
		for o := range outer {
			for i := range inner {
				base := o*n*inner + i
				m := math.Inf(-1)
				for j := range n {
					m = max(m, x.f[base+j*inner])
				}
				sum := 0.0
				for j := range n {
					sum += math.Exp(x.f[base+j*inner] - m)
				}
				for j := range n {
					p := base + j*inner
					if logs {
						out.f[p] = x.f[p] - m - math.Log(sum)
					} else {
						out.f[p] = math.Exp(x.f[p]-m) / sum
					}
				}
			}
		}
		return []*value{out}, nil
	}
}

func gemmKernel(alpha, beta float64, transA, transB bool) kernel {
	return func(in []*value) ([]*value, error) {
		a, b := in[0], in[1]
		if len(a.shape) != 2 || len(b.shape) != 2 {
			return nil, fmt.Errorf("%w: Gemm needs 2-D inputs, got %v and %v", ErrBadInput, a.shape, b.shape)
		}
		af, err := a.float64s()
		if err != nil {
			return nil, err
		}
		bf, err := b.float64s()
		if err != nil {
			return nil, err
		}
		m, k := a.shape[0], a.shape[1]
		if transA {
			m, k = k, m
		}
		k2, n := b.shape[0], b.shape[1]
		if transB {
			k2, n = n, k2
		}
		if k != k2 {
			return nil, fmt.Errorf("%w: Gemm inner dimensions %d and %d differ", ErrBadInput, k, k2)
		}
		out, err := newFloat(a.dt, []int{m, n})
		if err != nil {
			return nil, err
		}
		if int64(m)*int64(n)*int64(k) > maxFlops {
			return nil, fmt.Errorf("%w: Gemm of %d×%d×%d", ErrLimit, m, k, n)
		}
		for i := range m {
			row := out.f[i*n : (i+1)*n]
			for p := range k {
				var av float64
				if transA {
					av = af[p*m+i]
				} else {
					av = af[i*k+p]
				}
				if av == 0 {
					continue
				}
				av *= alpha
				if transB {
					for j := range n {
						row[j] += av * bf[j*k+p]
					}
				} else {
					brow := bf[p*n : (p+1)*n]
					for j, bv := range brow {
						row[j] += av * bv
					}
				}
			}
		}
		if len(in) > 2 && in[2] != nil && beta != 0 {
			c := in[2]
			cf, err := c.float64s()
			if err != nil {
				return nil, err
			}
			shape, err := broadcastShape(c.shape, out.shape)
			if err != nil || !slices.Equal(shape, out.shape) {
				return nil, fmt.Errorf("%w: Gemm C of shape %v does not broadcast to %v", ErrBadInput, c.shape, out.shape)
			}
			idx := broadcastIndex(c.shape, out.shape)
			for p := range out.f {
				out.f[p] += beta * cf[idx[p]]
			}
		}
		return []*value{out}, nil
	}
}

func matmul(in []*value) ([]*value, error) {
	a, b := in[0], in[1]
	af, err := a.float64s()
	if err != nil {
		return nil, err
	}
	bf, err := b.float64s()
	if err != nil {
		return nil, err
	}
	as, bs := a.shape, b.shape
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("%w: MatMul of a scalar", ErrBadInput)
	}
	vecA, vecB := len(as) == 1, len(bs) == 1
	if vecA {
		as = []int{1, as[0]}
	}
	if vecB {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return nil, fmt.Errorf("%w: MatMul inner dimensions %d and %d differ", ErrBadInput, k, k2)
	}
	batchA, batchB := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := broadcastShape(batchA, batchB)
	if err != nil {
		return nil, err
	}
	nb := numel(batch)
	if int64(nb)*int64(m)*int64(n)*int64(k) > maxFlops {
		return nil, fmt.Errorf("%w: MatMul too large", ErrLimit)
	}
	shape := append(slices.Clone(batch), m, n)
	out, err := newFloat(a.dt, shape)
	if err != nil {
		return nil, err
	}
	if !isFloatDT(out.dt) {
		out.dt = b.dt
	}
	ia, ib := broadcastIndex(batchA, batch), broadcastIndex(batchB, batch)
	for bi := range nb {
		ao, bo, oo := ia[bi]*m*k, ib[bi]*k*n, bi*m*n
		for i := range m {
			row := out.f[oo+i*n : oo+(i+1)*n]
			for p := range k {
				av := af[ao+i*k+p]
				if av == 0 {
					continue
				}
				brow := bf[bo+p*n : bo+(p+1)*n]
				for j, bv := range brow {
					row[j] += av * bv
				}
			}
		}
	}
	switch {
	case vecA && vecB:
		out.shape = batch
	case vecA:
		out.shape = append(slices.Clone(batch), n)
	case vecB:
		out.shape = append(slices.Clone(batch), m)
	}
	if !isFloatDT(out.dt) {
		out.dt = dtFloat
	}
	return []*value{out}, nil
}

func flattenKernel(axis int64) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		ax := axis
		if ax < 0 {
			ax += int64(len(x.shape))
		}
		if ax < 0 || ax > int64(len(x.shape)) {
			return nil, fmt.Errorf("%w: Flatten axis %d for rank %d", ErrBadInput, axis, len(x.shape))
		}
		return []*value{x.withShape([]int{numel(x.shape[:ax]), numel(x.shape[ax:])})}, nil
	}
}

func reshapeKernel(allowZero bool) kernel {
	return func(in []*value) ([]*value, error) {
		x, s := in[0], in[1]
		want, err := s.int64s()
		if err != nil {
			return nil, err
		}
		if len(want) > 16 {
			return nil, fmt.Errorf("%w: Reshape to rank %d", ErrLimit, len(want))
		}
		shape := make([]int, len(want))
		infer := -1
		known := 1
		for k, d := range want {
			switch {
			case d == 0 && !allowZero:
				if k >= len(x.shape) {
					return nil, fmt.Errorf("%w: Reshape copies dimension %d of %v", ErrBadInput, k, x.shape)
				}
				shape[k] = x.shape[k]
			case d == -1:
				if infer >= 0 {
					return nil, fmt.Errorf("%w: Reshape with two -1", ErrBadInput)
				}
				infer = k
				continue
			case d < 0 || d > maxEvalElements:
				return nil, fmt.Errorf("%w: Reshape dimension %d", ErrBadInput, d)
			default:
				shape[k] = int(d)
			}
			if shape[k] > 0 && known > maxEvalElements/shape[k] {
				return nil, fmt.Errorf("%w: Reshape too large", ErrLimit)
			}
			known *= shape[k]
		}
		total := x.size()
		if infer >= 0 {
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("%w: cannot reshape %v to %v", ErrBadInput, x.shape, want)
			}
			shape[infer] = total / known
		}
		if numel(shape) != total {
			return nil, fmt.Errorf("%w: cannot reshape %v to %v", ErrBadInput, x.shape, want)
		}
		return []*value{x.withShape(shape)}, nil
	}
}

func concatKernel(axis int64) kernel {
	return func(in []*value) ([]*value, error) {
		first := in[0]
		if first == nil {
			return nil, fmt.Errorf("%w: Concat input missing", ErrMalformed)
		}
		ax, err := normAxis(axis, len(first.shape))
		if err != nil {
			return nil, err
		}
		if len(first.shape) == 0 {
			return nil, fmt.Errorf("%w: Concat of scalars", ErrBadInput)
		}
		shape := slices.Clone(first.shape)
		shape[ax] = 0
		for _, v := range in {
			if v == nil || len(v.shape) != len(shape) || (v.dt != first.dt && !(isFloatDT(v.dt) && isFloatDT(first.dt))) {
				return nil, fmt.Errorf("%w: Concat inputs differ in rank or type", ErrBadInput)
			}
			for d := range shape {
				if d != ax && v.shape[d] != first.shape[d] {
					return nil, fmt.Errorf("%w: Concat shapes %v and %v", ErrBadInput, first.shape, v.shape)
				}
			}
			shape[ax] += v.shape[ax]
		}
		if _, err := checkShape(shape); err != nil {
			return nil, err
		}
		outer := numel(shape[:ax])
		out := &value{dt: first.dt, shape: shape}
		for o := range outer {
			for _, v := range in {
				chunk := v.shape[ax] * numel(v.shape[ax+1:])
				switch {
				case isFloatDT(first.dt):
					out.f = append(out.f, v.f[o*chunk:(o+1)*chunk]...)
				case first.dt == dtString:
					out.s = append(out.s, v.s[o*chunk:(o+1)*chunk]...)
				default:
					out.i = append(out.i, v.i[o*chunk:(o+1)*chunk]...)
				}
			}
		}
		return []*value{out}, nil
	}
}

func castKernel(to int64) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		out := &value{dt: to, shape: x.shape}
		n := x.size()
		switch {
		case isFloatDT(to):
			out.f = make([]float64, n)
			for k := range n {
				switch {
				case isFloatDT(x.dt):
					out.f[k] = roundTo(to, x.f[k])
				case isIntDT(x.dt):
					out.f[k] = roundTo(to, float64(x.i[k]))
				default:
					f, err := strconv.ParseFloat(x.s[k], 64)
					if err != nil {
						return nil, fmt.Errorf("%w: cannot cast %q to a number", ErrBadInput, x.s[k])
					}
					out.f[k] = roundTo(to, f)
				}
			}
		case to == dtString:
			out.s = make([]string, n)
			for k := range n {
				switch {
				case isFloatDT(x.dt):
					out.s[k] = strconv.FormatFloat(x.f[k], 'g', -1, 32)
				case isIntDT(x.dt):
					out.s[k] = strconv.FormatInt(x.i[k], 10)
				default:
					out.s[k] = x.s[k]
				}
			}
		default:
			out.i = make([]int64, n)
			for k := range n {
				var v int64
				switch {
				case isFloatDT(x.dt):
					f := x.f[k]
					if to == dtBool {
						v = b2i(f != 0)
					} else if math.IsNaN(f) || f >= 9.2e18 || f <= -9.2e18 {
						v = math.MinInt64
					} else {
						v = int64(f)
					}
				case isIntDT(x.dt):
					v = x.i[k]
					if to == dtBool {
						v = b2i(v != 0)
					}
				default:
					i, err := strconv.ParseInt(x.s[k], 10, 64)
					if err != nil {
						return nil, fmt.Errorf("%w: cannot cast %q to an integer", ErrBadInput, x.s[k])
					}
					v = i
				}
				out.i[k] = wrapInt(to, v)
			}
		}
		return []*value{out}, nil
	}
}

// wrapInt truncates v to the width of an integer type, as C casts do.
func wrapInt(dt int64, v int64) int64 {
	switch dt {
	case dtUint8:
		return int64(uint8(v))
	case dtInt8:
		return int64(int8(v))
	case dtUint16:
		return int64(uint16(v))
	case dtInt16:
		return int64(int16(v))
	case dtInt32:
		return int64(int32(v))
	case dtUint32:
		return int64(uint32(v))
	}
	return v
}

func argmaxKernel(axis int64, keepdims, last bool) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		xf, err := x.float64s()
		if err != nil {
			return nil, err
		}
		ax, err := normAxis(axis, len(x.shape))
		if err != nil || len(x.shape) == 0 {
			return nil, fmt.Errorf("%w: ArgMax axis %d for shape %v", ErrBadInput, axis, x.shape)
		}
		outer, n, inner := numel(x.shape[:ax]), x.shape[ax], numel(x.shape[ax+1:])
		shape := slices.Clone(x.shape)
		if keepdims {
			shape[ax] = 1
		} else {
			shape = slices.Delete(shape, ax, ax+1)
		}
		out := &value{dt: dtInt64, shape: shape, i: make([]int64, outer*inner)}
		if n == 0 {
			return nil, fmt.Errorf("%w: ArgMax over an empty axis", ErrBadInput)
		}
		for o := range outer {
			for i := range inner {
				base := o*n*inner + i
				best, bi := xf[base], 0
				for j := 1; j < n; j++ {
					v := xf[base+j*inner]
					if v > best || (last && v == best) {
						best, bi = v, j
					}
				}
				out.i[o*inner+i] = int64(bi)
			}
		}
		return []*value{out}, nil
	}
}

func clipKernel(lo, hi *float64) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		l, h := math.Inf(-1), math.Inf(1)
		if lo != nil {
			l, h = *lo, *hi
		}
		for k, p := range []*float64{&l, &h} {
			if k+1 < len(in) && in[k+1] != nil {
				f, err := in[k+1].float64s()
				if err != nil || len(f) != 1 {
					return nil, fmt.Errorf("%w: Clip bound is not a scalar", ErrBadInput)
				}
				*p = f[0]
			}
		}
		if isIntDT(x.dt) {
			out := &value{dt: x.dt, shape: x.shape, i: make([]int64, len(x.i))}
			for k, v := range x.i {
				out.i[k] = int64(min(max(float64(v), l), h))
			}
			return []*value{out}, nil
		}
		return unary(func(v float64) float64 { return min(max(v, l), h) })(in[:1])
	}
}

func constantValue(a attrs) (*value, error) {
	switch {
	case a.has("value") && a["value"].t != nil:
		return tensorValue(a["value"].t, nil)
	case a.has("value_float"):
		return &value{dt: dtFloat, shape: []int{}, f: []float64{a.float("value_float", 0)}}, nil
	case a.has("value_floats"):
		f := a.floats("value_floats")
		return &value{dt: dtFloat, shape: []int{len(f)}, f: f}, nil
	case a.has("value_int"):
		return &value{dt: dtInt64, shape: []int{}, i: []int64{a.int("value_int", 0)}}, nil
	case a.has("value_ints"):
		i := slices.Clone(a.ints("value_ints"))
		return &value{dt: dtInt64, shape: []int{len(i)}, i: i}, nil
	case a.has("value_string"):
		return &value{dt: dtString, shape: []int{}, s: []string{a.str("value_string", "")}}, nil
	case a.has("value_strings"):
		s := a.strings("value_strings")
		return &value{dt: dtString, shape: []int{len(s)}, s: s}, nil
	}
	return nil, fmt.Errorf("%w: Constant without a supported value attribute", ErrUnsupported)
}

// axesFrom returns axes from the attribute or the optional second input.
func axesFrom(attr []int64, in []*value) ([]int64, error) {
	if len(in) > 1 && in[1] != nil {
		return in[1].int64s()
	}
	return attr, nil
}

func squeezeKernel(attr []int64) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		axes, err := axesFrom(attr, in)
		if err != nil {
			return nil, err
		}
		drop := make([]bool, len(x.shape))
		if len(axes) == 0 {
			for k, d := range x.shape {
				drop[k] = d == 1
			}
		}
		for _, a := range axes {
			ax, err := normAxis(a, len(x.shape))
			if err != nil {
				return nil, err
			}
			if x.shape[ax] != 1 {
				return nil, fmt.Errorf("%w: Squeeze of dimension %d of size %d", ErrBadInput, ax, x.shape[ax])
			}
			drop[ax] = true
		}
		var shape []int
		for k, d := range x.shape {
			if !drop[k] {
				shape = append(shape, d)
			}
		}
		return []*value{x.withShape(shape)}, nil
	}
}

func unsqueezeKernel(attr []int64) kernel {
	return func(in []*value) ([]*value, error) {
		x := in[0]
		axes, err := axesFrom(attr, in)
		if err != nil {
			return nil, err
		}
		rank := len(x.shape) + len(axes)
		if rank > 16 {
			return nil, fmt.Errorf("%w: Unsqueeze to rank %d", ErrLimit, rank)
		}
		ins := make([]bool, rank)
		for _, a := range axes {
			ax, err := normAxis(a, rank)
			if err != nil {
				return nil, err
			}
			if ins[ax] {
				return nil, fmt.Errorf("%w: Unsqueeze axis %d repeated", ErrBadInput, a)
			}
			ins[ax] = true
		}
		shape := make([]int, rank)
		j := 0
		for k := range shape {
			if ins[k] {
				shape[k] = 1
			} else {
				shape[k] = x.shape[j]
				j++
			}
		}
		return []*value{x.withShape(shape)}, nil
	}
}

func gatherKernel(axis int64) kernel {
	return func(in []*value) ([]*value, error) {
		x, idx := in[0], in[1]
		if !isIntDT(idx.dt) {
			return nil, fmt.Errorf("%w: Gather indices must be integers", ErrBadInput)
		}
		ax, err := normAxis(axis, len(x.shape))
		if err != nil || len(x.shape) == 0 {
			return nil, fmt.Errorf("%w: Gather axis %d for shape %v", ErrBadInput, axis, x.shape)
		}
		outer, n, inner := numel(x.shape[:ax]), x.shape[ax], numel(x.shape[ax+1:])
		shape := append(append(slices.Clone(x.shape[:ax]), idx.shape...), x.shape[ax+1:]...)
		total, err := checkShape(shape)
		if err != nil {
			return nil, err
		}
		out := &value{dt: x.dt, shape: shape}
		pos := make([]int, 0, total)
		for o := range outer {
			for _, j := range idx.i {
				if j < 0 {
					j += int64(n)
				}
				if j < 0 || j >= int64(n) {
					return nil, fmt.Errorf("%w: Gather index out of range [0, %d)", ErrBadInput, n)
				}
				for i := range inner {
					pos = append(pos, o*n*inner+int(j)*inner+i)
				}
			}
		}
		switch {
		case isFloatDT(x.dt):
			out.f = make([]float64, len(pos))
			for k, p := range pos {
				out.f[k] = x.f[p]
			}
		case x.dt == dtString:
			out.s = make([]string, len(pos))
			for k, p := range pos {
				out.s[k] = x.s[p]
			}
		default:
			out.i = make([]int64, len(pos))
			for k, p := range pos {
				out.i[k] = x.i[p]
			}
		}
		return []*value{out}, nil
	}
}

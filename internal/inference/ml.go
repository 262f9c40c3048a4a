package inference

import (
	"fmt"
	"math"
	"slices"
)

// Operators of the ai.onnx.ml domain, as scikit-learn converters emit them.
// Where the ONNX specification is vague (binary classifiers with one score
// column) the behaviour follows onnxruntime, which is what such models are
// tested against.

func (c *compileCtx) compileML(n *protoNode, a attrs) (kernel, error) {
	switch n.op {
	case "LinearClassifier":
		return arity(n, 1, 1, linearClassifier(a))
	case "LinearRegressor":
		return arity(n, 1, 1, linearRegressor(a))
	case "Normalizer":
		norm := a.str("norm", "MAX")
		if norm != "MAX" && norm != "L1" && norm != "L2" {
			return nil, fmt.Errorf("%w: Normalizer norm %q", ErrUnsupported, norm)
		}
		return arity(n, 1, 1, normalizer(norm))
	case "Scaler":
		return arity(n, 1, 1, scaler(a.floats("offset"), a.floats("scale")))
	case "ZipMap":
		labels := len(a.strings("classlabels_strings")) + len(a.ints("classlabels_int64s"))
		if labels == 0 {
			return nil, fmt.Errorf("%w: ZipMap without class labels", ErrMalformed)
		}
		return arity(n, 1, 1, func(in []*value) ([]*value, error) {
			x := in[0]
			if !isFloatDT(x.dt) || len(x.shape) != 2 || x.shape[1] != labels {
				return nil, fmt.Errorf("%w: ZipMap of %d labels over shape %v", ErrBadInput, labels, x.shape)
			}
			return []*value{x}, nil
		})
	case "TreeEnsembleClassifier", "TreeEnsembleRegressor":
		return c.treeEnsemble(n, a)
	}
	return nil, fmt.Errorf("%w: operator ai.onnx.ml.%s", ErrUnsupported, n.op)
}

// rows views a value as [N, F] floats (a 1-D input is one row).
func rows(x *value) ([]float64, int, int, error) {
	f, err := x.float64s()
	if err != nil {
		return nil, 0, 0, err
	}
	switch len(x.shape) {
	case 1:
		return f, 1, x.shape[0], nil
	case 2:
		return f, x.shape[0], x.shape[1], nil
	}
	return nil, 0, 0, fmt.Errorf("%w: want a 2-D input, got shape %v", ErrBadInput, x.shape)
}

func outType(x *value) int64 {
	if x.dt == dtDouble {
		return dtDouble
	}
	return dtFloat
}

func postTransform(name string) (func([]float64), error) {
	switch name {
	case "", "NONE":
		return func([]float64) {}, nil
	case "LOGISTIC":
		return func(s []float64) {
			for k := range s {
				s[k] = sigmoid(s[k])
			}
		}, nil
	case "SOFTMAX", "SOFTMAX_ZERO":
		zero := name == "SOFTMAX_ZERO"
		return func(s []float64) {
			m := math.Inf(-1)
			for _, v := range s {
				if !zero || v != 0 {
					m = max(m, v)
				}
			}
			sum := 0.0
			for k, v := range s {
				if zero && v == 0 {
					continue
				}
				s[k] = math.Exp(v - m)
				sum += s[k]
			}
			for k := range s {
				if sum > 0 {
					s[k] /= sum
				}
			}
		}, nil
	case "PROBIT":
		return func(s []float64) {
			for k := range s {
				s[k] = probit(s[k])
			}
		}, nil
	}
	return nil, fmt.Errorf("%w: post_transform %q", ErrUnsupported, name)
}

func probit(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// labelsOf returns the class labels of a classifier: ints or strings.
type classLabelSet struct {
	ints    []int64
	strings []string
}

func (l classLabelSet) n() int { return max(len(l.ints), len(l.strings)) }

func (l classLabelSet) output(n int) *value {
	if l.strings != nil {
		return &value{dt: dtString, shape: []int{n}, s: make([]string, n)}
	}
	return &value{dt: dtInt64, shape: []int{n}, i: make([]int64, n)}
}

func (l classLabelSet) set(out *value, row, class int) {
	if l.strings != nil {
		out.s[row] = l.strings[class]
	} else {
		out.i[row] = l.ints[class]
	}
}

// setBinary sets the label for ORT's one-score binary rule: positive
// means class 1 when there are two labels, else the label 1 / "1".
func (l classLabelSet) setBinary(out *value, row int, positive bool) {
	k := b2i(positive)
	if l.n() == 2 {
		l.set(out, row, int(k))
	} else if l.strings != nil {
		out.s[row] = []string{"0", "1"}[k]
	} else {
		out.i[row] = k
	}
}

func labelSet(a attrs, intsName string) (classLabelSet, error) {
	l := classLabelSet{ints: a.ints(intsName), strings: a.strings("classlabels_strings")}
	if l.n() == 0 {
		return l, fmt.Errorf("%w: classifier without class labels", ErrMalformed)
	}
	if len(l.ints) > 0 && len(l.strings) > 0 {
		return l, fmt.Errorf("%w: classifier with both int and string labels", ErrMalformed)
	}
	if len(l.strings) == 0 {
		l.strings = nil
	}
	return l, nil
}

func linearClassifier(a attrs) kernel {
	coef, icpt := a.floats("coefficients"), a.floats("intercepts")
	labels, lerr := labelSet(a, "classlabels_ints")
	post, perr := postTransform(a.str("post_transform", "NONE"))
	postName := a.str("post_transform", "NONE")
	return func(in []*value) ([]*value, error) {
		if lerr != nil {
			return nil, lerr
		}
		if perr != nil {
			return nil, perr
		}
		x, n, f, err := rows(in[0])
		if err != nil {
			return nil, err
		}
		if f == 0 || len(coef)%f != 0 {
			return nil, fmt.Errorf("%w: %d coefficients for %d features", ErrBadInput, len(coef), f)
		}
		c := len(coef) / f
		if len(icpt) != 0 && len(icpt) != c {
			return nil, fmt.Errorf("%w: %d intercepts for %d classes", ErrMalformed, len(icpt), c)
		}
		binary := c == 1 && labels.n() <= 2
		if !binary && c != labels.n() {
			return nil, fmt.Errorf("%w: %d score rows for %d class labels", ErrMalformed, c, labels.n())
		}
		outC := c
		if binary {
			outC = 2
		}
		scores, err := newFloat(outType(in[0]), []int{n, outC})
		if err != nil {
			return nil, err
		}
		lab := labels.output(n)
		s := make([]float64, c)
		for r := range n {
			xr := x[r*f : (r+1)*f]
			for k := range c {
				sum := 0.0
				if len(icpt) > 0 {
					sum = icpt[k]
				}
				for j, v := range coef[k*f : (k+1)*f] {
					sum += v * xr[j]
				}
				s[k] = sum
			}
			row := scores.f[r*outC : (r+1)*outC]
			if binary {
				raw := s[0]
				labels.setBinary(lab, r, raw > 0)
				switch postName {
				case "LOGISTIC":
					row[0], row[1] = sigmoid(-raw), sigmoid(raw)
				case "PROBIT":
					row[0], row[1] = 0, probit(raw)
				default:
					row[0], row[1] = -raw, raw
				}
				continue
			}
			copy(row, s)
			post(row)
			labels.set(lab, r, argmax(row))
		}
		return []*value{lab, scores}, nil
	}
}

func argmax(s []float64) int {
	best := 0
	for k, v := range s {
		if v > s[best] {
			best = k
		}
	}
	return best
}

func linearRegressor(a attrs) kernel {
	coef, icpt := a.floats("coefficients"), a.floats("intercepts")
	targets := int(a.int("targets", 1))
	post, perr := postTransform(a.str("post_transform", "NONE"))
	return func(in []*value) ([]*value, error) {
		if perr != nil {
			return nil, perr
		}
		x, n, f, err := rows(in[0])
		if err != nil {
			return nil, err
		}
		if targets < 1 || len(coef) != targets*f || (len(icpt) != 0 && len(icpt) != targets) {
			return nil, fmt.Errorf("%w: %d coefficients and %d intercepts for %d targets × %d features", ErrBadInput, len(coef), len(icpt), targets, f)
		}
		out, err := newFloat(outType(in[0]), []int{n, targets})
		if err != nil {
			return nil, err
		}
		for r := range n {
			row := out.f[r*targets : (r+1)*targets]
			for k := range targets {
				sum := 0.0
				if len(icpt) > 0 {
					sum = icpt[k]
				}
				for j, v := range coef[k*f : (k+1)*f] {
					sum += v * x[r*f+j]
				}
				row[k] = sum
			}
			post(row)
		}
		return []*value{out}, nil
	}
}

func normalizer(norm string) kernel {
	return func(in []*value) ([]*value, error) {
		x, n, f, err := rows(in[0])
		if err != nil {
			return nil, err
		}
		out, err := newFloat(outType(in[0]), slices.Clone(in[0].shape))
		if err != nil {
			return nil, err
		}
		for r := range n {
			xr, or := x[r*f:(r+1)*f], out.f[r*f:(r+1)*f]
			d := 0.0
			for _, v := range xr {
				switch norm {
				case "MAX":
					d = max(d, v)
				case "L1":
					d += math.Abs(v)
				case "L2":
					d += v * v
				}
			}
			if norm == "L2" {
				d = math.Sqrt(d)
			}
			for j, v := range xr {
				if d == 0 {
					or[j] = v
				} else {
					or[j] = v / d
				}
			}
		}
		return []*value{out}, nil
	}
}

func scaler(offset, scale []float64) kernel {
	return func(in []*value) ([]*value, error) {
		x, n, f, err := rows(in[0])
		if err != nil {
			return nil, err
		}
		pick := func(s []float64, j int, def float64) (float64, error) {
			switch len(s) {
			case 0:
				return def, nil
			case 1:
				return s[0], nil
			case f:
				return s[j], nil
			}
			return 0, fmt.Errorf("%w: Scaler has %d values for %d features", ErrBadInput, len(s), f)
		}
		out, err := newFloat(outType(in[0]), slices.Clone(in[0].shape))
		if err != nil {
			return nil, err
		}
		for j := range f {
			o, err := pick(offset, j, 0)
			if err != nil {
				return nil, err
			}
			s, err := pick(scale, j, 1)
			if err != nil {
				return nil, err
			}
			for r := range n {
				out.f[r*f+j] = (x[r*f+j] - o) * s
			}
		}
		return []*value{out}, nil
	}
}

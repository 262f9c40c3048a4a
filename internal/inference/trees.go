package inference

import (
	"fmt"
	"math"
)

// Tree ensembles (ai.onnx.ml TreeEnsembleClassifier and
// TreeEnsembleRegressor), compiled at load time into flat node arrays.

type treeMode uint8

const (
	modeLeaf treeMode = iota
	modeLEQ
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
)

type treeNode struct {
	feature     int
	threshold   float64
	mode        treeMode
	missingTrue bool
	yes, no     int32 // indices into ensemble.nodes
	wFrom, wTo  int32 // leaf weights in ensemble.weights
}

type leafWeight struct {
	target int
	weight float64
}

type ensemble struct {
	nodes      []treeNode
	roots      []int32
	weights    []leafWeight
	targets    int // classes or regression targets
	maxFeature int
	base       []float64
	aggregate  string
	sum        bool // SUM or AVERAGE
	post       func([]float64)
	postName   string
	// classifier only
	classifier  bool
	labels      classLabelSet
	binaryCase  bool
	allPositive bool
}

func (c *compileCtx) treeEnsemble(n *protoNode, a attrs) (kernel, error) {
	e := &ensemble{classifier: n.op == "TreeEnsembleClassifier", aggregate: a.str("aggregate_function", "SUM")}
	var err error
	e.postName = a.str("post_transform", "NONE")
	if e.post, err = postTransform(e.postName); err != nil {
		return nil, err
	}
	e.sum = e.aggregate == "SUM" || e.aggregate == "AVERAGE"
	switch e.aggregate {
	case "SUM", "AVERAGE", "MIN", "MAX":
	default:
		return nil, fmt.Errorf("%w: aggregate_function %q", ErrUnsupported, e.aggregate)
	}
	prefix := "target_"
	if e.classifier {
		prefix = "class_"
		if e.labels, err = labelSet(a, "classlabels_int64s"); err != nil {
			return nil, err
		}
		e.targets = e.labels.n()
	} else {
		e.targets = int(a.int("n_targets", 1))
		if e.targets < 1 || e.targets > 1<<16 {
			return nil, fmt.Errorf("%w: n_targets %d", ErrMalformed, e.targets)
		}
	}
	e.base = a.floats("base_values")
	if len(e.base) != 0 && len(e.base) != e.targets && !(e.classifier && len(e.base) == 1 && e.targets == 2) {
		return nil, fmt.Errorf("%w: %d base values for %d targets", ErrMalformed, len(e.base), e.targets)
	}
	if err := e.build(a, prefix); err != nil {
		return nil, err
	}
	outs := 1
	if e.classifier {
		outs = 2
	}
	if len(n.outputs) > outs {
		return nil, fmt.Errorf("%w: %s has %d outputs", ErrMalformed, n.op, len(n.outputs))
	}
	return arity(n, 1, 1, e.run)
}

func (e *ensemble) build(a attrs, prefix string) error {
	treeIDs, nodeIDs := a.ints("nodes_treeids"), a.ints("nodes_nodeids")
	features, modes := a.ints("nodes_featureids"), a.strings("nodes_modes")
	values := a.floats("nodes_values")
	yes, no := a.ints("nodes_truenodeids"), a.ints("nodes_falsenodeids")
	missing := a.ints("nodes_missing_value_tracks_true")
	nn := len(nodeIDs)
	if nn == 0 {
		return fmt.Errorf("%w: tree ensemble without nodes", ErrMalformed)
	}
	for name, l := range map[string]int{"nodes_treeids": len(treeIDs), "nodes_featureids": len(features), "nodes_modes": len(modes),
		"nodes_values": len(values), "nodes_truenodeids": len(yes), "nodes_falsenodeids": len(no)} {
		if l != nn {
			return fmt.Errorf("%w: %s has %d entries for %d nodes", ErrMalformed, name, l, nn)
		}
	}
	if len(missing) != 0 && len(missing) != nn {
		return fmt.Errorf("%w: nodes_missing_value_tracks_true has %d entries for %d nodes", ErrMalformed, len(missing), nn)
	}
	type key struct{ tree, node int64 }
	index := make(map[key]int32, nn)
	var treeOrder []int64
	seenTree := map[int64]bool{}
	e.nodes = make([]treeNode, nn)
	for k := range nn {
		kk := key{treeIDs[k], nodeIDs[k]}
		if _, dup := index[kk]; dup {
			return fmt.Errorf("%w: tree %d node %d defined twice", ErrMalformed, kk.tree, kk.node)
		}
		index[kk] = int32(k)
		if !seenTree[kk.tree] {
			seenTree[kk.tree] = true
			treeOrder = append(treeOrder, kk.tree)
		}
		mode, ok := map[string]treeMode{"LEAF": modeLeaf, "BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE,
			"BRANCH_GT": modeGT, "BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ}[modes[k]]
		if !ok {
			return fmt.Errorf("%w: node mode %q", ErrUnsupported, modes[k])
		}
		e.nodes[k] = treeNode{mode: mode, threshold: values[k], feature: int(features[k]), yes: -1, no: -1}
		if mode != modeLeaf {
			if features[k] < 0 || features[k] > 1<<24 {
				return fmt.Errorf("%w: feature id %d", ErrMalformed, features[k])
			}
			e.maxFeature = max(e.maxFeature, int(features[k]))
		}
		if len(missing) > 0 {
			e.nodes[k].missingTrue = missing[k] != 0
		}
	}
	parents := make([]int, nn)
	for k := range nn {
		if e.nodes[k].mode == modeLeaf {
			continue
		}
		y, ok1 := index[key{treeIDs[k], yes[k]}]
		n, ok2 := index[key{treeIDs[k], no[k]}]
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: tree %d node %d branches to a missing node", ErrMalformed, treeIDs[k], nodeIDs[k])
		}
		e.nodes[k].yes, e.nodes[k].no = y, n
		parents[y]++
		if n != y {
			parents[n]++
		}
	}
	// One root per tree, each tree acyclic: every node reached once.
	rootOf := map[int64]int32{}
	for k := range nn {
		if parents[k] == 0 {
			if _, dup := rootOf[treeIDs[k]]; dup {
				return fmt.Errorf("%w: tree %d has more than one root", ErrMalformed, treeIDs[k])
			}
			rootOf[treeIDs[k]] = int32(k)
		}
	}
	visited := make([]bool, nn)
	reached := 0
	for _, t := range treeOrder {
		r, ok := rootOf[t]
		if !ok {
			return fmt.Errorf("%w: tree %d has no root (a cycle)", ErrMalformed, t)
		}
		e.roots = append(e.roots, r)
		stack := []int32{r}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if visited[k] {
				return fmt.Errorf("%w: tree %d is not a tree", ErrMalformed, t)
			}
			visited[k] = true
			reached++
			if nd := e.nodes[k]; nd.mode != modeLeaf {
				stack = append(stack, nd.yes)
				if nd.no != nd.yes {
					stack = append(stack, nd.no)
				}
			}
		}
	}
	if reached != nn {
		return fmt.Errorf("%w: %d tree nodes are unreachable or in cycles", ErrMalformed, nn-reached)
	}

	wTrees, wNodes := a.ints(prefix+"treeids"), a.ints(prefix+"nodeids")
	wIDs, wVals := a.ints(prefix+"ids"), a.floats(prefix+"weights")
	nw := len(wTrees)
	if len(wNodes) != nw || len(wIDs) != nw || len(wVals) != nw {
		return fmt.Errorf("%w: %s* attributes differ in length", ErrMalformed, prefix)
	}
	perNode := make([][]leafWeight, nn)
	classes := map[int64]bool{}
	e.allPositive = true
	for k := range nw {
		idx, ok := index[key{wTrees[k], wNodes[k]}]
		if !ok {
			return fmt.Errorf("%w: weight for missing tree %d node %d", ErrMalformed, wTrees[k], wNodes[k])
		}
		if wIDs[k] < 0 || wIDs[k] >= int64(e.targets) {
			return fmt.Errorf("%w: weight for target %d of %d", ErrMalformed, wIDs[k], e.targets)
		}
		perNode[idx] = append(perNode[idx], leafWeight{target: int(wIDs[k]), weight: wVals[k]})
		classes[wIDs[k]] = true
		if wVals[k] < 0 {
			e.allPositive = false
		}
	}
	for k := range nn {
		e.nodes[k].wFrom = int32(len(e.weights))
		e.weights = append(e.weights, perNode[k]...)
		e.nodes[k].wTo = int32(len(e.weights))
	}
	e.binaryCase = e.classifier && e.targets == 2 && len(classes) == 1
	return nil
}

// leaf walks one tree for row x and returns the leaf index.
func (e *ensemble) leaf(root int32, x []float64) int32 {
	k := root
	for {
		nd := &e.nodes[k]
		if nd.mode == modeLeaf {
			return k
		}
		v := x[nd.feature]
		var yes bool
		if math.IsNaN(v) {
			yes = nd.missingTrue
		} else {
			switch nd.mode {
			case modeLEQ:
				yes = v <= nd.threshold
			case modeLT:
				yes = v < nd.threshold
			case modeGTE:
				yes = v >= nd.threshold
			case modeGT:
				yes = v > nd.threshold
			case modeEQ:
				yes = v == nd.threshold
			case modeNEQ:
				yes = v != nd.threshold
			}
		}
		if yes {
			k = nd.yes
		} else {
			k = nd.no
		}
	}
}

func (e *ensemble) run(in []*value) ([]*value, error) {
	x, n, f, err := rows(in[0])
	if err != nil {
		return nil, err
	}
	if e.maxFeature >= f {
		return nil, fmt.Errorf("%w: trees read feature %d of %d", ErrBadInput, e.maxFeature, f)
	}
	width := e.targets
	if e.binaryCase {
		width = 2
	}
	scores, err := newFloat(outType(in[0]), []int{n, width})
	if err != nil {
		return nil, err
	}
	var labels *value
	if e.classifier {
		labels = e.labels.output(n)
	}
	acc := make([]float64, e.targets)
	has := make([]bool, e.targets)
	for r := range n {
		xr := x[r*f : (r+1)*f]
		clear(acc)
		clear(has)
		for _, root := range e.roots {
			nd := &e.nodes[e.leaf(root, xr)]
			for _, w := range e.weights[nd.wFrom:nd.wTo] {
				switch {
				case !has[w.target]:
					acc[w.target] = w.weight
					has[w.target] = true
				case e.sum:
					acc[w.target] += w.weight
				case e.aggregate == "MIN":
					acc[w.target] = min(acc[w.target], w.weight)
				default:
					acc[w.target] = max(acc[w.target], w.weight)
				}
			}
		}
		if e.aggregate == "AVERAGE" {
			for k := range acc {
				acc[k] /= float64(len(e.roots))
			}
		}
		row := scores.f[r*width : (r+1)*width]
		if !e.classifier {
			for k := range acc {
				if k < len(e.base) {
					acc[k] += e.base[k]
				}
			}
			copy(row, acc)
			e.post(row)
			continue
		}
		e.classify(acc, has, row, labels, r)
	}
	return []*value{labels, scores}[boolIndex(!e.classifier):], nil
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// classify turns accumulated class scores into a label and a score row,
// following onnxruntime's TreeAggregatorClassifier.
func (e *ensemble) classify(acc []float64, has []bool, row []float64, labels *value, r int) {
	if e.targets > 2 {
		for k := range acc {
			if k < len(e.base) {
				acc[k] += e.base[k]
			}
		}
		copy(row, acc)
		e.post(row)
		e.labels.set(labels, r, argmax(acc))
		return
	}
	// Two classes.
	p0, p1 := acc[0], acc[1]
	one := !has[1] // only one score column
	switch len(e.base) {
	case 2:
		if has[1] && !has[0] {
			p1 = e.base[1] + p1
			p0 = -p1
			one = false
		} else {
			p0 += e.base[0]
			p1 += e.base[1]
		}
	case 1:
		p0 += e.base[0]
	}
	if one && e.binaryCase || one {
		s := p0
		if !has[0] && has[1] {
			s = p1
		}
		var positive bool
		if e.binaryCase && e.allPositive {
			positive = s > 0.5
			row[0], row[1] = 1-s, s
		} else {
			positive = s > 0
			if e.postName == "LOGISTIC" {
				row[0], row[1] = sigmoid(-s), sigmoid(s)
			} else {
				row[0], row[1] = -s, s
			}
		}
		e.labels.setBinary(labels, r, positive)
		return
	}
	row[0], row[1] = p0, p1
	cls := 0
	if p1 > p0 {
		cls = 1
	}
	e.post(row)
	e.labels.set(labels, r, cls)
}

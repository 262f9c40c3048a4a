package ledger

// Edge is one derivation step: To was made from From by Action.
type Edge struct {
	From   string `json:"from"` // parent model ref
	To     string `json:"to"`   // name[@version]
	Action string `json:"action"`
	Seq    int64  `json:"seq"`
}

// LineageGraph is the model derivation graph recorded in a ledger.
type LineageGraph struct {
	edges []Edge
}

// Lineage builds the derivation graph from events: every train,
// fine-tune, convert, quantize or import event with "model" inputs adds
// an edge from each such input to its subject.
func Lineage(evs []Event) *LineageGraph {
	g := &LineageGraph{}
	for _, e := range evs {
		if !derivingActions[e.Action] {
			continue
		}
		to := e.Subject.Name
		if e.Subject.Version != "" {
			to += "@" + e.Subject.Version
		}
		for _, in := range e.Inputs {
			if in.Kind == "model" {
				g.edges = append(g.edges, Edge{From: in.Ref, To: to, Action: e.Action, Seq: e.Seq})
			}
		}
	}
	return g
}

func nameOf(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[:i]
		}
	}
	return ref
}

// Ancestry returns the edges leading to model (nearest first), following
// parents transitively.
func (g *LineageGraph) Ancestry(model string) []Edge {
	var out []Edge
	seen := map[string]bool{}
	frontier := []string{model}
	for len(frontier) > 0 && len(out) < 1000 {
		m := frontier[0]
		frontier = frontier[1:]
		if seen[m] {
			continue
		}
		seen[m] = true
		for _, e := range g.edges {
			if nameOf(e.To) == m {
				out = append(out, e)
				frontier = append(frontier, nameOf(e.From))
			}
		}
	}
	return out
}

// Descendants returns the edges from model to models derived from it,
// transitively.
func (g *LineageGraph) Descendants(model string) []Edge {
	var out []Edge
	seen := map[string]bool{}
	frontier := []string{model}
	for len(frontier) > 0 && len(out) < 1000 {
		m := frontier[0]
		frontier = frontier[1:]
		if seen[m] {
			continue
		}
		seen[m] = true
		for _, e := range g.edges {
			if nameOf(e.From) == m {
				out = append(out, e)
				frontier = append(frontier, nameOf(e.To))
			}
		}
	}
	return out
}

// Package modelcard reads what a Hugging Face model repository says about
// itself: the model card (README.md, YAML front matter as specified by the
// Hub's model card metadata, with the model-index evaluation results, and
// the prose sections of the card template: uses, out-of-scope use, bias,
// risks and limitations, recommendations) and config.json (the
// transformers configuration). Both are parsed as data; nothing is run.
package modelcard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits.
const (
	// MaxCardSize bounds a README.md that is read.
	MaxCardSize = 4 << 20
	// MaxFrontMatter bounds the YAML front matter.
	MaxFrontMatter = 1 << 20
	// MaxItems bounds every list taken from a card (datasets, tags, results,
	// section items).
	MaxItems = 1000
	// maxYAMLNodes bounds the YAML node count (alias expansion included).
	maxYAMLNodes = 100_000
)

// ErrInvalid marks a card or config that cannot be read.
var ErrInvalid = errors.New("invalid model card")

// Card is what a model card declares.
type Card struct {
	// Front matter (Hub model card metadata).
	ModelName   string
	License     string
	LicenseName string
	LicenseLink string
	Datasets    []string
	BaseModels  []string
	Languages   []string
	Tags        []string
	PipelineTag string
	LibraryName string
	Metrics     []string
	Results     []Result
	// Prose sections, each item a paragraph or a list item.
	Sections Sections
}

// Result is one evaluation result of the model-index.
type Result struct {
	Model       string
	TaskType    string
	TaskName    string
	DatasetType string
	DatasetName string
	Config      string
	Split       string
	MetricType  string
	MetricName  string
	Value       string
	Verified    bool
}

// Sections holds the prose of the card template's sections.
type Sections struct {
	Summary         string
	Users           []string
	UseCases        []string
	OutOfScope      []string
	Limitations     []string
	Bias            []string
	Risks           []string
	Recommendations []string
	Ethics          []string
	TrainingData    []string
}

// ParseCard reads a README.md: the YAML front matter between "---" lines
// at the very start, then the Markdown sections.
func ParseCard(data []byte) (*Card, error) {
	if len(data) > MaxCardSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrInvalid, len(data), MaxCardSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	fm, body, err := splitFrontMatter(data)
	if err != nil {
		return nil, err
	}
	c := &Card{}
	if len(fm) > 0 {
		if err := c.parseFrontMatter(fm); err != nil {
			return nil, err
		}
	}
	c.Sections = parseSections(body)
	return c, nil
}

func splitFrontMatter(data []byte) (fm, body []byte, err error) {
	first, rest, ok := bytes.Cut(data, []byte("\n"))
	if !ok || strings.TrimRight(string(first), " \t\r") != "---" {
		return nil, data, nil
	}
	off := 0
	for off < len(rest) {
		line, _, _ := bytes.Cut(rest[off:], []byte("\n"))
		t := strings.TrimRight(string(line), " \t\r")
		if t == "---" || t == "..." {
			fm = rest[:off]
			next := off + len(line) + 1
			if next > len(rest) {
				next = len(rest)
			}
			if len(fm) > MaxFrontMatter {
				return nil, nil, fmt.Errorf("%w: front matter of %d bytes (limit %d)", ErrInvalid, len(fm), MaxFrontMatter)
			}
			return fm, rest[next:], nil
		}
		off += len(line) + 1
	}
	return nil, nil, fmt.Errorf("%w: front matter is not closed by ---", ErrInvalid)
}

func (c *Card) parseFrontMatter(fm []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(fm, &root); err != nil {
		return fmt.Errorf("%w: front matter: %v", ErrInvalid, err)
	}
	if root.Kind == 0 {
		return nil
	}
	n := 0
	if countNodes(&root, &n, 0) {
		return fmt.Errorf("%w: front matter too large or too deep", ErrInvalid)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: front matter is not a mapping", ErrInvalid)
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i].Value, doc.Content[i+1]
		switch k {
		case "license":
			c.License = strings.Join(strs(v), " OR ")
		case "license_name":
			c.LicenseName = scalar(v)
		case "license_link":
			c.LicenseLink = scalar(v)
		case "datasets":
			c.Datasets = strs(v)
		case "base_model":
			c.BaseModels = strs(v)
		case "language":
			c.Languages = strs(v)
		case "tags":
			c.Tags = strs(v)
		case "pipeline_tag":
			c.PipelineTag = scalar(v)
		case "library_name":
			c.LibraryName = scalar(v)
		case "metrics":
			c.Metrics = strs(v)
		case "model_name":
			c.ModelName = scalar(v)
		case "model-index":
			c.parseModelIndex(v)
		}
	}
	return nil
}

// countNodes reports whether the tree is too big or deep; aliases count
// their target again, which bounds alias bombs.
func countNodes(n *yaml.Node, count *int, depth int) bool {
	*count++
	if *count > maxYAMLNodes || depth > 64 {
		return true
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil && depth < 64 {
			return countNodes(n.Alias, count, depth+1)
		}
		return false
	}
	for _, c := range n.Content {
		if countNodes(c, count, depth+1) {
			return true
		}
	}
	return false
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// strs accepts a scalar or a sequence of scalars.
func strs(n *yaml.Node) []string {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if s := scalar(n); s != "" {
			return []string{s}
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s := scalar(c); s != "" && len(out) < MaxItems {
			out = append(out, s)
		}
	}
	return out
}

func field(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	case n.Kind == yaml.MappingNode:
		return []*yaml.Node{n}
	}
	return nil
}

// parseModelIndex reads model-index: [{name, results: [{task, dataset,
// metrics: [{type, value, name, verified}]}]}].
func (c *Card) parseModelIndex(v *yaml.Node) {
	for _, m := range items(v) {
		name := scalar(field(m, "name"))
		if c.ModelName == "" {
			c.ModelName = name
		}
		for _, r := range items(field(m, "results")) {
			task, ds := field(r, "task"), field(r, "dataset")
			for _, mt := range items(field(r, "metrics")) {
				if len(c.Results) >= MaxItems {
					return
				}
				val := field(mt, "value")
				res := Result{
					Model:       name,
					TaskType:    scalar(field(task, "type")),
					TaskName:    scalar(field(task, "name")),
					DatasetType: scalar(field(ds, "type")),
					DatasetName: scalar(field(ds, "name")),
					Config:      scalar(field(ds, "config")),
					Split:       scalar(field(ds, "split")),
					MetricType:  scalar(field(mt, "type")),
					MetricName:  scalar(field(mt, "name")),
					Value:       scalar(val),
				}
				if b, err := strconv.ParseBool(scalar(field(mt, "verified"))); err == nil {
					res.Verified = b
				}
				if res.MetricType == "" && res.MetricName == "" {
					continue
				}
				c.Results = append(c.Results, res)
			}
		}
	}
}

// EvalDatasets returns the distinct datasets of the evaluation results
// (their Hub ids, else names), sorted.
func (c *Card) EvalDatasets() []string {
	seen := map[string]bool{}
	for _, r := range c.Results {
		id := r.DatasetType
		if id == "" {
			id = r.DatasetName
		}
		if id != "" {
			seen[id] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sectionKind maps a heading to the Sections field it fills.
func sectionKind(h string) string {
	h = strings.ToLower(h)
	h = strings.Trim(h, " #*_:[]")
	h = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(h, "[optional]")), "]")
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(h, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("out-of-scope", "out of scope", "misuse"):
		return "outofscope"
	case has("intended users", "primary users") || h == "users" || has("who") && has("use"):
		return "users"
	case h == "uses" || h == "use cases" || h == "how to use" || has("intended us", "direct use", "downstream use"):
		return "uses"
	case has("recommendation", "mitigation"):
		return "recommendations"
	case has("fairness") || has("bias") && !has("limitation", "risk"):
		return "bias"
	case has("bias", "limitation"):
		return "limitations"
	case has("risk"):
		return "risks"
	case has("ethic"):
		return "ethics"
	case h == "training data" || h == "training dataset":
		return "training"
	case h == "model description" || h == "model summary" || h == "model details" || h == "summary" || h == "description":
		return "summary"
	}
	return ""
}

// placeholder reports template filler that says nothing.
func placeholder(s string) bool {
	l := strings.ToLower(strings.Trim(s, " .[]*_"))
	return l == "" || l == "more information needed" || strings.HasPrefix(l, "this section is meant to") ||
		l == "n/a" || l == "todo" || l == "tbd"
}

// parseSections walks Markdown ATX headings (fenced code skipped) and
// splits each known section into list items or paragraphs.
func parseSections(body []byte) Sections {
	var s Sections
	var kind string
	var buf []string
	flush := func() {
		if kind == "" {
			buf = buf[:0]
			return
		}
		its := splitItems(buf)
		switch kind {
		case "users":
			s.Users = appendCap(s.Users, its)
		case "uses":
			s.UseCases = appendCap(s.UseCases, its)
		case "outofscope":
			s.OutOfScope = appendCap(s.OutOfScope, its)
		case "limitations":
			s.Limitations = appendCap(s.Limitations, its)
		case "bias":
			s.Bias = appendCap(s.Bias, its)
		case "risks":
			s.Risks = appendCap(s.Risks, its)
		case "recommendations":
			s.Recommendations = appendCap(s.Recommendations, its)
		case "ethics":
			s.Ethics = appendCap(s.Ethics, its)
		case "training":
			s.TrainingData = appendCap(s.TrainingData, its)
		case "summary":
			if s.Summary == "" && len(its) > 0 {
				s.Summary = its[0]
			}
		}
		buf = buf[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), MaxCardSize)
	fence := ""
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		if strings.HasPrefix(t, "<!--") {
			continue
		}
		if lvl := headingLevel(t); lvl > 0 {
			flush()
			k := sectionKind(t[lvl:])
			// A sub-heading of a known section that names nothing itself
			// continues its parent.
			if k != "" || lvl <= 2 {
				kind = k
			}
			continue
		}
		buf = append(buf, line)
	}
	flush()
	return s
}

func headingLevel(t string) int {
	n := 0
	for n < len(t) && t[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n == len(t) || (t[n] != ' ' && t[n] != '\t') {
		return 0
	}
	return n
}

func appendCap(dst, src []string) []string {
	for _, s := range src {
		if len(dst) >= MaxItems {
			break
		}
		dst = append(dst, s)
	}
	return dst
}

// splitItems turns section lines into list items when the section is a
// list, else into paragraphs; Markdown emphasis and links are flattened.
func splitItems(lines []string) []string {
	var out []string
	var cur []string
	emit := func() {
		s := clean(strings.Join(cur, " "))
		cur = cur[:0]
		if !placeholder(s) {
			out = append(out, s)
		}
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			if len(cur) > 0 {
				emit()
			}
		case isBullet(t):
			if len(cur) > 0 {
				emit()
			}
			cur = append(cur, strings.TrimSpace(t[2:]))
		case strings.HasPrefix(t, "|") || strings.HasPrefix(t, "<"):
			// tables and HTML are not prose
		default:
			cur = append(cur, t)
		}
	}
	if len(cur) > 0 {
		emit()
	}
	return out
}

func isBullet(t string) bool {
	return len(t) > 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && t[1] == ' '
}

var mdReplacer = strings.NewReplacer("**", "", "__", "", "`", "")

func clean(s string) string {
	s = mdReplacer.Replace(s)
	// [text](url) -> text
	var b strings.Builder
	for {
		i := strings.Index(s, "](")
		if i < 0 {
			break
		}
		open := strings.LastIndexByte(s[:i], '[')
		end := strings.IndexByte(s[i:], ')')
		if open < 0 || end < 0 {
			break
		}
		b.WriteString(s[:open])
		b.WriteString(s[open+1 : i])
		s = s[i+end+1:]
	}
	b.WriteString(s)
	return strings.Join(strings.Fields(b.String()), " ")
}

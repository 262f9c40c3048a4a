package jinja

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Level grades an issue.
type Level int

// Issue levels.
const (
	// Include: the template loads other templates (include, import,
	// extends, from): nothing a chat template needs.
	Include Level = iota + 1
	// Suspicious: a construct with no place in a chat template that
	// prepares an escape (private attributes, dynamic attribute lookup,
	// Python module names, dunder strings).
	Suspicious
	// Escape: a sandbox-escape construct (dunder attribute access).
	Escape
)

// Issue is one finding in a template.
type Issue struct {
	Level Level
	Line  int
	// Construct is a short rendering of what was found ("x.__class__").
	Construct string
	Why       string
}

// dangerousNames are Python modules and builtins no chat template refers
// to; rendering environments that leak them give code execution.
var dangerousNames = map[string]bool{
	"os": true, "subprocess": true, "sys": true, "builtins": true, "eval": true, "exec": true,
	"compile": true, "importlib": true, "globals": true, "getattr": true, "setattr": true,
	"popen": true, "posix": true, "nt": true, "pty": true, "shutil": true, "socket": true,
	"commands": true, "__builtins__": true, "__import__": true,
}

// dangerousMethods run commands, load code or touch files when called.
var dangerousMethods = map[string]bool{
	"popen": true, "system": true, "spawnl": true, "spawnlp": true, "spawnv": true, "spawnvp": true,
	"execl": true, "execlp": true, "execv": true, "execve": true, "execvp": true, "check_output": true,
	"check_call": true, "getoutput": true, "getstatusoutput": true, "import_module": true,
	"load_module": true, "exec_module": true, "fork": true, "unlink": true, "rmtree": true,
	"load_source": true, "eval": true, "exec": true, "compile": true, "__import__": true,
	"mro": true, "read_text": true, "write_text": true, "read_bytes": true, "write_bytes": true,
}

// attrFilters take attribute names as string arguments.
var attrFilters = map[string]bool{
	"attr": true, "map": true, "selectattr": true, "rejectattr": true, "sort": true, "groupby": true,
	"sum": true, "unique": true, "min": true, "max": true, "dictsort": true,
}

// isDunderish reports names that reach Python internals: dunders and
// name-mangled privates such as _TemplateReference__context.
func isDunderish(s string) bool {
	return strings.Contains(s, "__")
}

// ErrLimit marks a template too costly to analyse completely.
var ErrLimit = errors.New("template analysis limit exceeded")

// Check parses a template and returns its issues. A template that does not
// parse returns an error wrapping ErrSyntax; one whose analysis hits a work
// limit returns the issues found so far and an error wrapping ErrLimit.
func Check(src string) ([]Issue, error) {
	t, err := Parse(src)
	if err != nil {
		return nil, err
	}
	issues, complete := t.check()
	if !complete {
		return issues, fmt.Errorf("%w: more than %d analysis steps", ErrLimit, maxSteps)
	}
	return issues, nil
}

// maxSteps bounds the analysis work (expression visits and folds).
const maxSteps = 2_000_000

type foldResult struct {
	s  string
	ok bool
}

type checker struct {
	consts    map[string]*Node // names set to a single expression
	memo      map[string]foldResult
	bound     map[string]bool
	issues    []Issue
	seen      map[string]bool
	steps     int
	exhausted bool
}

// Check walks the syntax tree and returns the issues found.
func (t *Template) Check() []Issue {
	issues, _ := t.check()
	return issues
}

// check also reports whether the analysis completed within its limits.
func (t *Template) check() ([]Issue, bool) {
	c := &checker{consts: map[string]*Node{}, memo: map[string]foldResult{}, bound: map[string]bool{}, seen: map[string]bool{}}
	// First pass: names the template binds itself, and constant assignments
	// that may hide a dunder behind a variable.
	c.bindings(t.Body, 0)
	c.stmts(t.Body, 0)
	sort.SliceStable(c.issues, func(i, j int) bool {
		if c.issues[i].Level != c.issues[j].Level {
			return c.issues[i].Level > c.issues[j].Level
		}
		return c.issues[i].Line < c.issues[j].Line
	})
	return c.issues, !c.exhausted
}

func (c *checker) step() bool {
	c.steps++
	if c.steps > maxSteps {
		c.exhausted = true
		return false
	}
	return true
}

func (c *checker) add(l Level, line int, construct, why string) {
	c.addf(l, line, func() string { return construct }, why)
}

// addf renders the construct only when the issue is new.
func (c *checker) addf(l Level, line int, render func() string, why string) {
	if len(c.issues) >= 100 {
		return
	}
	construct := render()
	key := fmt.Sprint(l, line, construct, why)
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	if len(construct) > 200 {
		construct = construct[:200] + "…"
	}
	c.issues = append(c.issues, Issue{Level: l, Line: line, Construct: construct, Why: why})
}

func (c *checker) bindTarget(n *Node, value *Node) {
	if n == nil {
		return
	}
	switch n.Kind {
	case KName:
		c.bound[n.Op] = true
		if value != nil {
			if _, dup := c.consts[n.Op]; dup {
				c.consts[n.Op] = nil // assigned twice: not a constant
			} else {
				c.consts[n.Op] = value
			}
		}
	case KTuple:
		for _, a := range n.Args {
			c.bindTarget(a, nil)
		}
	case KKeyword:
		c.bound[n.Op] = true
	}
}

func (c *checker) bindings(body []*Node, depth int) {
	if depth > maxDepth {
		return
	}
	for _, n := range body {
		if n.Kind != KStmt {
			continue
		}
		switch n.Op {
		case "set":
			var v *Node
			if len(n.Args) > 1 && len(n.Body) == 0 {
				v = n.Args[1]
			}
			c.bindTarget(n.Args[0], v)
		case "for":
			c.bindTarget(n.Args[0], nil)
			c.bound["loop"] = true
		case "macro", "import", "from", "call":
			for _, a := range n.Args {
				if a != nil && (a.Kind == KName || a.Kind == KKeyword) {
					c.bindTarget(a, nil)
				}
			}
			c.bound["caller"] = true
		case "with":
			for _, a := range n.Args {
				c.bindTarget(a.Args[0], a.Args[1])
			}
		}
		c.bindings(n.Body, depth+1)
		c.bindings(n.Else, depth+1)
	}
}

func (c *checker) stmts(body []*Node, depth int) {
	if depth > maxDepth {
		return
	}
	for _, n := range body {
		switch n.Kind {
		case KOutput:
			c.expr(n.Args[0], 0)
		case KStmt:
			switch n.Op {
			case "include", "import", "extends", "from":
				c.add(Include, n.Line, "{% "+n.Op+" … %}", "loads another template through the environment's loader")
			}
			for i, a := range n.Args {
				if n.Op == "macro" && i == 0 {
					continue
				}
				c.expr(a, 0)
			}
			c.stmts(n.Body, depth+1)
			c.stmts(n.Else, depth+1)
		}
	}
}

// expr visits an expression. Operator and filter chains make left-deep
// trees as deep as the template is long; the walk is bounded by the token
// limit and the step budget, not by depth, so nothing is skipped silently.
func (c *checker) expr(n *Node, depth int) {
	if n == nil {
		return
	}
	if !c.step() {
		return
	}
	switch n.Kind {
	case KName:
		if dangerousNames[n.Op] && !c.bound[n.Op] {
			lvl := Suspicious
			if isDunderish(n.Op) {
				lvl = Escape
			}
			c.add(lvl, n.Line, n.Op, "refers to a Python module or builtin")
		} else if isDunderish(n.Op) && !c.bound[n.Op] {
			c.add(Escape, n.Line, n.Op, "refers to a Python dunder name")
		}
	case KConst:
		if n.IsStr {
			c.checkLiteral(n)
		}
	case KGetattr:
		c.checkAttr(n.Args[0], n.Op, n.Line, "attribute")
	case KGetitem:
		if s, ok := c.fold(n.Args[1], 0); ok {
			c.checkAttr(n.Args[0], s, n.Line, "subscript")
		}
	case KFilter:
		c.checkFilter(n)
	case KCall:
		if fn := n.Args[0]; fn.Kind == KGetattr && dangerousMethods[fn.Op] {
			c.addf(Escape, n.Line, func() string { return render(fn, 0) + "(…)" }, "calls a method that runs commands, loads code or touches files")
		}
		for _, a := range n.Args[1:] {
			if s, ok := c.fold(a, 0); ok && isDunderish(s) {
				c.addf(Escape, n.Line, func() string { return render(n, 0) }, fmt.Sprintf("passes the dunder name %q to a call", s))
			}
		}
	}
	for _, a := range n.Args {
		c.expr(a, depth+1)
	}
}

func (c *checker) checkAttr(obj *Node, name string, line int, how string) {
	construct := func() string {
		if how == "subscript" {
			return render(obj, 0) + "[" + strconv.Quote(clip(name)) + "]"
		}
		return render(obj, 0) + "." + name
	}
	switch {
	case isDunderish(name):
		c.addf(Escape, line, construct, fmt.Sprintf("accesses the Python internal %q (%s), the sandbox-escape pattern", clip(name), how))
	case strings.HasPrefix(name, "_"):
		c.addf(Suspicious, line, construct, fmt.Sprintf("accesses the private attribute %q", clip(name)))
	case dangerousNames[name] && how == "attribute":
		c.addf(Suspicious, line, construct, fmt.Sprintf("reaches the Python module or builtin %q", name))
	}
}

func (c *checker) checkFilter(n *Node) {
	if !attrFilters[n.Op] {
		for _, a := range n.Args[1:] {
			if s, ok := c.fold(a, 0); ok && isDunderish(s) {
				c.addf(Escape, n.Line, func() string { return render(n, 0) }, fmt.Sprintf("passes the dunder name %q to filter %s", clip(s), n.Op))
			}
		}
		return
	}
	for i, a := range n.Args[1:] {
		v := a
		if a.Kind == KKeyword {
			v = a.Args[0]
		}
		s, ok := c.fold(v, 0)
		switch {
		case ok && isDunderish(s):
			c.addf(Escape, n.Line, func() string { return render(n, 0) }, fmt.Sprintf("looks up the Python internal %q with filter %s", clip(s), n.Op))
		case ok && strings.HasPrefix(s, "_"):
			c.addf(Suspicious, n.Line, func() string { return render(n, 0) }, fmt.Sprintf("looks up the private attribute %q with filter %s", clip(s), n.Op))
		case !ok && n.Op == "attr" && i == 0:
			c.addf(Suspicious, n.Line, func() string { return render(n, 0) }, "looks up an attribute whose name is computed at render time")
		}
	}
}

// checkLiteral flags dunder names written as plain strings: chat templates
// have no use for them, and they feed obfuscated lookups.
func (c *checker) checkLiteral(n *Node) {
	s := n.Str
	for _, d := range []string{"__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__",
		"__import__", "__getattribute__", "__init__", "__base__", "__bases__", "__dict__", "__code__",
		"__reduce__", "__reduce_ex__", "__self__", "__func__", "__loader__", "__spec__",
		"_TemplateReference__context"} {
		if strings.Contains(s, d) {
			c.add(Suspicious, n.Line, strconv.Quote(clip(s)), fmt.Sprintf("string literal names the Python internal %q", d))
			return
		}
		if r := reverse(s); strings.Contains(r, d) {
			c.add(Suspicious, n.Line, strconv.Quote(clip(s)), fmt.Sprintf("string literal is the reversed Python internal %q", d))
			return
		}
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

const (
	maxFold      = 4096
	maxFoldDepth = 10_000
)

// fold evaluates string-valued constant expressions: concatenation,
// formatting, joins, reversal and variables set once to such an
// expression, the ways a dunder name is spelled to dodge a literal match.
func (c *checker) fold(n *Node, depth int) (string, bool) {
	if n == nil || depth > maxFoldDepth || !c.step() {
		return "", false
	}
	switch n.Kind {
	case KConst:
		if n.IsStr {
			return n.Str, true
		}
		if n.Op != "" && n.Op[0] >= '0' && n.Op[0] <= '9' {
			return n.Op, true
		}
	case KName:
		if r, done := c.memo[n.Op]; done {
			return r.s, r.ok
		}
		if v := c.consts[n.Op]; v != nil {
			c.memo[n.Op] = foldResult{} // breaks self-reference
			s, ok := c.fold(v, depth+1)
			c.memo[n.Op] = foldResult{s, ok}
			return s, ok
		}
	case KBinary:
		if n.Op == "~" || n.Op == "+" {
			a, ok := c.fold(n.Args[0], depth+1)
			if !ok {
				return "", false
			}
			b, ok := c.fold(n.Args[1], depth+1)
			if ok && len(a)+len(b) <= maxFold {
				return a + b, true
			}
		}
		if n.Op == "%" {
			if f, ok := c.fold(n.Args[0], depth+1); ok {
				return c.percent(f, n.Args[1], depth)
			}
		}
		if n.Op == "*" {
			a, ok1 := c.fold(n.Args[0], depth+1)
			b, ok2 := "", false
			if ok1 {
				b, ok2 = c.fold(n.Args[1], depth+1)
			}
			if ok2 {
				if k, err := strconv.Atoi(b); err == nil && k >= 0 && k*len(a) <= maxFold {
					return strings.Repeat(a, k), true
				}
			}
		}
	case KFilter:
		if n.Args[0] == nil {
			return "", false
		}
		in, ok := c.fold(n.Args[0], depth+1)
		if !ok {
			if n.Op == "join" && n.Args[0].Kind == KList {
				return c.join(n.Args[0].Args, n.Args[1:], depth)
			}
			return "", false
		}
		switch n.Op {
		case "reverse":
			return reverse(in), true
		case "lower":
			return strings.ToLower(in), true
		case "upper":
			return strings.ToUpper(in), true
		case "trim":
			return strings.TrimSpace(in), true
		case "string", "e", "escape", "safe", "join":
			return in, true
		case "replace":
			if len(n.Args) >= 3 {
				a, ok1 := c.fold(n.Args[1], depth+1)
				b, ok2 := c.fold(n.Args[2], depth+1)
				if ok1 && ok2 {
					out := strings.ReplaceAll(in, a, b)
					if len(out) <= maxFold {
						return out, true
					}
				}
			}
		case "format":
			return c.percent(in, &Node{Kind: KTuple, Args: n.Args[1:]}, depth)
		}
	case KUnary:
		if n.Op == "-" {
			if v, ok := c.fold(n.Args[0], depth+1); ok && v != "" && v[0] >= '0' && v[0] <= '9' {
				return "-" + v, true
			}
		}
	case KGetitem:
		in, ok := c.fold(n.Args[0], depth+1)
		if ok && n.Args[1].Kind == KSlice {
			s := n.Args[1].Args
			if s[0] == nil && s[1] == nil && s[2] != nil {
				if st, ok := c.fold(s[2], depth+1); ok && st == "-1" {
					return reverse(in), true
				}
			}
		}
	case KCall:
		fn := n.Args[0]
		if fn.Kind != KGetattr {
			return "", false
		}
		switch fn.Op {
		case "join":
			sep, ok := c.fold(fn.Args[0], depth+1)
			if ok && len(n.Args) == 2 && n.Args[1].Kind == KList {
				return c.join(n.Args[1].Args, []*Node{{Kind: KConst, Str: sep, IsStr: true}}, depth)
			}
		case "format":
			f, ok := c.fold(fn.Args[0], depth+1)
			if ok {
				return c.braces(f, n.Args[1:], depth)
			}
		case "lower", "upper", "strip":
			in, ok := c.fold(fn.Args[0], depth+1)
			if ok {
				switch fn.Op {
				case "lower":
					return strings.ToLower(in), true
				case "upper":
					return strings.ToUpper(in), true
				}
				return strings.TrimSpace(in), true
			}
		}
	}
	return "", false
}

func (c *checker) join(items, args []*Node, depth int) (string, bool) {
	sep := ""
	if len(args) > 0 {
		s, ok := c.fold(args[0], depth+1)
		if !ok {
			return "", false
		}
		sep = s
	}
	var parts []string
	total := 0
	for _, it := range items {
		s, ok := c.fold(it, depth+1)
		if !ok {
			return "", false
		}
		total += len(s) + len(sep)
		if total > maxFold {
			return "", false
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, sep), true
}

// percent applies Python %-formatting with %s, %d, %c and %%.
func (c *checker) percent(f string, args *Node, depth int) (string, bool) {
	var vals []*Node
	if args.Kind == KTuple || args.Kind == KList {
		vals = args.Args
	} else {
		vals = []*Node{args}
	}
	var b strings.Builder
	k := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		if f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if k >= len(vals) {
			return "", false
		}
		v, ok := c.fold(vals[k], depth+1)
		k++
		if !ok {
			return "", false
		}
		switch f[i] {
		case 's', 'r', 'd', 'i':
			b.WriteString(v)
		case 'c':
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= utf8.MaxRune {
				b.WriteRune(rune(n))
			} else {
				b.WriteString(v)
			}
		default:
			return "", false
		}
		if b.Len() > maxFold {
			return "", false
		}
	}
	return b.String(), true
}

// braces applies str.format with positional "{}" and "{N}" fields.
func (c *checker) braces(f string, args []*Node, depth int) (string, bool) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '{' && i+1 < len(f) && f[i+1] == '{':
			b.WriteByte('{')
			i++
		case f[i] == '}' && i+1 < len(f) && f[i+1] == '}':
			b.WriteByte('}')
			i++
		case f[i] == '{':
			j := strings.IndexByte(f[i:], '}')
			if j < 0 {
				return "", false
			}
			field := f[i+1 : i+j]
			idx := auto
			if field != "" {
				n, err := strconv.Atoi(field)
				if err != nil {
					return "", false
				}
				idx = n
			} else {
				auto++
			}
			if idx < 0 || idx >= len(args) {
				return "", false
			}
			v, ok := c.fold(args[idx], depth+1)
			if !ok {
				return "", false
			}
			b.WriteString(v)
			i += j
		default:
			b.WriteByte(f[i])
		}
		if b.Len() > maxFold {
			return "", false
		}
	}
	return b.String(), true
}

// render prints an expression compactly for evidence.
func render(n *Node, depth int) string {
	if n == nil {
		return ""
	}
	if depth > 12 {
		return "…"
	}
	r := func(m *Node) string { return render(m, depth+1) }
	list := func(ns []*Node) string {
		var parts []string
		for _, a := range ns {
			parts = append(parts, r(a))
		}
		return strings.Join(parts, ", ")
	}
	switch n.Kind {
	case KName:
		return n.Op
	case KConst:
		if n.IsStr {
			return strconv.Quote(clip(n.Str))
		}
		return n.Op
	case KGetattr:
		return r(n.Args[0]) + "." + n.Op
	case KGetitem:
		return r(n.Args[0]) + "[" + r(n.Args[1]) + "]"
	case KSlice:
		return r(n.Args[0]) + ":" + r(n.Args[1]) + ":" + r(n.Args[2])
	case KCall:
		return r(n.Args[0]) + "(" + list(n.Args[1:]) + ")"
	case KFilter:
		s := r(n.Args[0]) + "|" + n.Op
		if len(n.Args) > 1 {
			s += "(" + list(n.Args[1:]) + ")"
		}
		return s
	case KTest:
		return r(n.Args[0]) + " is " + n.Op
	case KKeyword:
		return n.Op + "=" + r(n.Args[0])
	case KBinary:
		return r(n.Args[0]) + " " + n.Op + " " + r(n.Args[1])
	case KUnary:
		return n.Op + " " + r(n.Args[0])
	case KCond:
		return r(n.Args[1]) + " if " + r(n.Args[0]) + " else " + r(n.Args[2])
	case KList:
		return "[" + list(n.Args) + "]"
	case KTuple:
		return "(" + list(n.Args) + ")"
	case KDict:
		return "{…}"
	case KStar:
		return n.Op + r(n.Args[0])
	}
	return "…"
}

package jinja

import (
	"fmt"
	"strings"
)

// Kind is a syntax-tree node type.
type Kind int

// Node kinds.
const (
	KText    Kind = iota + 1
	KOutput       // {{ Args[0] }}
	KStmt         // {% Op … %}: Args are expressions, Body/Else nested statements
	KName         // Op is the name
	KConst        // Str / IsStr; Op holds the literal text for numbers, true/false/none
	KGetattr      // Args[0].Op
	KGetitem      // Args[0][Args[1]]
	KSlice        // Args: start, stop, step (nil when absent)
	KCall         // Args[0](Args[1:]...)
	KFilter       // Args[0]|Op(Args[1:]...); Args[0] is nil for a filter block
	KTest         // Args[0] is Op(Args[1:]...)
	KKeyword      // Op=Args[0] in a call
	KBinary       // Args[0] Op Args[1]
	KUnary        // Op Args[0]
	KCond         // Args[1] if Args[0] else Args[2]
	KList
	KTuple
	KDict // Args alternate key, value
	KStar // *Args[0] or **Args[0] (Op "*" or "**")
)

// Node is one syntax-tree node.
type Node struct {
	Kind  Kind
	Op    string
	Str   string
	IsStr bool
	Args  []*Node
	Body  []*Node
	Else  []*Node
	Line  int
}

// Template is a parsed template.
type Template struct {
	Body []*Node
}

// Parse parses a template.
func Parse(src string) (*Template, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	body, end, err := p.subparse(nil)
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errf("unexpected end tag %q", end)
	}
	return &Template{Body: body}, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) cur() token { return p.toks[p.i] }
func (p *parser) look() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Line: p.cur().line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(v string) bool   { t := p.cur(); return t.kind == tOp && t.val == v }
func (p *parser) isName(v string) bool { t := p.cur(); return t.kind == tName && t.val == v }

func (p *parser) skipOp(v string) bool {
	if p.isOp(v) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(v string) bool {
	if p.isName(v) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(v string) error {
	if !p.skipOp(v) {
		return p.errf("expected '%s', got %s", v, p.cur())
	}
	return nil
}

func (p *parser) expectName() (string, error) {
	t := p.cur()
	if t.kind != tName {
		return "", p.errf("expected a name, got %s", t)
	}
	p.next()
	return t.val, nil
}

func (p *parser) expectKind(k tokKind, what string) error {
	if p.cur().kind != k {
		return p.errf("expected %s, got %s", what, p.cur())
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf("nested deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// subparse reads nodes until EOF or a block tag whose name is in ends;
// it returns that name with the parser just after it (the tag's remaining
// tokens are left for the caller).
func (p *parser) subparse(ends []string) ([]*Node, string, error) {
	if err := p.enter(); err != nil {
		return nil, "", err
	}
	defer p.leave()
	var out []*Node
	for {
		t := p.cur()
		switch t.kind {
		case tEOF:
			if len(ends) > 0 {
				return nil, "", p.errf("unexpected end of template, expected %s", strings.Join(ends, " or "))
			}
			return out, "", nil
		case tText:
			p.next()
			out = append(out, &Node{Kind: KText, Str: t.val, IsStr: true, Line: t.line})
		case tVarBegin:
			p.next()
			e, err := p.parseTuple(true, nil)
			if err != nil {
				return nil, "", err
			}
			if err := p.expectKind(tVarEnd, "'}}'"); err != nil {
				return nil, "", err
			}
			out = append(out, &Node{Kind: KOutput, Args: []*Node{e}, Line: t.line})
		case tBlockBegin:
			p.next()
			name := p.cur()
			if name.kind != tName {
				return nil, "", p.errf("expected a tag name, got %s", name)
			}
			for _, e := range ends {
				if name.val == e {
					p.next()
					return out, e, nil
				}
			}
			n, err := p.statement()
			if err != nil {
				return nil, "", err
			}
			out = append(out, n)
		default:
			return nil, "", p.errf("unexpected %s", t)
		}
	}
}

func (p *parser) blockEnd() error { return p.expectKind(tBlockEnd, "'%}'") }

// body parses statements up to one of ends and consumes the end tag.
func (p *parser) body(ends ...string) ([]*Node, string, error) {
	if err := p.blockEnd(); err != nil {
		return nil, "", err
	}
	return p.subparse(ends)
}

func (p *parser) statement() (*Node, error) {
	t := p.next()
	n := &Node{Kind: KStmt, Op: t.val, Line: t.line}
	var err error
	switch t.val {
	case "for":
		err = p.parseFor(n)
	case "if":
		err = p.parseIf(n)
	case "set":
		err = p.parseSet(n)
	case "macro":
		err = p.parseMacro(n)
	case "call":
		err = p.parseCallBlock(n)
	case "filter":
		err = p.parseFilterBlock(n)
	case "with":
		err = p.parseWith(n)
	case "block":
		err = p.parseBlock(n)
	case "autoescape":
		err = p.simpleBlock(n, "endautoescape")
	case "generation":
		// transformers' AssistantTracker extension marks assistant output.
		n.Body, _, err = p.body("endgeneration")
		if err == nil {
			err = p.blockEnd()
		}
	case "print", "do":
		var e *Node
		if e, err = p.parseTuple(true, nil); err == nil {
			n.Args = []*Node{e}
			err = p.blockEnd()
		}
	case "extends", "include":
		err = p.parseInclude(n)
	case "import":
		err = p.parseImport(n)
	case "from":
		err = p.parseFrom(n)
	case "break", "continue":
		err = p.blockEnd()
	default:
		return nil, &SyntaxError{Line: t.line, Msg: fmt.Sprintf("unknown tag %q", t.val)}
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (p *parser) simpleBlock(n *Node, end string) error {
	e, err := p.parseExpression(true)
	if err != nil {
		return err
	}
	n.Args = []*Node{e}
	if n.Body, _, err = p.body(end); err != nil {
		return err
	}
	return p.blockEnd()
}

func (p *parser) parseFor(n *Node) error {
	target, err := p.parseAssignTarget(false, []string{"in"})
	if err != nil {
		return err
	}
	if !p.skipName("in") {
		return p.errf("expected 'in' in for loop, got %s", p.cur())
	}
	iter, err := p.parseTuple(false, []string{"recursive"})
	if err != nil {
		return err
	}
	n.Args = []*Node{target, iter}
	if p.skipName("if") {
		cond, err := p.parseExpression(true)
		if err != nil {
			return err
		}
		n.Args = append(n.Args, cond)
	}
	p.skipName("recursive")
	body, end, err := p.body("endfor", "else")
	if err != nil {
		return err
	}
	n.Body = body
	if end == "else" {
		if n.Else, _, err = p.body("endfor"); err != nil {
			return err
		}
	}
	return p.blockEnd()
}

func (p *parser) parseIf(n *Node) error {
	cond, err := p.parseTuple(false, nil)
	if err != nil {
		return err
	}
	n.Args = []*Node{cond}
	body, end, err := p.body("elif", "else", "endif")
	if err != nil {
		return err
	}
	n.Body = body
	switch end {
	case "elif":
		sub := &Node{Kind: KStmt, Op: "if", Line: p.cur().line}
		if err := p.parseIf(sub); err != nil {
			return err
		}
		n.Else = []*Node{sub}
		return nil // the nested if consumed endif
	case "else":
		if n.Else, _, err = p.body("endif"); err != nil {
			return err
		}
	}
	return p.blockEnd()
}

func (p *parser) parseSet(n *Node) error {
	target, err := p.parseAssignTarget(true, nil)
	if err != nil {
		return err
	}
	n.Args = []*Node{target}
	if p.skipOp("=") {
		e, err := p.parseTuple(true, nil)
		if err != nil {
			return err
		}
		n.Args = append(n.Args, e)
		return p.blockEnd()
	}
	// Block set, optionally filtered: {% set x | upper %}…{% endset %}
	if p.isOp("|") {
		f, err := p.parseFilterChain(nil)
		if err != nil {
			return err
		}
		n.Args = append(n.Args, f)
	}
	if n.Body, _, err = p.body("endset"); err != nil {
		return err
	}
	return p.blockEnd()
}

func (p *parser) parseSignature() ([]*Node, error) {
	var args []*Node
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for !p.isOp(")") {
		if len(args) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		name, err := p.expectName()
		if err != nil {
			return nil, err
		}
		arg := &Node{Kind: KName, Op: name, Line: p.cur().line}
		if p.skipOp("=") {
			def, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			arg = &Node{Kind: KKeyword, Op: name, Args: []*Node{def}, Line: arg.Line}
		}
		args = append(args, arg)
	}
	p.next()
	return args, nil
}

func (p *parser) parseMacro(n *Node) error {
	name, err := p.expectName()
	if err != nil {
		return err
	}
	sig, err := p.parseSignature()
	if err != nil {
		return err
	}
	n.Str = name
	n.Args = append([]*Node{{Kind: KName, Op: name, Line: n.Line}}, sig...)
	if n.Body, _, err = p.body("endmacro"); err != nil {
		return err
	}
	return p.blockEnd()
}

func (p *parser) parseCallBlock(n *Node) error {
	if p.isOp("(") {
		sig, err := p.parseSignature()
		if err != nil {
			return err
		}
		n.Args = append(n.Args, sig...)
	}
	e, err := p.parseExpression(true)
	if err != nil {
		return err
	}
	if e.Kind != KCall {
		return p.errf("expected call")
	}
	n.Args = append([]*Node{e}, n.Args...)
	if n.Body, _, err = p.body("endcall"); err != nil {
		return err
	}
	return p.blockEnd()
}

func (p *parser) parseFilterBlock(n *Node) error {
	f, err := p.parseFilterChain(nil)
	if err != nil {
		return err
	}
	n.Args = []*Node{f}
	if n.Body, _, err = p.body("endfilter"); err != nil {
		return err
	}
	return p.blockEnd()
}

func (p *parser) parseWith(n *Node) error {
	for !(p.cur().kind == tBlockEnd) {
		if len(n.Args) > 0 {
			if err := p.expectOp(","); err != nil {
				return err
			}
		}
		target, err := p.parseAssignTarget(false, nil)
		if err != nil {
			return err
		}
		if err := p.expectOp("="); err != nil {
			return err
		}
		v, err := p.parseExpression(true)
		if err != nil {
			return err
		}
		n.Args = append(n.Args, &Node{Kind: KBinary, Op: "=", Args: []*Node{target, v}, Line: target.Line})
	}
	var err error
	if n.Body, _, err = p.body("endwith"); err != nil {
		return err
	}
	return p.blockEnd()
}

func (p *parser) parseBlock(n *Node) error {
	name, err := p.expectName()
	if err != nil {
		return err
	}
	n.Str = name
	p.skipName("scoped")
	p.skipName("required")
	if n.Body, _, err = p.body("endblock"); err != nil {
		return err
	}
	if p.cur().kind == tName {
		p.next()
	}
	return p.blockEnd()
}

func (p *parser) skipContext() {
	if (p.isName("with") || p.isName("without")) && p.look().kind == tName && p.look().val == "context" {
		p.next()
		p.next()
	}
}

func (p *parser) parseInclude(n *Node) error {
	e, err := p.parseExpression(true)
	if err != nil {
		return err
	}
	n.Args = []*Node{e}
	if n.Op == "include" {
		if p.isName("ignore") && p.look().kind == tName && p.look().val == "missing" {
			p.next()
			p.next()
		}
		p.skipContext()
	}
	return p.blockEnd()
}

func (p *parser) parseImport(n *Node) error {
	e, err := p.parseExpression(true)
	if err != nil {
		return err
	}
	if !p.skipName("as") {
		return p.errf("expected 'as' in import")
	}
	name, err := p.expectName()
	if err != nil {
		return err
	}
	n.Args = []*Node{e, {Kind: KName, Op: name, Line: n.Line}}
	p.skipContext()
	return p.blockEnd()
}

func (p *parser) parseFrom(n *Node) error {
	e, err := p.parseExpression(true)
	if err != nil {
		return err
	}
	if !p.skipName("import") {
		return p.errf("expected 'import' in from")
	}
	n.Args = []*Node{e}
	for {
		if p.isName("with") || p.isName("without") {
			if p.look().kind == tName && p.look().val == "context" {
				p.skipContext()
				break
			}
		}
		name, err := p.expectName()
		if err != nil {
			return err
		}
		if p.skipName("as") {
			if name, err = p.expectName(); err != nil {
				return err
			}
		}
		n.Args = append(n.Args, &Node{Kind: KName, Op: name, Line: n.Line})
		if !p.skipOp(",") {
			p.skipContext()
			break
		}
		if p.cur().kind != tName {
			break
		}
	}
	return p.blockEnd()
}

// parseAssignTarget parses a name, a tuple of names, or (with namespace)
// name.attr.
func (p *parser) parseAssignTarget(withNamespace bool, extraEnd []string) (*Node, error) {
	line := p.cur().line
	if withNamespace && p.cur().kind == tName && p.look().kind == tOp && p.look().val == "." {
		obj := p.next()
		p.next()
		attr, err := p.expectName()
		if err != nil {
			return nil, err
		}
		return &Node{Kind: KGetattr, Op: attr, Args: []*Node{{Kind: KName, Op: obj.val, Line: line}}, Line: line}, nil
	}
	t, err := p.parseTupleWith(p.parsePrimaryTarget, extraEnd, true)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (p *parser) parsePrimaryTarget() (*Node, error) {
	if p.skipOp("(") {
		t, err := p.parseTupleWith(p.parsePrimaryTarget, nil, true)
		if err != nil {
			return nil, err
		}
		return t, p.expectOp(")")
	}
	line := p.cur().line
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	return &Node{Kind: KName, Op: name, Line: line}, nil
}

func (p *parser) isTupleEnd(extraEnd []string) bool {
	t := p.cur()
	if t.kind == tVarEnd || t.kind == tBlockEnd || t.kind == tEOF || (t.kind == tOp && (t.val == ")" || t.val == "=")) {
		return true
	}
	if t.kind == tName {
		for _, e := range extraEnd {
			if t.val == e {
				return true
			}
		}
	}
	return false
}

// parseTuple parses a comma-separated expression list; one element without
// a comma is returned as is.
func (p *parser) parseTuple(withCond bool, extraEnd []string) (*Node, error) {
	return p.parseTupleWith(func() (*Node, error) { return p.parseExpression(withCond) }, extraEnd, false)
}

func (p *parser) parseTupleWith(item func() (*Node, error), extraEnd []string, mustHaveOne bool) (*Node, error) {
	line := p.cur().line
	var args []*Node
	isTuple := false
	for {
		if len(args) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		if p.isTupleEnd(extraEnd) {
			break
		}
		e, err := item()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		if p.isOp(",") {
			isTuple = true
		} else {
			break
		}
	}
	if !isTuple {
		if len(args) == 1 {
			return args[0], nil
		}
		if mustHaveOne || len(args) == 0 {
			return nil, p.errf("expected an expression, got %s", p.cur())
		}
	}
	return &Node{Kind: KTuple, Args: args, Line: line}, nil
}

func (p *parser) parseExpression(withCond bool) (*Node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if !withCond {
		return p.parseOr()
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		line := p.next().line
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var alt *Node
		if p.skipName("else") {
			if alt, err = p.parseExpression(true); err != nil {
				return nil, err
			}
		}
		e = &Node{Kind: KCond, Args: []*Node{cond, e, alt}, Line: line}
	}
	return e, nil
}

func (p *parser) binaryLoop(sub func() (*Node, error), ops ...string) (*Node, error) {
	l, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		t := p.cur()
		match := false
		for _, o := range ops {
			if (t.kind == tOp || t.kind == tName) && t.val == o {
				match = true
			}
		}
		if !match || (t.kind == tName) != (ops[0] == "or" || ops[0] == "and") {
			return l, nil
		}
		p.next()
		r, err := sub()
		if err != nil {
			return nil, err
		}
		l = &Node{Kind: KBinary, Op: t.val, Args: []*Node{l, r}, Line: t.line}
	}
}

func (p *parser) parseOr() (*Node, error)  { return p.binaryLoop(p.parseAnd, "or") }
func (p *parser) parseAnd() (*Node, error) { return p.binaryLoop(p.parseNot, "and") }

func (p *parser) parseNot() (*Node, error) {
	if p.isName("not") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		e, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &Node{Kind: KUnary, Op: "not", Args: []*Node{e}, Line: t.line}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (*Node, error) {
	l, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	for {
		t := p.cur()
		op := ""
		switch {
		case t.kind == tOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == ">" || t.val == "<=" || t.val == ">="):
			op = t.val
			p.next()
		case t.kind == tName && t.val == "in":
			op = "in"
			p.next()
		case t.kind == tName && t.val == "not" && p.look().kind == tName && p.look().val == "in":
			op = "not in"
			p.next()
			p.next()
		default:
			return l, nil
		}
		r, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		l = &Node{Kind: KBinary, Op: op, Args: []*Node{l, r}, Line: t.line}
	}
}

func (p *parser) parseMath1() (*Node, error)  { return p.binaryLoop(p.parseConcat, "+", "-") }
func (p *parser) parseConcat() (*Node, error) { return p.binaryLoop(p.parseMath2, "~") }
func (p *parser) parseMath2() (*Node, error) {
	return p.binaryLoop(p.parsePow, "*", "/", "//", "%")
}
func (p *parser) parsePow() (*Node, error) {
	return p.binaryLoop(func() (*Node, error) { return p.parseUnary(true) }, "**")
}

func (p *parser) parseUnary(withFilter bool) (*Node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var n *Node
	if p.isOp("-") || p.isOp("+") {
		t := p.next()
		e, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		n = &Node{Kind: KUnary, Op: t.val, Args: []*Node{e}, Line: t.line}
	} else {
		var err error
		if n, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	n, err := p.parsePostfix(n)
	if err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(n)
	}
	return n, nil
}

func (p *parser) parsePrimary() (*Node, error) {
	t := p.cur()
	switch t.kind {
	case tName:
		p.next()
		switch t.val {
		case "true", "false", "none", "True", "False", "None":
			return &Node{Kind: KConst, Op: t.val, Line: t.line}, nil
		}
		return &Node{Kind: KName, Op: t.val, Line: t.line}, nil
	case tString:
		p.next()
		s := t.val
		for p.cur().kind == tString { // adjacent literals concatenate
			s += p.next().val
		}
		return &Node{Kind: KConst, Str: s, IsStr: true, Line: t.line}, nil
	case tInt, tFloat:
		p.next()
		return &Node{Kind: KConst, Op: t.val, Line: t.line}, nil
	case tOp:
		switch t.val {
		case "(":
			p.next()
			e, err := p.parseTuple(true, nil)
			if err != nil {
				if p.isOp(")") { // "()" is the empty tuple
					p.next()
					return &Node{Kind: KTuple, Line: t.line}, nil
				}
				return nil, err
			}
			return e, p.expectOp(")")
		case "[":
			p.next()
			n := &Node{Kind: KList, Line: t.line}
			for !p.isOp("]") {
				if len(n.Args) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				e, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				n.Args = append(n.Args, e)
			}
			p.next()
			return n, nil
		case "{":
			p.next()
			n := &Node{Kind: KDict, Line: t.line}
			for !p.isOp("}") {
				if len(n.Args) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpression(true)
				if err != nil {
					return nil, err
				}
				n.Args = append(n.Args, k, v)
			}
			p.next()
			return n, nil
		}
	}
	return nil, p.errf("unexpected %s", t)
}

func (p *parser) parsePostfix(n *Node) (*Node, error) {
	for {
		switch {
		case p.isOp(".") || p.isOp("["):
			var err error
			if n, err = p.parseSubscript(n); err != nil {
				return nil, err
			}
		case p.isOp("("):
			var err error
			if n, err = p.parseCall(n); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
	}
}

func (p *parser) parseFilterExpr(n *Node) (*Node, error) {
	for {
		switch {
		case p.isOp("|"):
			var err error
			if n, err = p.parseFilterChain(n); err != nil {
				return nil, err
			}
		case p.isName("is"):
			var err error
			if n, err = p.parseTest(n); err != nil {
				return nil, err
			}
		case p.isOp("("):
			var err error
			if n, err = p.parseCall(n); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
	}
}

func (p *parser) parseSubscript(n *Node) (*Node, error) {
	t := p.next()
	if t.val == "." {
		a := p.cur()
		if a.kind == tName || a.kind == tInt {
			p.next()
			if a.kind == tInt {
				return &Node{Kind: KGetitem, Args: []*Node{n, {Kind: KConst, Op: a.val, Line: a.line}}, Line: a.line}, nil
			}
			return &Node{Kind: KGetattr, Op: a.val, Args: []*Node{n}, Line: a.line}, nil
		}
		return nil, p.errf("expected name or number after '.', got %s", a)
	}
	var items []*Node
	for !p.isOp("]") {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp("]") {
				break
			}
		}
		e, err := p.parseSubscribed()
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	p.next()
	var key *Node
	if len(items) == 1 {
		key = items[0]
	} else { // x[] is an empty tuple key, x[a, b] a tuple
		key = &Node{Kind: KTuple, Args: items, Line: t.line}
	}
	return &Node{Kind: KGetitem, Args: []*Node{n, key}, Line: t.line}, nil
}

func (p *parser) parseSubscribed() (*Node, error) {
	line := p.cur().line
	var parts [3]*Node
	if !p.isOp(":") {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		if !p.isOp(":") {
			return e, nil
		}
		parts[0] = e
	}
	p.next() // ':'
	if !p.isOp("]") && !p.isOp(",") && !p.isOp(":") {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		parts[1] = e
	}
	if p.skipOp(":") && !p.isOp("]") && !p.isOp(",") {
		e, err := p.parseExpression(true)
		if err != nil {
			return nil, err
		}
		parts[2] = e
	}
	return &Node{Kind: KSlice, Args: parts[:], Line: line}, nil
}

func (p *parser) parseCallArgs() ([]*Node, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []*Node
	for !p.isOp(")") {
		if len(args) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		line := p.cur().line
		switch {
		case p.isOp("*") || p.isOp("**"):
			op := p.next().val
			e, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			args = append(args, &Node{Kind: KStar, Op: op, Args: []*Node{e}, Line: line})
		case p.cur().kind == tName && p.look().kind == tOp && p.look().val == "=":
			name := p.next().val
			p.next()
			e, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			args = append(args, &Node{Kind: KKeyword, Op: name, Args: []*Node{e}, Line: line})
		default:
			e, err := p.parseExpression(true)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
	}
	p.next()
	return args, nil
}

func (p *parser) parseCall(fn *Node) (*Node, error) {
	line := p.cur().line
	args, err := p.parseCallArgs()
	if err != nil {
		return nil, err
	}
	return &Node{Kind: KCall, Args: append([]*Node{fn}, args...), Line: line}, nil
}

func (p *parser) dottedName() (string, error) {
	name, err := p.expectName()
	if err != nil {
		return "", err
	}
	for p.isOp(".") {
		p.next()
		part, err := p.expectName()
		if err != nil {
			return "", err
		}
		name += "." + part
	}
	return name, nil
}

// parseFilterChain parses one or more "|name(args)" applied to n (nil in
// filter blocks, whose first filter has no leading pipe).
func (p *parser) parseFilterChain(n *Node) (*Node, error) {
	first := true
	for p.isOp("|") || (first && n == nil && p.cur().kind == tName) {
		line := p.cur().line
		p.skipOp("|")
		first = false
		name, err := p.dottedName()
		if err != nil {
			return nil, err
		}
		f := &Node{Kind: KFilter, Op: name, Args: []*Node{n}, Line: line}
		if p.isOp("(") {
			args, err := p.parseCallArgs()
			if err != nil {
				return nil, err
			}
			f.Args = append(f.Args, args...)
		}
		n = f
	}
	return n, nil
}

func (p *parser) parseTest(n *Node) (*Node, error) {
	line := p.next().line // 'is'
	negated := p.skipName("not")
	name, err := p.dottedName()
	if err != nil {
		return nil, err
	}
	t := &Node{Kind: KTest, Op: name, Args: []*Node{n}, Line: line}
	c := p.cur()
	switch {
	case p.isOp("("):
		args, err := p.parseCallArgs()
		if err != nil {
			return nil, err
		}
		t.Args = append(t.Args, args...)
	case (c.kind == tName && c.val != "else" && c.val != "or" && c.val != "and") ||
		c.kind == tString || c.kind == tInt || c.kind == tFloat ||
		(c.kind == tOp && (c.val == "(" || c.val == "[" || c.val == "{")):
		if c.kind == tName && c.val == "is" {
			return nil, p.errf("you cannot chain multiple tests with 'is'")
		}
		arg, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if arg, err = p.parsePostfix(arg); err != nil {
			return nil, err
		}
		t.Args = append(t.Args, arg)
	}
	if negated {
		return &Node{Kind: KUnary, Op: "not", Args: []*Node{t}, Line: line}, nil
	}
	return t, nil
}

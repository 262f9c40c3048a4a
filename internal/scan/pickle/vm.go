package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
)

// machine executes one pickle symbolically, as CPython's _Unpickler would,
// except that imports and calls are recorded instead of performed.
type machine struct {
	an     *analyzer
	d      *decoder
	nest   int
	label  string
	stack  []Value
	marks  []int
	memo   map[int64]Value
	proto  int
	ops    int
	result Value
	// imports and calls count what this pickle did (for the trailing-data
	// decision).
	imports, calls int
	// after runs once the current opcode has been listed.
	after func() error
}

func newMachine(an *analyzer, d *decoder, nest int, label string) *machine {
	return &machine{an: an, d: d, nest: nest, label: label, memo: map[int64]Value{}}
}

var errUnderflow = errors.New("stack underflow")

// run decodes and executes opcodes up to STOP.
func (m *machine) run() error {
	an := m.an
	for {
		if an.a.Ops >= an.lim.MaxOps {
			return &limitError{fmt.Sprintf("more than %d opcodes", an.lim.MaxOps)}
		}
		if an.a.Ops&0xfff == 0 {
			if err := an.ctx.Err(); err != nil {
				return err
			}
		}
		op, err := m.d.next()
		if err != nil {
			if err == io.EOF {
				return ErrTruncated
			}
			return err
		}
		an.a.Ops++
		m.ops++
		err = m.step(op)
		if an.opts.onOp != nil {
			an.opts.onOp(op, len(m.stack), m.nest)
		}
		if m.after != nil && err == nil {
			// Work that reads past the opcode (joblib array data, nested
			// pickles) runs after the opcode is listed.
			f := m.after
			m.after = nil
			err = f()
		}
		if err == errStop {
			return nil
		}
		if err != nil {
			var de *DecodeError
			var le *limitError
			if errors.As(err, &de) || errors.As(err, &le) || errors.Is(err, ErrTruncated) || errors.Is(err, io.ErrUnexpectedEOF) {
				return err
			}
			if errors.Is(err, m.an.ctx.Err()) && m.an.ctx.Err() != nil {
				return err
			}
			return &DecodeError{op.Offset, op.Name + ": " + err.Error()}
		}
	}
}

func (m *machine) push(v Value) error {
	if len(m.stack) >= m.an.lim.MaxStack {
		return &limitError{fmt.Sprintf("stack deeper than %d", m.an.lim.MaxStack)}
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) base() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) pop() (Value, error) {
	if len(m.stack) <= m.base() {
		return nil, errUnderflow
	}
	v := m.stack[len(m.stack)-1]
	m.stack[len(m.stack)-1] = nil
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (Value, error) {
	if len(m.stack) <= m.base() {
		return nil, errUnderflow
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark returns the items above the last mark and removes the mark.
func (m *machine) popMark() ([]Value, error) {
	if len(m.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	b := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := append([]Value(nil), m.stack[b:]...)
	clear(m.stack[b:])
	m.stack = m.stack[:b]
	return items, nil
}

// Shared immutable constants: most integers in real pickles are small.
var (
	smallInts = func() (t [256]Int) {
		for i := range t {
			t[i].V = int64(i)
		}
		return t
	}()
	noneValue  = &None{}
	trueValue  = &Bool{V: true}
	falseValue = &Bool{V: false}
)

func intValue(v any) Value {
	switch x := v.(type) {
	case int64:
		if x >= 0 && x < 256 {
			return &smallInts[x]
		}
		return &Int{V: x}
	case bool:
		if x {
			return trueValue
		}
		return falseValue
	case *big.Int:
		return &Int{Big: x}
	}
	return &Unknown{Why: "integer"}
}

// step executes one opcode.
func (m *machine) step(op Op) error {
	switch op.Code {
	case opPROTO:
		m.proto = int(op.Arg.(int64))
		return nil
	case opFRAME:
		return nil
	case opSTOP:
		v, err := m.pop()
		if err != nil {
			return err
		}
		m.result = v
		m.event(event{kind: evStop, value: v, op: op})
		return errStop
	case opMARK:
		if len(m.marks) >= m.an.lim.MaxMarks {
			return &limitError{fmt.Sprintf("more than %d nested MARKs", m.an.lim.MaxMarks)}
		}
		m.marks = append(m.marks, len(m.stack))
		return nil
	case opPOP:
		if len(m.stack) > m.base() {
			_, err := m.pop()
			return err
		}
		_, err := m.popMark()
		return err
	case opPOP_MARK:
		_, err := m.popMark()
		return err
	case opDUP:
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.push(v)
	case opFLOAT, opBINFLOAT:
		return m.push(&Float{V: op.Arg.(float64)})
	case opINT, opBININT, opBININT1, opBININT2, opLONG, opLONG1, opLONG4:
		return m.push(intValue(op.Arg))
	case opNONE:
		return m.push(noneValue)
	case opNEWTRUE:
		return m.push(trueValue)
	case opNEWFALSE:
		return m.push(falseValue)
	case opPERSID:
		return m.push(&PersID{ID: &Str{S: op.Arg.(string), Kind: "str", Truncated: op.Truncated}})
	case opBINPERSID:
		v, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(&PersID{ID: v})
	case opSTRING, opBINSTRING, opSHORT_BINSTRING, opUNICODE, opBINUNICODE, opSHORT_BINUNICODE, opBINUNICODE8:
		return m.push(&Str{S: op.Arg.(string), Kind: "str", Truncated: op.Truncated})
	case opBINBYTES, opSHORT_BINBYTES, opBINBYTES8:
		return m.push(&Str{S: string(op.Arg.([]byte)), Kind: "bytes", Truncated: op.Truncated})
	case opBYTEARRAY8:
		return m.push(&Str{S: string(op.Arg.([]byte)), Kind: "bytearray", Truncated: op.Truncated})
	case opNEXT_BUFFER:
		return m.push(&Unknown{Why: "out-of-band buffer"})
	case opREADONLY_BUFFER:
		_, err := m.top()
		return err
	case opEMPTY_TUPLE:
		return m.push(&Seq{Kind: "tuple"})
	case opEMPTY_LIST:
		return m.push(&Seq{Kind: "list"})
	case opEMPTY_DICT:
		return m.push(&Dict{})
	case opEMPTY_SET:
		return m.push(&Seq{Kind: "set"})
	case opTUPLE1, opTUPLE2, opTUPLE3:
		n := int(op.Code-opTUPLE1) + 1
		if len(m.stack)-m.base() < n {
			return errUnderflow
		}
		items := append([]Value(nil), m.stack[len(m.stack)-n:]...)
		m.stack = m.stack[:len(m.stack)-n]
		return m.push(&Seq{Kind: "tuple", Items: items})
	case opTUPLE, opLIST, opFROZENSET:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		kind := map[byte]string{opTUPLE: "tuple", opLIST: "list", opFROZENSET: "frozenset"}[op.Code]
		return m.push(&Seq{Kind: kind, Items: items})
	case opDICT:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		d := &Dict{}
		for i := 0; i+1 < len(items); i += 2 {
			d.Items = append(d.Items, KV{items[i], items[i+1]})
		}
		return m.push(d)
	case opAPPEND:
		v, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.extend(t, []Value{v})
		return nil
	case opAPPENDS, opADDITEMS:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.extend(t, items)
		return nil
	case opSETITEM:
		v, err := m.pop()
		if err != nil {
			return err
		}
		k, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.setItems(t, []Value{k, v})
		return nil
	case opSETITEMS:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		m.setItems(t, items)
		return nil
	case opGLOBAL:
		ref := op.Arg.(GlobalRef)
		return m.push(m.global(ref.Module, ref.Name, op))
	case opSTACK_GLOBAL:
		name, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		ms, ok1 := constStr(mod)
		ns, ok2 := constStr(name)
		if ok1 && ok2 {
			return m.push(m.global(ms, ns, op))
		}
		if (isConst(mod) && !ok1) || (isConst(name) && !ok2) {
			// CPython rejects operands that are not str.
			return errors.New("module and name must be str")
		}
		m.imports++
		g := &Global{Module: describe(mod), Name: describe(name), Op: op, Verdict: Dangerous}
		m.issue(Issue{Rule: RuleObfuscated, Severity: finding.High,
			Title:    "Pickle imports a global whose name is computed at load time",
			Evidence: fmt.Sprintf("STACK_GLOBAL(%s, %s)", describe(mod), describe(name)),
			Offset:   op.Offset, Index: op.Index, Opcode: op.Name, Nested: m.label})
		return m.push(g)
	case opINST:
		ref := op.Arg.(GlobalRef)
		g := m.global(ref.Module, ref.Name, op)
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.push(m.call(g, &Seq{Kind: "tuple", Items: items}, nil, op))
	case opOBJ:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errUnderflow
		}
		return m.push(m.call(items[0], &Seq{Kind: "tuple", Items: items[1:]}, nil, op))
	case opNEWOBJ:
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.call(cls, args, nil, op))
	case opNEWOBJ_EX:
		kw, err := m.pop()
		if err != nil {
			return err
		}
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.call(cls, args, kw, op))
	case opREDUCE:
		args, err := m.pop()
		if err != nil {
			return err
		}
		fn, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(m.call(fn, args, nil, op))
	case opBUILD:
		state, err := m.pop()
		if err != nil {
			return err
		}
		inst, err := m.top()
		if err != nil {
			return err
		}
		return m.build(inst, state, op)
	case opEXT1, opEXT2, opEXT4:
		code := op.Arg.(int64)
		m.imports++
		m.issue(Issue{Rule: RuleObfuscated, Severity: finding.High,
			Title:    "Pickle imports through the copyreg extension registry",
			Evidence: fmt.Sprintf("%s %d  # the global is whatever copyreg.add_extension registered for code %d", op.Name, code, code),
			Offset:   op.Offset, Index: op.Index, Opcode: op.Name, Nested: m.label})
		return m.push(&Ext{Code: code})
	case opGET, opBINGET, opLONG_BINGET:
		idx := op.Arg.(int64)
		v, ok := m.memo[idx]
		if !ok {
			return fmt.Errorf("memo key %d missing", idx)
		}
		return m.push(v)
	case opPUT, opBINPUT, opLONG_BINPUT:
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.memoize(op.Arg.(int64), v)
	case opMEMOIZE:
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.memoize(int64(len(m.memo)), v)
	}
	return fmt.Errorf("unhandled opcode 0x%02x", op.Code)
}

func (m *machine) memoize(idx int64, v Value) error {
	if _, ok := m.memo[idx]; !ok && len(m.memo) >= m.an.lim.MaxMemo {
		return &limitError{fmt.Sprintf("more than %d memo entries", m.an.lim.MaxMemo)}
	}
	m.memo[idx] = v
	return nil
}

// maxItems bounds how many items a symbolic container keeps: beyond it
// items are counted by the opcode limit but not stored.
const maxItems = 1 << 16

func (m *machine) extend(t Value, items []Value) {
	if s, ok := t.(*Seq); ok && s.Kind != "tuple" && s.Kind != "frozenset" {
		if room := maxItems - len(s.Items); room > 0 {
			s.Items = append(s.Items, items[:min(len(items), room)]...)
		}
	}
}

func (m *machine) setItems(t Value, items []Value) {
	d, ok := t.(*Dict)
	if !ok {
		return
	}
	for i := 0; i+1 < len(items); i += 2 {
		if len(d.Items) >= maxItems {
			return
		}
		d.Items = append(d.Items, KV{items[i], items[i+1]})
	}
}

// global records an import.
func (m *machine) global(module, name string, op Op) *Global {
	a := m.an.a
	m.imports++
	key := importKey{module, name, m.label}
	im := a.imports[key]
	if im == nil {
		v, why := m.an.pol.Classify(module, name)
		im = &Import{Module: module, Name: name, Verdict: v, Reason: why, Offset: op.Offset, Index: op.Index, Nested: m.label}
		if anc := m.an.anchor; anc != nil {
			im.Offset, im.Index = anc.Offset, anc.Index
		}
		if len(a.imports) < 100_000 {
			a.imports[key] = im
			a.Imports = append(a.Imports, im)
		}
		path := normalize(module, name)
		im.path = path
		switch {
		case isJoblibWrapper(module, name):
			a.Format = "joblib"
		case strings.HasPrefix(path, "dill.") && a.Format == "pickle":
			a.Format = "dill"
		case strings.HasPrefix(path, "cloudpickle.") && a.Format == "pickle":
			a.Format = "cloudpickle"
		}
	}
	im.Count++
	return &Global{Module: module, Name: name, Op: op, Verdict: im.Verdict, imp: im}
}

// importKey identifies an import within one nesting label.
type importKey struct{ module, name, label string }

// globalPath is the normalized path of a global.
func globalPath(g *Global) string {
	if g.imp != nil {
		return g.imp.path
	}
	return normalize(g.Module, g.Name)
}

func isJoblibWrapper(module, name string) bool {
	return (name == "NumpyArrayWrapper" || name == "NDArrayWrapper" || name == "ZNDArrayWrapper") &&
		(module == "joblib.numpy_pickle" || module == "joblib.numpy_pickle_compat" ||
			strings.HasSuffix(module, ".joblib.numpy_pickle") || strings.HasSuffix(module, ".joblib.numpy_pickle_compat"))
}

// call records a call and judges it.
func (m *machine) call(fn, args, kwargs Value, op Op) *Call {
	m.calls++
	m.an.callID++
	c := &Call{Callee: fn, Args: args, Kwargs: kwargs, Kind: op.Name, Op: op, ID: m.an.callID}
	if m.an.opts.keepCalls && len(m.an.a.Calls) < maxEvents {
		m.an.a.Calls = append(m.an.a.Calls, c)
		m.event(event{kind: evCall, call: c, op: op})
	}
	m.judge(c)
	return c
}

// judge turns a call into issues.
func (m *machine) judge(c *Call) {
	op := c.Op
	base := Issue{Offset: op.Offset, Index: op.Index, Opcode: op.Name, Nested: m.label}
	switch fn := resolveCallee(c.Callee).(type) {
	case *Global:
		im := fn.imp
		path := globalPath(fn)
		switch fn.Verdict {
		case Dangerous:
			is := base
			is.Rule, is.Severity, is.Global = RuleDangerous, finding.Critical, fn.Path()
			is.Title = "Pickle calls dangerous global " + fn.Path()
			is.Evidence = describe(c)
			if im != nil {
				is.Evidence += "  # " + im.Reason
				im.reported = true
			}
			m.issue(is)
			if loaderGlobals[path] {
				m.after = func() error { m.nested(c); return nil }
			}
		case Code:
			is := base
			is.Rule, is.Severity, is.Global = RuleCode, finding.High, fn.Path()
			is.Title = "Pickle rebuilds code with " + fn.Path()
			is.Evidence = describe(c) + codeSummary(c)
			if im != nil {
				im.reported = true
			}
			m.issue(is)
		case Unaudited:
			if loaderGlobals[path] {
				m.after = func() error { m.nested(c); return nil }
			}
			if im != nil && im.firstUse == "" {
				im.firstUse = describe(c)
				o := c.Op
				if anc := m.an.anchor; anc != nil {
					o = *anc
				}
				im.useOp = &o
			}
		case Safe:
			if resolverGlobals[path] {
				m.resolve(c, fn, base)
			}
			if typeFactories[path] {
				if items, ok := tupleItems(c.Args); ok && len(items) > 0 {
					t, ok := constStr(items[0])
					if !ok || codeTypeNames[t] {
						is := base
						is.Rule, is.Severity, is.Global = RuleCode, finding.High, fn.Path()
						is.Title = "Pickle builds a code or function type with " + fn.Path()
						is.Evidence = describe(c)
						m.issue(is)
					}
				}
			}
		}
	case *Call:
		if g, ok := fn.Callee.(*Global); ok && typeFactories[globalPath(g)] {
			// cloudpickle/dill: _builtin_type('CodeType')(...) builds a code
			// object; judged when the factory call was recorded.
			return
		}
		is := base
		is.Rule, is.Severity = RuleDangerous, finding.Critical
		is.Title = "Pickle calls the result of another call"
		is.Evidence = describe(c) + "  # calls what " + describe(fn.Callee) + " returned"
		if g, ok := fn.Callee.(*Global); ok {
			is.Global = g.Path()
		}
		m.issue(is)
	case *PersID, *Ext, *Unknown:
		is := base
		is.Rule, is.Severity = RuleObfuscated, finding.High
		is.Title = "Pickle calls a value the analysis cannot resolve"
		is.Evidence = describe(c)
		m.issue(is)
	}
}

// issue records an issue; inside a pickle nested in a bytes constant the
// location is the outer call that would unpickle it.
func (m *machine) issue(is Issue) {
	if a := m.an.anchor; a != nil {
		is.Offset, is.Index, is.Opcode = a.Offset, a.Index, a.Name
		is.Evidence = "[" + m.label + "] " + is.Evidence
	}
	m.an.a.issue(is)
}

// nested analyses the bytes argument of a pickle loader.
func (m *machine) nested(c *Call) {
	items, ok := tupleItems(c.Args)
	if !ok || len(items) == 0 {
		return
	}
	s, ok := items[0].(*Str)
	if !ok || s.Kind == "str" {
		return
	}
	if !strings.HasPrefix(s.S, "\x80") && !LooksLikePickle([]byte(s.S[:min(len(s.S), 8192)]), int64(len(s.S))) {
		// Not a pickle (torch.storage._load_from_bytes of a zip archive).
		return
	}
	label := nestedLabel(m.label, fmt.Sprintf("bytes passed to %s at offset %d", describe(c.Callee), c.Op.Offset))
	if s.Truncated {
		m.an.a.gap("%s: nested pickle too long to analyse", label)
		return
	}
	if m.nest+1 > m.an.lim.MaxNesting {
		m.an.a.gap("%s: nested pickles deeper than %d", label, m.an.lim.MaxNesting)
		return
	}
	sub := newDecoder(bytes.NewReader([]byte(s.S)), m.an.lim)
	// Nested issues take the outer call's location: offsets inside the
	// bytes mean nothing in the file.
	saved := m.an.anchor
	if saved == nil {
		op := c.Op
		m.an.anchor = &op
	}
	_ = m.an.stream(sub, m.nest+1, label)
	m.an.anchor = saved
}

// build applies BUILD's state to inst.
func (m *machine) build(inst, state Value, op Op) error {
	m.event(event{kind: evBuild, target: inst, value: state, op: op})
	switch x := inst.(type) {
	case *Call:
		if len(x.State) < 4 {
			x.State = append(x.State, state)
		}
		if g, ok := x.Callee.(*Global); ok && g.Name == "NumpyArrayWrapper" && isJoblibWrapper(g.Module, g.Name) && !x.Array {
			x.Array = true
			m.after = func() error { return m.joblibArray(x, state, op) }
		}
	case *Global:
		m.issue(Issue{Rule: RuleMutatesGlobal, Severity: finding.High, Global: x.Path(),
			Title:    "Pickle modifies imported global " + x.Path(),
			Evidence: fmt.Sprintf("%s.__setstate__(%s)", x.Path(), describe(state)),
			Offset:   op.Offset, Index: op.Index, Opcode: op.Name, Nested: m.label})
	}
	return nil
}

// joblibArray skips the raw array bytes joblib's NumpyPickler writes right
// after a NumpyArrayWrapper's BUILD, or analyses the nested pickle that
// holds an object array.
func (m *machine) joblibArray(c *Call, state Value, op Op) error {
	dtype, ok := dictGet(state, "dtype")
	if !ok {
		return errors.New("joblib NumpyArrayWrapper without dtype")
	}
	size, hasObject, err := dtypeInfo(dtype)
	if err != nil {
		return fmt.Errorf("joblib array: %w", err)
	}
	if hasObject {
		if m.nest+1 > m.an.lim.MaxNesting {
			return &limitError{fmt.Sprintf("nested pickles deeper than %d", m.an.lim.MaxNesting)}
		}
		label := nestedLabel(m.label, fmt.Sprintf("joblib object array at offset %d", m.d.off))
		sub := newMachine(m.an, m.d, m.nest+1, label)
		start := m.d.off
		err := sub.run()
		info := PickleInfo{Offset: start, End: m.d.off, Protocol: sub.proto, Ops: sub.ops, Nested: label, Result: sub.result, Complete: err == nil}
		if err != nil {
			info.Error = err.Error()
		}
		m.an.a.Pickles = append(m.an.a.Pickles, info)
		return err
	}
	shapeV, ok := dictGet(state, "shape")
	if !ok {
		return errors.New("joblib NumpyArrayWrapper without shape")
	}
	dims, ok := tupleItems(shapeV)
	if !ok {
		return errors.New("joblib array shape is not a tuple")
	}
	count := int64(1)
	for _, d := range dims {
		n, ok := constInt(d)
		if !ok || n < 0 {
			return errors.New("joblib array shape is not constant")
		}
		if n != 0 && count > (1<<62)/n {
			return &limitError{"joblib array larger than 2^62 bytes"}
		}
		count *= n
	}
	if count != 0 && size > (1<<62)/count {
		return &limitError{"joblib array larger than 2^62 bytes"}
	}
	if al, ok := dictGet(state, "numpy_array_alignment_bytes"); ok {
		if _, isNone := al.(*None); !isNone {
			pad, err := m.d.readByte()
			if err != nil {
				return err
			}
			if err := m.d.skip(int64(pad)); err != nil {
				return err
			}
		}
	}
	return m.d.skip(count * size)
}

// dtypeInfo reads itemsize and hasobject from a symbolic numpy.dtype:
// numpy.dtype('f8', False, True) with BUILD state
// (version, byteorder, subarray, names, fields, elsize, alignment, flags).
func dtypeInfo(v Value) (int64, bool, error) {
	c, ok := v.(*Call)
	if !ok {
		return 0, false, errors.New("dtype is not numpy.dtype(...)")
	}
	g, ok := c.Callee.(*Global)
	if !ok || g.Name != "dtype" {
		return 0, false, errors.New("dtype is not numpy.dtype(...)")
	}
	args, _ := tupleItems(c.Args)
	if len(args) == 0 {
		return 0, false, errors.New("dtype without type string")
	}
	ts, ok := constStr(args[0])
	if !ok || ts == "" {
		return 0, false, errors.New("dtype type string is not constant")
	}
	var elsize, flags int64 = -1, 0
	if len(c.State) > 0 {
		if st, ok := tupleItems(c.State[len(c.State)-1]); ok && len(st) >= 8 {
			if n, ok := constInt(st[5]); ok {
				elsize = n
			}
			if n, ok := constInt(st[7]); ok {
				flags = n
			}
		}
	}
	hasObject := ts[0] == 'O' || flags&1 != 0
	if hasObject {
		return 0, true, nil
	}
	if elsize > 0 {
		return elsize, false, nil
	}
	i := strings.IndexAny(ts, "0123456789")
	if i < 0 {
		return 0, false, fmt.Errorf("dtype %q has no size", ts)
	}
	n, err := strconv.ParseInt(ts[i:], 10, 64)
	if err != nil || n <= 0 {
		return 0, false, fmt.Errorf("dtype %q has no size", ts)
	}
	if ts[0] == 'U' {
		n *= 4
	}
	return n, false, nil
}

// event is one step of the reconstructed program (Inspect only).
type event struct {
	kind   int
	call   *Call
	target Value
	value  Value
	op     Op
	nest   string
}

const (
	evCall = iota
	evBuild
	evStop
)

const maxEvents = 20_000

func (m *machine) event(e event) {
	a := m.an.a
	if !m.an.opts.keepCalls || len(a.events) >= maxEvents {
		return
	}
	e.nest = m.label
	a.events = append(a.events, e)
}

// isConst reports whether v is a constant or container the pickle built
// itself (as opposed to a call's result, whose type is unknown).
func isConst(v Value) bool {
	switch v.(type) {
	case *Call, *PersID, *Ext, *Unknown:
		return false
	}
	return true
}

// resolveCallee sees through legacy torch.save's persistent ids for module
// classes, ('module', cls, source_file, source): persistent_load returns
// cls itself.
func resolveCallee(v Value) Value {
	p, ok := v.(*PersID)
	if !ok {
		return v
	}
	items, ok := tupleItems(p.ID)
	if !ok || len(items) < 2 {
		return v
	}
	if kind, ok := constStr(items[0]); ok && kind == "module" {
		if g, ok := items[1].(*Global); ok {
			return g
		}
	}
	return v
}

// resolve judges a resolver call such as numpy's
// _ufunc_reconstruct(module, name), which imports like find_class.
func (m *machine) resolve(c *Call, fn *Global, base Issue) {
	items, _ := tupleItems(c.Args)
	var mod, name string
	ok := len(items) >= 2
	if ok {
		var ok1, ok2 bool
		mod, ok1 = constStr(items[0])
		name, ok2 = constStr(items[1])
		ok = ok1 && ok2
	}
	is := base
	is.Evidence = describe(c)
	if !ok {
		is.Rule, is.Severity = RuleObfuscated, finding.High
		is.Title = "Pickle resolves a computed global with " + fn.Path()
		m.issue(is)
		return
	}
	v, why := m.an.pol.Classify(mod, name)
	switch {
	case v == Dangerous:
		is.Rule, is.Severity, is.Global = RuleDangerous, finding.Critical, mod+"."+name
		is.Title = "Pickle resolves dangerous global " + mod + "." + name
		is.Evidence += "  # " + why
		m.issue(is)
	case v == Code:
		is.Rule, is.Severity, is.Global = RuleCode, finding.High, mod+"."+name
		is.Title = "Pickle resolves " + mod + "." + name
		m.issue(is)
	case v == Unaudited && !(mod == "numpy" || hasPrefixPath(mod, "scipy.special")):
		// NumPy and SciPy ufuncs are what _ufunc_reconstruct is for.
		sev := finding.Medium
		if m.an.opts.Strict {
			sev = finding.High
		}
		is.Rule, is.Severity, is.Global = RuleUnaudited, sev, mod+"."+name
		is.Title = "Pickle resolves unaudited global " + mod + "." + name
		m.issue(is)
	}
}

// codeSummary lists the strings a code object carries (names, constants,
// file and function names): what an analyst needs to see first.
func codeSummary(v Value) string {
	var out []string
	seen := map[string]bool{}
	var walk func(v Value, depth int)
	walk = func(v Value, depth int) {
		if depth > 6 || len(out) >= 16 {
			return
		}
		switch x := v.(type) {
		case *Str:
			if x.Kind == "str" && !seen[x.S] && x.S != "" && len(out) < 16 {
				seen[x.S] = true
				out = append(out, pyRepr(x, 40))
			}
		case *Seq:
			for _, it := range x.Items[:min(len(x.Items), 64)] {
				walk(it, depth+1)
			}
		case *Call:
			walk(x.Args, depth+1)
		}
	}
	walk(v, 0)
	if len(out) == 0 {
		return ""
	}
	return "  # code strings: " + strings.Join(out, ", ")
}

package pickle

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is a symbolic value on the machine's stack. Nothing is ever
// constructed for real: a call is recorded, not made.
type Value interface{ isValue() }

// Str is a str or bytes constant.
type Str struct {
	S string
	// Kind is "str", "bytes" or "bytearray".
	Kind string
	// Truncated: only a prefix of the declared data was kept.
	Truncated bool
}

// Int is an integer constant.
type Int struct {
	V   int64
	Big *big.Int // set when the value does not fit int64
}

// Float is a float constant.
type Float struct{ V float64 }

// Bool is True or False.
type Bool struct{ V bool }

// None is Python's None.
type None struct{}

// Seq is a tuple, list, set or frozenset.
type Seq struct {
	Kind  string // "tuple", "list", "set", "frozenset"
	Items []Value
}

// Dict is a dict; items keep insertion order.
type Dict struct{ Items []KV }

// KV is one dict entry.
type KV struct{ K, V Value }

// Global is an imported object (GLOBAL, STACK_GLOBAL, INST, OBJ class).
type Global struct {
	Module, Name string
	// Op is the opcode that imported it.
	Op Op
	// Verdict is the policy class, set when the import is recorded.
	Verdict Verdict
	imp     *Import
}

// Call is a call the unpickler would make: REDUCE, NEWOBJ, NEWOBJ_EX, INST
// or OBJ. BUILD states applied to the result are kept in State.
type Call struct {
	Callee Value
	Args   Value // usually a tuple
	Kwargs Value // NEWOBJ_EX only
	// Kind is the opcode that made the call ("REDUCE", "NEWOBJ", ...).
	Kind  string
	Op    Op
	State []Value
	// ID numbers calls in order; the decompiler names them _varN.
	ID int
	// Array is set when a joblib NumpyArrayWrapper's data was read.
	Array bool
}

// PersID is a persistent id; the loader's persistent_load decides what it
// becomes (PyTorch storages).
type PersID struct{ ID Value }

// Ext is an object from the copyreg extension registry.
type Ext struct{ Code int64 }

// Unknown is a value the machine cannot know (out-of-band buffers).
type Unknown struct{ Why string }

func (*Str) isValue()     {}
func (*Int) isValue()     {}
func (*Float) isValue()   {}
func (*Bool) isValue()    {}
func (*None) isValue()    {}
func (*Seq) isValue()     {}
func (*Dict) isValue()    {}
func (*Global) isValue()  {}
func (*Call) isValue()    {}
func (*PersID) isValue()  {}
func (*Ext) isValue()     {}
func (*Unknown) isValue() {}

// Path is the dotted name of the global ("posix.system").
func (g *Global) Path() string { return g.Module + "." + g.Name }

// constStr returns the text of a str constant.
func constStr(v Value) (string, bool) {
	s, ok := v.(*Str)
	if !ok || s.Kind != "str" || s.Truncated {
		return "", false
	}
	return s.S, true
}

func constInt(v Value) (int64, bool) {
	switch x := v.(type) {
	case *Int:
		if x.Big == nil {
			return x.V, true
		}
	case *Bool:
		if x.V {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func tupleItems(v Value) ([]Value, bool) {
	s, ok := v.(*Seq)
	if !ok || s.Kind != "tuple" {
		return nil, false
	}
	return s.Items, true
}

// dictGet finds a str key in a dict.
func dictGet(v Value, key string) (Value, bool) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, false
	}
	for i := len(d.Items) - 1; i >= 0; i-- {
		if k, ok := constStr(d.Items[i].K); ok && k == key {
			return d.Items[i].V, true
		}
	}
	return nil, false
}

// renderer prints values as Python expressions, bounded in depth and size
// (values may be cyclic through the memo).
type renderer struct {
	// name returns a variable name for a call, or "" to inline it.
	name   func(*Call) string
	global func(*Global) string
	max    int
	// strMax cuts long string constants (default 200 characters).
	strMax int
	// nodes counts visited values: a safety net on top of depth and size.
	nodes int
}

const maxRenderDepth = 12

func (r *renderer) render(v Value) string {
	var b strings.Builder
	r.write(&b, v, 0)
	return b.String()
}

func (r *renderer) write(b *strings.Builder, v Value, depth int) {
	if r.max > 0 && b.Len() > r.max {
		return
	}
	r.nodes++
	if depth > maxRenderDepth || r.nodes > 20_000 {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("<empty>")
	case *Str:
		n := r.strMax
		if n <= 0 {
			n = 200
		}
		b.WriteString(pyRepr(x, n))
	case *Int:
		if x.Big != nil {
			b.WriteString(formatBig(x.Big))
		} else {
			b.WriteString(strconv.FormatInt(x.V, 10))
		}
	case *Float:
		b.WriteString(pyFloat(x.V))
	case *Bool:
		if x.V {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case *None:
		b.WriteString("None")
	case *Seq:
		open, close := "(", ")"
		switch x.Kind {
		case "list":
			open, close = "[", "]"
		case "set":
			if len(x.Items) == 0 {
				b.WriteString("set()")
				return
			}
			open, close = "{", "}"
		case "frozenset":
			open, close = "frozenset({", "})"
		}
		b.WriteString(open)
		r.items(b, x.Items, depth)
		if x.Kind == "tuple" && len(x.Items) == 1 {
			b.WriteString(",")
		}
		b.WriteString(close)
	case *Dict:
		b.WriteString("{")
		for i, kv := range x.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			if i >= 20 || (r.max > 0 && b.Len() > r.max) {
				fmt.Fprintf(b, "... %d more", len(x.Items)-i)
				break
			}
			r.write(b, kv.K, depth+1)
			b.WriteString(": ")
			r.write(b, kv.V, depth+1)
		}
		b.WriteString("}")
	case *Global:
		if r.global != nil {
			b.WriteString(r.global(x))
		} else {
			b.WriteString(x.Path())
		}
	case *Call:
		if r.name != nil {
			if n := r.name(x); n != "" {
				b.WriteString(n)
				return
			}
		}
		r.writeCall(b, x, depth)
	case *PersID:
		b.WriteString("persistent_load(")
		r.write(b, x.ID, depth+1)
		b.WriteString(")")
	case *Ext:
		fmt.Fprintf(b, "copyreg._extension_registry[%d]", x.Code)
	case *Unknown:
		fmt.Fprintf(b, "<%s>", x.Why)
	default:
		b.WriteString("?")
	}
}

// writeCall renders the call itself (not a variable name).
func (r *renderer) writeCall(b *strings.Builder, x *Call, depth int) {
	if x.Array {
		b.WriteString("<joblib array data>")
		return
	}
	r.write(b, x.Callee, depth+1)
	switch x.Kind {
	case "NEWOBJ", "NEWOBJ_EX":
		b.WriteString(".__new__(")
		r.write(b, x.Callee, depth+1)
		if items, ok := tupleItems(x.Args); ok {
			if len(items) > 0 {
				b.WriteString(", ")
				r.items(b, items, depth)
			}
		} else {
			b.WriteString(", *")
			r.write(b, x.Args, depth+1)
		}
		if x.Kwargs != nil {
			r.kwargs(b, x.Kwargs, depth)
		}
		b.WriteString(")")
	default:
		b.WriteString("(")
		if items, ok := tupleItems(x.Args); ok {
			r.items(b, items, depth)
		} else {
			b.WriteString("*")
			r.write(b, x.Args, depth+1)
		}
		b.WriteString(")")
	}
}

func (r *renderer) kwargs(b *strings.Builder, v Value, depth int) {
	d, ok := v.(*Dict)
	if !ok {
		b.WriteString(", **")
		r.write(b, v, depth+1)
		return
	}
	for _, kv := range d.Items {
		b.WriteString(", ")
		if k, ok := constStr(kv.K); ok && isIdent(k) {
			b.WriteString(k)
			b.WriteString("=")
		} else {
			b.WriteString("**{")
			r.write(b, kv.K, depth+1)
			b.WriteString(": ...}")
			continue
		}
		r.write(b, kv.V, depth+1)
	}
}

func (r *renderer) items(b *strings.Builder, items []Value, depth int) {
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if i >= 20 || (r.max > 0 && b.Len() > r.max) {
			fmt.Fprintf(b, "... %d more", len(items)-i)
			return
		}
		r.write(b, it, depth+1)
	}
}

// pyRepr renders a str/bytes constant like Python's repr, cut at max runes.
func pyRepr(s *Str, max int) string {
	var b strings.Builder
	switch s.Kind {
	case "bytes":
		b.WriteString("b")
	case "bytearray":
		b.WriteString("bytearray(b")
	}
	quote := byte('\'')
	if strings.Contains(s.S, "'") && !strings.Contains(s.S, "\"") {
		quote = '"'
	}
	b.WriteByte(quote)
	text := s.S
	cut := false
	n := 0
	for i := 0; i < len(text); {
		if n >= max {
			cut = true
			break
		}
		n++
		c := text[i]
		if s.Kind != "str" || c < utf8.RuneSelf {
			i++
			switch {
			case c == quote || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c >= 0x7f:
				fmt.Fprintf(&b, `\x%02x`, c)
			default:
				b.WriteByte(c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\udc%02x`, c)
		} else if strconv.IsPrint(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte(quote)
	if cut || s.Truncated {
		b.WriteString("...")
	}
	if s.Kind == "bytearray" {
		b.WriteString(")")
	}
	return b.String()
}

func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "float('inf')"
	case math.IsInf(f, -1):
		return "float('-inf')"
	case math.IsNaN(f):
		return "float('nan')"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') || c >= 0x80 {
			continue
		}
		return false
	}
	return true
}

// formatBig renders a big integer, in hex beyond 256 bits (decimal
// conversion of a huge integer is slow and unreadable anyway).
func formatBig(v *big.Int) string {
	if v.BitLen() <= 256 {
		return v.String()
	}
	h := v.Text(16)
	neg := ""
	if h[0] == '-' {
		neg, h = "-", h[1:]
	}
	return fmt.Sprintf("%s0x%s...  # %d-bit integer", neg, h[:16], v.BitLen())
}

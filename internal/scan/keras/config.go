package keras

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
)

// Bounds of the config walk. Real configs of very large models are a few
// megabytes with tens of thousands of nodes.
const (
	MaxConfigSize  = 128 << 20
	maxConfigDepth = 512
	maxConfigNodes = 4_000_000
)

// AnalyzeConfig analyses one Keras model config document (the JSON of a
// .keras archive's config.json, an HDF5 model_config attribute, or a
// model.to_json() file). where prefixes JSON pointers in finding locations
// ("model_config#" gives "model_config#/config/layers/1"). The result is
// format "keras-config"; a document that is not valid JSON or exceeds the
// walk's bounds leaves a gap.
func AnalyzeConfig(ctx context.Context, in *scan.Input, doc []byte, where string) scan.Result {
	res := scan.NewResult("keras-config")
	name := where
	if name == "" {
		name = "config"
	}
	if len(doc) > MaxConfigSize {
		res.Gap("%s: Keras config of %d bytes exceeds the %d-byte limit", name, len(doc), MaxConfigSize)
		return res
	}
	v, err := decodeJSON(doc)
	if err != nil {
		res.Gap("%s: Keras config is not valid JSON: %v", name, err)
		return res
	}
	a := &analyzer{ctx: ctx, in: in, res: &res, where: where, name: name, reported: map[string]bool{}}
	a.walk(v, "", "", 0)
	return res
}

// decodeJSON parses like Python's json.loads, which Keras uses: NaN and
// ±Infinity are accepted, trailing data is not.
func decodeJSON(doc []byte) (any, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	err := d.Decode(&v)
	if err != nil && bytes.Contains(doc, []byte("NaN")) || err != nil && bytes.Contains(doc, []byte("Infinity")) {
		d = json.NewDecoder(bytes.NewReader(pythonNumbers(doc)))
		d.UseNumber()
		v = nil
		err = d.Decode(&v)
	}
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("data after the top-level value")
	}
	return v, nil
}

// pythonNumbers rewrites NaN, Infinity and -Infinity outside strings as
// JSON numbers of the same length.
func pythonNumbers(doc []byte) []byte {
	out := append([]byte(nil), doc...)
	inStr, esc := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case bytes.HasPrefix(out[i:], []byte("NaN")):
			copy(out[i:], "0.0")
			i += 2
		case bytes.HasPrefix(out[i:], []byte("Infinity")):
			copy(out[i:], "1e999999")
			i += 7
		}
	}
	return out
}

type analyzer struct {
	ctx      context.Context
	in       *scan.Input
	res      *scan.Result
	where    string
	name     string
	nodes    int
	stopped  bool
	reported map[string]bool
}

func (a *analyzer) stop(format string, args ...any) {
	if !a.stopped {
		a.stopped = true
		a.res.Gap("%s: "+format, append([]any{a.name}, args...)...)
	}
}

func (a *analyzer) walk(v any, ptr, key string, depth int) {
	if a.stopped {
		return
	}
	a.nodes++
	if a.nodes > maxConfigNodes {
		a.stop("Keras config has more than %d values", maxConfigNodes)
		return
	}
	if depth > maxConfigDepth {
		a.stop("Keras config nested deeper than %d", maxConfigDepth)
		return
	}
	if a.nodes%4096 == 0 && a.ctx.Err() != nil {
		a.stop("%v", a.ctx.Err())
		return
	}
	switch v := v.(type) {
	case map[string]any:
		a.object(v, ptr)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a.walk(v[k], ptr+"/"+escapePointer(k), k, depth+1)
		}
	case []any:
		for i, e := range v {
			a.walk(e, fmt.Sprintf("%s/%d", ptr, i), key, depth+1)
		}
	case string:
		a.stringValue(v, ptr, key)
	}
}

func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func (a *analyzer) report(r *finding.Rule, ptr, text string, fields map[string]any) *finding.Finding {
	if a.reported[ptr] {
		return nil
	}
	a.reported[ptr] = true
	f := a.in.NewFinding(r)
	f.Location.Pointer = a.where + ptr
	if f.Location.Pointer == "" {
		f.Location.Pointer = "/"
	}
	f.Evidence = finding.Evidence{Text: text, Fields: fields}
	a.res.Add(f)
	return &a.res.Findings[len(a.res.Findings)-1]
}

// object inspects one serialized Keras object ({"class_name": …}).
func (a *analyzer) object(m map[string]any, ptr string) {
	cls, ok := m["class_name"].(string)
	if !ok {
		return
	}
	module, _ := m["module"].(string)
	registered, _ := m["registered_name"].(string)
	switch cls {
	case "Lambda":
		a.lambdaLayer(m, ptr)
	case "__lambda__":
		// Keras 3 form of a serialized lambda, valid wherever a callable is.
		if cfg, ok := m["config"].(map[string]any); ok {
			code := cfg["code"]
			if code == nil {
				code = cfg["value"]
			}
			a.bytecode(code, ptr, "__lambda__ function")
		} else {
			a.bytecode(nil, ptr, "__lambda__ function")
		}
	case "TFOpLambda", "SlicingOpLambda":
		a.tfOp(m, ptr, cls)
	}
	switch {
	case module != "" && !kerasModule(module):
		a.foreign(m, module, cls, registered, ptr)
	case cls == "TFSMLayer":
		cfg, _ := m["config"].(map[string]any)
		path, _ := cfg["filepath"].(string)
		if f := a.report(RuleSafeModeBypass, ptr, fmt.Sprintf("TFSMLayer loads the SavedModel at %q", path),
			map[string]any{"class_name": cls, "filepath": path}); f != nil {
			f.Severity = finding.High
		}
	case cls == "function" && kerasGadgets[configName(m)]:
		name := configName(m)
		a.report(RuleSafeModeBypass, ptr, fmt.Sprintf("config calls %s.%s", module, name),
			map[string]any{"module": module, "function": name})
		a.reported[ptr+"/config"] = true // the same name, reported once
	case module == "" && strings.Contains(registered, ">"):
		a.report(RuleCustomObject, ptr, fmt.Sprintf("custom object %s (class %s) must be supplied by user code", registered, cls),
			map[string]any{"class_name": cls, "registered_name": registered})
	}
}

func configName(m map[string]any) string {
	s, _ := m["config"].(string)
	return s
}

// lambdaLayer handles the Keras 2 form, where function (and output_shape,
// mask) hold func_dump output: [base64 marshal, defaults, closure] with a
// "<field>_type" of "lambda", or a function name with type "function".
func (a *analyzer) lambdaLayer(m map[string]any, ptr string) {
	cfg, ok := m["config"].(map[string]any)
	if !ok {
		return
	}
	for _, field := range []string{"function", "output_shape", "mask"} {
		val, ok := cfg[field]
		if !ok || val == nil {
			continue
		}
		typ, _ := cfg[field+"_type"].(string)
		fptr := ptr + "/config/" + field
		switch {
		case typ == "lambda", typ == "" && isFuncDump(val):
			a.bytecode(val, fptr, "Lambda layer "+field)
		case typ == "function" && field == "function":
			name, _ := val.(string)
			if kerasGadgets[name[strings.LastIndexByte(name, '.')+1:]] {
				a.report(RuleSafeModeBypass, fptr, fmt.Sprintf("Lambda layer calls %s", name), map[string]any{"function": name})
				continue
			}
			if name != "" && !a.dangerousString(name, fptr) {
				a.report(RuleCustomObject, fptr, fmt.Sprintf("Lambda layer calls function %q, which must be supplied by user code", name),
					map[string]any{"function": name})
			}
		}
	}
}

// isFuncDump recognises func_dump output without a type tag: a list whose
// first element is base64 that decodes to a marshalled code object.
func isFuncDump(v any) bool {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return false
	}
	s, ok := l[0].(string)
	if !ok {
		return false
	}
	b, err := decodeBase64(s)
	return err == nil && len(b) > 0 && b[0]&0x7f == 'c'
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// bytecode reports serialized code; v is the base64 string or a func_dump
// list whose first element is.
func (a *analyzer) bytecode(v any, ptr, what string) {
	if l, ok := v.([]any); ok && len(l) > 0 {
		v = l[0]
	}
	fields := map[string]any{}
	text := what + " holds marshalled Python bytecode"
	s, ok := v.(string)
	switch {
	case !ok:
		text += " (code missing or not a string)"
	default:
		b, err := decodeBase64(s)
		if err != nil {
			text += " (base64 does not decode)"
			break
		}
		fields["code_bytes"] = len(b)
		code, err := ParseMarshal(b)
		if err != nil {
			text += fmt.Sprintf(" (%d bytes; not parsed: %v)", len(b), err)
			break
		}
		fields["names"] = code.Names
		fields["strings"] = code.Strings
		fields["python"] = code.Layout
		text += ": " + describeCode(code)
	}
	a.report(RuleLambdaCode, ptr, text, fields)
}

func describeCode(c *Code) string {
	var parts []string
	if len(c.Names) > 0 {
		parts = append(parts, "names: "+strings.Join(c.Names, ", "))
	}
	if len(c.Strings) > 0 {
		q := make([]string, len(c.Strings))
		for i, s := range c.Strings {
			q[i] = "'" + s + "'"
		}
		parts = append(parts, "strings: "+strings.Join(q, ", "))
	}
	if len(parts) == 0 {
		return "no names or strings"
	}
	return strings.Join(parts, "; ")
}

// foreign handles an object whose module lies outside Keras.
func (a *analyzer) foreign(m map[string]any, module, cls, registered, ptr string) {
	name := cls
	if cls == "function" {
		if s, ok := m["config"].(string); ok {
			name = s
		}
	}
	full := module + "." + name
	fields := map[string]any{"module": module, "class_name": cls}
	if registered != "" {
		fields["registered_name"] = registered
	}
	cfg := compactJSON(m["config"], 160)
	switch {
	case dangerousModule(module) || dangerousName(name):
		a.report(RuleForeignModule, ptr, fmt.Sprintf("%s(%s) would be imported and called on load", full, cfg), fields)
	case frameworkModule(module):
		// TensorFlow, NumPy, JAX and PyTorch functions appear in configs of
		// real models (activations, initializers); only dangerous ones count.
	case registered != "":
		a.report(RuleCustomObject, ptr, fmt.Sprintf("custom object %s (registered as %s) must be supplied by user code", full, registered), fields)
	default:
		if f := a.report(RuleForeignModule, ptr, fmt.Sprintf("%s(%s) would be imported from an unaudited module on load", full, cfg), fields); f != nil {
			f.Severity = finding.High
		}
	}
}

func compactJSON(v any, n int) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "…"
	}
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// tfOp checks the TensorFlow symbol a TFOpLambda layer calls.
func (a *analyzer) tfOp(m map[string]any, ptr, cls string) {
	cfg, ok := m["config"].(map[string]any)
	if !ok {
		return
	}
	fn, ok := cfg["function"].(string)
	if !ok {
		return
	}
	fptr := ptr + "/config/function"
	sym := strings.TrimPrefix(fn, "tf.")
	root, _, _ := strings.Cut(sym, ".")
	if dangerousTFSymbol(sym) || !tfNamespaces[root] && dangerousModule(sym) {
		a.report(RuleTFOp, fptr, fmt.Sprintf("%s layer calls %s", cls, fn),
			map[string]any{"class_name": cls, "function": fn})
	}
	// The symbol is a TensorFlow API name (tf.signal.stft), not a Python
	// module path: keep the generic string check off it.
	a.reported[fptr] = true
}

func (a *analyzer) stringValue(s, ptr, key string) {
	if key == "module" || key == "name" || key == "class_name" {
		return
	}
	if strings.Contains(s, "enable_unsafe_deserialization") {
		a.report(RuleSafeModeBypass, ptr, fmt.Sprintf("config value %q turns off safe mode", truncate(s, 120)), map[string]any{"reference": truncate(s, 256)})
		return
	}
	a.dangerousString(s, ptr)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// dangerousString reports a dotted reference such as "os.system".
func (a *analyzer) dangerousString(s, ptr string) bool {
	if len(s) > 256 || !isDottedName(s) {
		return false
	}
	mod := s[:strings.LastIndexByte(s, '.')]
	if !strongDangerousModule(mod) {
		return false
	}
	a.report(RuleDangerousReference, ptr, fmt.Sprintf("config value %q names a dangerous callable", s), map[string]any{"reference": s})
	return true
}

func isDottedName(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i, r := range p {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

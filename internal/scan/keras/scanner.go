// Package keras finds code execution hidden in Keras models: Lambda layers
// with marshalled Python bytecode (CVE-2024-3660, CVE-2025-9905), objects
// loaded from modules outside Keras (CVE-2025-1550), Keras functions chained
// to defeat safe mode (CVE-2025-9906, CVE-2025-8747), custom objects that
// need user code, and TFOpLambda layers calling file or Python-function ops.
//
// Two scanners share one config analyzer: "keras-h5" reads the model_config
// and training_config attributes of HDF5 files through the structure of the
// file (internal/scan/hdf5), and "keras-config" matches the JSON config of a
// .keras archive (config.json) or a model.to_json() document by content.
// Nothing is deserialized or executed; the walk over the config is bounded.
package keras

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/hdf5"
)

// H5Scanner reads HDF5 files; those with a model_config attribute are Keras
// models ("keras-h5"), the others plain data ("hdf5").
type H5Scanner struct{}

// NewH5Scanner returns the "keras-h5" scanner.
func NewH5Scanner() *H5Scanner { return &H5Scanner{} }

// Name implements scan.Scanner.
func (*H5Scanner) Name() string { return "keras-h5" }

// Match finds the HDF5 signature at 0, 512, 1024, 2048 … (after a user
// block), probing beyond the head with small reads.
func (*H5Scanner) Match(f scan.FileInfo) bool {
	for off := 0; off+8 <= len(f.Head); {
		if bytes.Equal(f.Head[off:off+8], hdf5.Signature) {
			return true
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	if f.R == nil || f.Size <= int64(len(f.Head)) {
		return false
	}
	var sig [8]byte
	for off := int64(scan.HeadSize); off+8 <= f.Size; off *= 2 {
		if off < int64(len(f.Head)) {
			continue
		}
		if _, err := f.R.ReadAt(sig[:], off); err != nil {
			return false
		}
		if bytes.Equal(sig[:], hdf5.Signature) {
			return true
		}
	}
	return false
}

// Scan implements scan.Scanner.
func (*H5Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult("hdf5")
	if in.Size < 0 {
		return res, errors.New("HDF5 content of unknown size")
	}
	f, err := hdf5.Open(in.R, in.Size, hdf5.Limits{})
	if err != nil {
		return res, fmt.Errorf("HDF5: %w", err)
	}
	attrs, aerr := f.RootAttributes()
	byName := map[string]*hdf5.Attribute{}
	for _, a := range attrs {
		byName[a.Name] = a
	}
	mc := byName["model_config"]
	if mc != nil {
		res.Format = "keras-h5"
	}
	if aerr != nil {
		// Attributes we could not list might include model_config.
		res.Gap("%s: root attributes: %v", display(in), aerr)
	}
	if mc == nil {
		return res, nil
	}
	for _, name := range []string{"model_config", "training_config"} {
		a := byName[name]
		if a == nil {
			continue
		}
		doc, err := a.String()
		if err != nil {
			res.Gap("%s: %s attribute: %v", display(in), name, err)
			continue
		}
		sub := AnalyzeConfig(ctx, in, []byte(doc), name+"#")
		res.Merge(sub)
	}
	version := stringAttr(byName["keras_version"])
	backend := stringAttr(byName["backend"])
	for i := range res.Findings {
		fl := &res.Findings[i]
		if fl.Evidence.Fields == nil {
			fl.Evidence.Fields = map[string]any{}
		}
		if version != "" {
			fl.Evidence.Fields["keras_version"] = version
		}
		if backend != "" {
			fl.Evidence.Fields["backend"] = backend
		}
	}
	return res, nil
}

func stringAttr(a *hdf5.Attribute) string {
	if a == nil || !a.Type.IsString() {
		return ""
	}
	s, err := a.String()
	if err != nil || len(s) > 64 {
		return ""
	}
	return s
}

func display(in *scan.Input) string {
	if in.Member != "" {
		return in.Member
	}
	return in.Name
}

// ConfigScanner analyses a Keras config JSON document: config.json of a
// .keras archive, model.to_json() output, or any serialized Keras object.
type ConfigScanner struct{}

// NewConfigScanner returns the "keras-config" scanner.
func NewConfigScanner() *ConfigScanner { return &ConfigScanner{} }

// Name implements scan.Scanner.
func (*ConfigScanner) Name() string { return "keras-config" }

// probeLimit bounds how much of a config.json Match reads when the head
// alone does not show the top-level keys.
const probeLimit = 64 << 20

// Match accepts a JSON object whose top level has a string "class_name"
// and a "config" or "module" key: the shape of every serialized Keras
// object. Hugging Face config.json, tokenizer.json and other JSON lack it.
func (*ConfigScanner) Match(f scan.FileInfo) bool {
	h := bytes.TrimPrefix(f.Head, []byte("\xef\xbb\xbf"))
	h = bytes.TrimLeft(h, " \t\r\n")
	if len(h) == 0 || h[0] != '{' {
		return false
	}
	top := topLevel(bytes.NewReader(h))
	if top.decided {
		return top.keras
	}
	// The head ended before the top-level keys did. Read on when the keys
	// seen so far or the name make a Keras config likely.
	likely := top.seen || strings.EqualFold(f.Name, "config.json")
	if !likely {
		return false
	}
	if f.R != nil && f.Size > int64(len(f.Head)) && f.Size <= probeLimit {
		return topLevel(io.NewSectionReader(f.R, 0, f.Size)).keras
	}
	// A compressed member seen only through its head: fail towards
	// scanning, since analysing a non-Keras JSON costs little.
	return f.Size < 0
}

type topKeys struct {
	keras   bool // class_name string plus config or module
	decided bool // the object's top level was read to its end or a verdict
	seen    bool // any of class_name, config, module appeared
}

// topLevel tokenizes the top level of a JSON object.
func topLevel(r io.Reader) topKeys {
	d := json.NewDecoder(r)
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return topKeys{decided: true}
	}
	var hasClass, hasConfig, hasModule bool
	var out topKeys
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return out
		}
		key, _ := t.(string)
		v, err := d.Token()
		if err != nil {
			return out
		}
		switch key {
		case "class_name":
			_, hasClass = v.(string)
			out.seen = true
		case "config":
			hasConfig, out.seen = true, true
		case "module":
			_, hasModule = v.(string)
			out.seen = true
		}
		if hasClass && (hasConfig || hasModule) {
			return topKeys{keras: true, decided: true, seen: true}
		}
		if dl, ok := v.(json.Delim); ok && (dl == '{' || dl == '[') {
			if !skipValue(d) {
				return out
			}
		}
	}
	out.decided = true
	return out
}

// skipValue consumes tokens until the open container closes.
func skipValue(d *json.Decoder) bool {
	depth := 1
	for depth > 0 {
		t, err := d.Token()
		if err != nil {
			return false
		}
		if dl, ok := t.(json.Delim); ok {
			switch dl {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
	}
	return true
}

// Scan implements scan.Scanner.
func (*ConfigScanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	if in.Size > MaxConfigSize {
		res := scan.NewResult("keras-config")
		return res, fmt.Errorf("keras config of %d bytes exceeds the %d-byte limit", in.Size, MaxConfigSize)
	}
	doc, err := io.ReadAll(io.LimitReader(in.Open(), MaxConfigSize+1))
	if err != nil {
		return scan.NewResult("keras-config"), fmt.Errorf("read: %w", err)
	}
	return AnalyzeConfig(ctx, in, doc, ""), nil
}

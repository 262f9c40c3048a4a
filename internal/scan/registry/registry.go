// Package registry assembles the default, ordered list of format scanners.
// Order matters: scanners with exact magic numbers come before heuristic
// ones (pickle), so detection is by content and unambiguous.
package registry

import (
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/archive"
	"github.com/mlsec/mlsec/internal/scan/data"
	"github.com/mlsec/mlsec/internal/scan/deps"
	"github.com/mlsec/mlsec/internal/scan/gguf"
	"github.com/mlsec/mlsec/internal/scan/keras"
	"github.com/mlsec/mlsec/internal/scan/notebook"
	"github.com/mlsec/mlsec/internal/scan/numpy"
	"github.com/mlsec/mlsec/internal/scan/onnx"
	"github.com/mlsec/mlsec/internal/scan/pickle"
	"github.com/mlsec/mlsec/internal/scan/pytorch"
	"github.com/mlsec/mlsec/internal/scan/safetensors"
	"github.com/mlsec/mlsec/internal/scan/template"
	"github.com/mlsec/mlsec/internal/scan/tensorflow"
)

// Config carries the user settings format scanners need.
type Config struct {
	// SafeGlobals extends the pickle allow-list ("module.name" or "module.*").
	SafeGlobals []string
	// Strict raises unaudited pickle imports from medium to high.
	Strict bool
	// VulnDB is the offline vulnerability database file ("" = default).
	VulnDB string
}

// Scanners returns every format scanner in detection order.
func Scanners(cfg Config) []scan.Scanner {
	var out []scan.Scanner
	// Containers and formats with magic numbers first.
	// (format packages add themselves here)
	out = append(out, gguf.New(), safetensors.New())
	out = append(out, archive.Scanners()...)
	out = append(out, keras.NewH5Scanner(), keras.NewConfigScanner())
	out = append(out, pytorch.NewLegacy(pickle.Options{ExtraSafe: cfg.SafeGlobals, Strict: cfg.Strict}))
	out = append(out, numpy.New(pickle.Options{ExtraSafe: cfg.SafeGlobals, Strict: cfg.Strict}))
	// Protobuf formats: strict trial decodes, after the containers.
	out = append(out, onnx.New(), tensorflow.NewSavedModel(), tensorflow.NewGraphDef(), tensorflow.NewFingerprint(), tensorflow.NewKerasMetadata(), tensorflow.NewText())
	// Jupyter notebooks (JSON with cells), before the other JSON readers.
	out = append(out, notebook.New())
	// Tabular data (CSV, TSV, JSON Lines by name and content; Parquet by magic).
	out = append(out, data.New())
	// Chat templates of Hugging Face repositories (tokenizer_config.json, *.jinja).
	out = append(out, template.New())
	// Python dependency manifests and lockfiles (text: matched by name and content).
	out = append(out, deps.New(deps.Options{VulnDB: cfg.VulnDB}))
	// Heuristic detectors last.
	out = append(out, pickle.New(pickle.Options{ExtraSafe: cfg.SafeGlobals, Strict: cfg.Strict}))
	return out
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/bom"
	"github.com/mlsec/mlsec/internal/bom/spdx3"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

type bomOptions struct {
	format       string
	reproducible bool
	noScan       bool
	workers      int
	ledger       []string
	vulnDB       string
}

var bomFormats = map[string]string{
	bom.CycloneDXJSON: bom.CycloneDXJSON, "json": bom.CycloneDXJSON, "cyclonedx": bom.CycloneDXJSON,
	bom.CycloneDXXML: bom.CycloneDXXML, "xml": bom.CycloneDXXML,
	spdx3.Format: spdx3.Format, "spdx3": spdx3.Format, "spdx": spdx3.Format,
}

func newBOMCmd(g *globals) *cobra.Command {
	var o bomOptions
	cmd := &cobra.Command{
		Use:   "bom PATH",
		Short: "Write an ML bill of materials (CycloneDX 1.6 ML-BOM or SPDX 3.0 AI) for a model or project",
		Long: `Describe a model directory (Hugging Face layout), a single model file or an ML
project as a bill of materials:

  - the model, as a CycloneDX machine-learning-model component with a model
    card: task, approach, architecture (config.json), datasets, inputs and
    outputs, evaluation results (model-index) and considerations (uses,
    users, limitations, risks, bias) from the README's front matter and prose;
  - what the weight headers tell (safetensors, GGUF, PyTorch, ONNX): tensor
    and parameter counts, dtypes, GGUF architecture and quantisation —
    tensor data is never read except to hash it;
  - every file with its SHA-256 (hashed in parallel, streamed);
  - data sets as data components, base models, Python packages from the
    lockfiles (pkg:pypi purls), a dependency graph;
  - scan findings as vulnerabilities (ratings, MITRE ATLAS and CWE
    references), unless --no-scan;
  - the signature bundle (model.sig) and the ledger as external references.

--format: cyclonedx-json (default), cyclonedx-xml or spdx3-json (SPDX 3.0.1
JSON-LD with the AI and Dataset profiles). --reproducible makes identical
input give byte-identical output: the serial number is derived from the
content and the timestamp comes from SOURCE_DATE_EPOCH (or is left out;
SPDX, which requires one, then says 1970-01-01).

'mlsec bom diff OLD NEW' compares two BOMs (or model directories).`,
		Example: `  mlsec bom ./my-model -o my-model.cdx.json
  mlsec bom --format spdx3-json --reproducible ./my-model -o my-model.spdx.json
  mlsec bom --format cyclonedx-xml --no-scan model.gguf
  mlsec bom diff release-1.cdx.json ./my-model`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBOM(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", bom.CycloneDXJSON, "BOM format: cyclonedx-json, cyclonedx-xml or spdx3-json")
	f.BoolVar(&o.reproducible, "reproducible", false, "byte-identical output for identical input (content-derived serial, SOURCE_DATE_EPOCH time)")
	f.BoolVar(&o.noScan, "no-scan", false, "leave scan findings out (do not run the scanner)")
	f.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files hashed and scanned in parallel")
	f.StringSliceVar(&o.ledger, "ledger", nil, "provenance ledger `REF` (URL or path) to reference; repeatable")
	f.StringVar(&o.vulnDB, "vulndb", "", "offline vulnerability database `FILE` for dependency findings (see 'mlsec db')")
	cmd.AddCommand(newBOMDiffCmd(g))
	return cmd
}

func (o *bomOptions) resolveFormat(cmd *cobra.Command) error {
	if f, ok := bomFormats[o.format]; ok {
		o.format = f
		return nil
	}
	if !cmd.Flags().Changed("format") {
		// A report format from MLSEC_FORMAT or mlsec.yaml meant for the
		// other commands.
		o.format = bom.CycloneDXJSON
		return nil
	}
	return usagef("unknown --format %q (want cyclonedx-json, cyclonedx-xml or spdx3-json)", o.format)
}

// buildBOM scans (unless told not to) and assembles the BOM of path.
func buildBOM(cmd *cobra.Command, g *globals, o bomOptions, path string) (*bom.BOM, error) {
	if o.workers < 1 {
		return nil, usagef("--workers must be at least 1")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, errors.Unwrap(err))
	}
	tool := finding.Tool{Name: "mlsec", Version: buildVersion().Version}
	if tool.Version == "" {
		tool.Version = "devel"
	}
	opts := bom.Options{Workers: o.workers, Reproducible: o.reproducible, Tool: tool, LedgerRefs: o.ledger, Logger: g.logger}
	if !o.noScan {
		eng := scan.New(registry.Scanners(registry.Config{VulnDB: o.vulnDB}),
			scan.Options{Workers: o.workers, Limits: scan.DefaultLimits(), Logger: g.logger, Tool: tool})
		rep, err := eng.Scan(cmd.Context(), []string{path})
		if err != nil {
			return nil, err
		}
		opts.Findings = rep
	}
	return bom.Build(cmd.Context(), path, opts)
}

func runBOM(cmd *cobra.Command, g *globals, o bomOptions, path string) error {
	if err := o.resolveFormat(cmd); err != nil {
		return err
	}
	b, err := buildBOM(cmd, g, o, path)
	if err != nil {
		return err
	}
	for _, n := range b.Notes {
		g.logger.Warn("bom: " + n)
	}
	if err := g.writeOutput(func(w io.Writer, _ bool) error {
		if o.format == spdx3.Format {
			return spdx3.Encode(w, b)
		}
		return bom.EncodeCycloneDX(w, b, o.format)
	}); err != nil {
		return err
	}
	// The BOM is the product; findings gate only when asked to.
	if cmd.Flags().Changed("fail-on") && !g.failNone {
		for _, f := range b.Findings {
			if f.Severity >= g.failSeverity {
				return &exitError{code: ExitFindings}
			}
		}
	}
	return nil
}

func newBOMDiffCmd(g *globals) *cobra.Command {
	var o bomOptions
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show what changed between two BOMs: weights, datasets, dependencies, licences, findings",
		Long: `Compare two ML-BOMs for release review: weights added, removed or changed
(by SHA-256), datasets, Python dependencies (versions), licences, model facts
(parameters, quantisation, architecture, evaluation results) and scan
findings. OLD and NEW are CycloneDX BOMs (JSON or XML, from mlsec or
another producer) or model directories and files, which are described on
the fly. --format json gives the changes as JSON; the default is text.`,
		Example: `  mlsec bom diff v1.cdx.json v2.cdx.json
  mlsec bom diff --exit-code release.cdx.json ./models/candidate`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var inv [2]bom.Inventory
			for i, p := range args {
				v, err := inventoryOf(cmd, g, o, p)
				if err != nil {
					return err
				}
				inv[i] = v
			}
			res := &bom.DiffResult{Old: args[0], New: args[1], Changes: bom.Compare(inv[0], inv[1])}
			if err := g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return res.WriteJSON(w)
				}
				return res.WriteText(w)
			}); err != nil {
				return err
			}
			if exitCode && len(res.Changes) > 0 {
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.noScan, "no-scan", false, "when describing a directory, leave scan findings out")
	f.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files hashed and scanned in parallel")
	f.BoolVar(&exitCode, "exit-code", false, "exit 1 when the BOMs differ")
	return cmd
}

// inventoryOf reads a CycloneDX BOM file, or describes a model path.
func inventoryOf(cmd *cobra.Command, g *globals, o bomOptions, p string) (bom.Inventory, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", p, errors.Unwrap(err))
	}
	if !st.IsDir() {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		head := make([]byte, 4096)
		n, _ := io.ReadFull(f, head)
		if bom.IsCycloneDX(head[:n]) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			b, err := bom.DecodeCycloneDX(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
			}
			return bom.InventoryOf(b), nil
		}
	}
	b, err := buildBOM(cmd, g, o, p)
	if err != nil {
		return nil, err
	}
	return bom.InventoryOf(bom.ToCycloneDX(b)), nil
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
)

type scanOptions struct {
	digest      bool
	strict      bool
	safeGlobals []string
	workers     int
	timeout     time.Duration
	maxDepth    int
	verbose     bool
	vulnDB      string
	upload      uploadFlags
}

func newScanCmd(g *globals) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Scan model files, directories and archives for malicious content",
		Long: `Scan files, directories (recursively) and archives for code that would run
when the model is loaded: pickle imports and calls (PyTorch, joblib, NumPy,
dill, cloudpickle), Keras Lambda layers and foreign classes, TensorFlow file
and Python ops, ONNX external-data traversal, GGUF chat-template injection,
and malformed safetensors. Formats are detected by content, not by name.

Nothing is ever loaded or executed. Content that cannot be fully analysed is
reported as inconclusive (exit 2), never as clean.`,
		Example: `  mlsec scan model.pt
  mlsec scan --format sarif -o mlsec.sarif ./models
  mlsec scan --fail-on medium --strict --digest downloads/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.digest, "digest", false, "add each file's SHA-256 to the report")
	f.BoolVar(&o.strict, "strict", false, "treat unaudited pickle imports as high instead of medium")
	f.StringSliceVar(&o.safeGlobals, "safe-global", nil, "allow-list a pickle global (`module.name` or module.*); repeatable")
	f.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files scanned in parallel")
	f.DurationVar(&o.timeout, "timeout", scan.DefaultLimits().Timeout, "time limit per file (inconclusive when hit)")
	f.IntVar(&o.maxDepth, "max-depth", scan.DefaultLimits().MaxDepth, "deepest archive nesting analysed (inconclusive beyond)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list clean and skipped files in the table too")
	f.StringVar(&o.vulnDB, "vulndb", "", "offline vulnerability database `FILE` for dependency checks (default: user data dir; see 'mlsec db')")
	o.upload.add(cmd, true)
	return cmd
}

func runScan(cmd *cobra.Command, g *globals, o scanOptions, paths []string) error {
	if o.workers < 1 {
		return usagef("--workers must be at least 1")
	}
	if o.maxDepth < 1 {
		return usagef("--max-depth must be at least 1")
	}
	if _, err := o.upload.client(); o.upload.enabled && err != nil {
		return err
	}
	limits := scan.DefaultLimits()
	limits.Timeout = o.timeout
	limits.MaxDepth = o.maxDepth
	opts := scan.Options{
		Workers: o.workers,
		Limits:  limits,
		Digest:  o.digest || o.upload.enabled,
		Logger:  g.logger,
		Tool:    finding.Tool{Name: "mlsec", Version: buildVersion().Version},
	}
	if !g.quiet && isTerminal(g.stderr) {
		opts.Progress = func(done, total int, path string) {
			fmt.Fprintf(g.stderr, "\r\033[Kscanning %d/%d %s", done, total, truncate(path, 60))
			if done == total {
				fmt.Fprint(g.stderr, "\r\033[K")
			}
		}
	}
	eng := scan.New(registry.Scanners(registry.Config{SafeGlobals: o.safeGlobals, Strict: o.strict, VulnDB: o.vulnDB}), opts)
	rep, err := eng.Scan(cmd.Context(), paths)
	if err != nil {
		var pe *scan.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("cannot read %s", pe.Error())
		}
		return err
	}
	if err := g.render(rep, o.verbose); err != nil {
		return err
	}
	if o.upload.enabled {
		if err := uploadReport(cmd.Context(), g, o.upload, rep); err != nil {
			return err
		}
	}
	return verdict(g, rep)
}

// render writes the report in the chosen format.
func (g *globals) render(rep *finding.Report, verbose bool) error {
	return g.writeOutput(func(w io.Writer, color bool) error {
		enc, err := report.New(g.format, report.Options{Color: color, Verbose: verbose})
		if err != nil {
			return usagef("%v", err)
		}
		return enc.Encode(w, rep)
	})
}

// verdict maps a report to the exit code contract.
func verdict(g *globals, rep *finding.Report) error {
	if !g.failNone && rep.AtOrAbove(g.failSeverity) {
		return &exitError{code: ExitFindings}
	}
	if rep.Summary.Inconclusive > 0 {
		return &exitError{code: ExitInconclusive}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}

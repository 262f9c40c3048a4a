// Package cli is mlsec's command line: one file per command. Commands turn
// flags into options, call a library, render the result and map errors to
// exit codes; they hold no analysis logic.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlsec/mlsec/internal/finding"
)

// Exit codes shared by every command.
const (
	ExitClean        = 0 // nothing at or above --fail-on, everything analysed
	ExitFindings     = 1 // findings at or above --fail-on
	ExitInconclusive = 2 // something could not be analysed, nothing worse found
	ExitError        = 3 // usage or operational error
)

// exitError carries an exit code through cobra. A nil err means the code
// is a verdict, not a failure, and nothing is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError marks errors in how mlsec was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// globals are the persistent flags every command shares.
type globals struct {
	format     string
	output     string
	failOn     string
	quiet      bool
	noColor    bool
	configPath string
	logLevel   string

	failSeverity finding.Severity
	failNone     bool
	cfg          *config
	logger       *slog.Logger
	stdout       io.Writer
	stderr       io.Writer
}

// Run executes mlsec with args (os.Args included) and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return RunContext(ctx, args, stdout, stderr)
}

// RunContext is Run with a caller-supplied context (tests, embedding).
func RunContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	if len(args) > 0 {
		args = args[1:]
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitClean
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code
	}
	code := ExitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	msg := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	fmt.Fprintf(stderr, "mlsec: error: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) || isFlagError(err) {
		fmt.Fprintf(stderr, "Run 'mlsec --help' for usage.\n")
	}
	return code
}

func isFlagError(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown flag") || strings.HasPrefix(s, "unknown shorthand flag") ||
		strings.HasPrefix(s, "unknown command") || strings.Contains(s, "flag needs an argument") ||
		strings.HasPrefix(s, "invalid argument") || strings.Contains(s, "accepts ") ||
		strings.Contains(s, "requires at least")
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "mlsec",
		Short: "Secure the machine-learning life cycle: scan, sign, attest, test and guard models",
		Long: `mlsec finds malicious code hidden in model files (pickle, PyTorch, joblib,
NumPy, Keras, TensorFlow, ONNX, GGUF, safetensors and the archives around
them) without ever loading them, and reports in table, JSON or SARIF form.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 inconclusive (some
content could not be analysed and nothing worse was found), 3 usage or
operational error.

Settings come from flags, then MLSEC_* environment variables (MLSEC_FAIL_ON,
MLSEC_FORMAT, …), then the config file (mlsec.yaml in the working directory,
else $XDG_CONFIG_HOME/mlsec/mlsec.yaml), then defaults.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup(cmd)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.format, "format", "table", "output format: table, json or sarif")
	pf.StringVarP(&g.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	pf.StringVar(&g.failOn, "fail-on", "high", "exit 1 when a finding is at or above this severity: critical, high, medium, low or none")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only the report (no progress or notes)")
	pf.BoolVar(&g.noColor, "no-color", false, "disable coloured output (also when NO_COLOR is set)")
	pf.StringVar(&g.configPath, "config", "", "read settings from `FILE` (default ./mlsec.yaml, then the user config dir)")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log verbosity on standard error: debug, info, warn or error")

	root.AddCommand(newScanCmd(g), newInspectCmd(g), newRulesCmd(g), newVersionCmd(g))
	root.AddCommand(newServeCmd(g))
	root.AddCommand(newPredictCmd(g))
	root.AddCommand(newFairnessCmd(g))
	root.AddCommand(newExplainCmd(g))
	root.AddCommand(newLedgerCmd(g), newAttestCmd(g))
	root.AddCommand(newDBCmd(g))
	root.AddCommand(newSignCmd(g), newDigestCmd(g), newKeygenCmd(g))
	root.AddCommand(newVerifyCmd(g))
	root.AddCommand(newPolicyCmd(g), newReportCmd(g))
	root.AddCommand(newServerCmd(g), newPushCmd(g))
	root.AddCommand(newBOMCmd(g))
	root.AddCommand(newRedteamCmd(g))
	root.AddCommand(newGatewayCmd(g))
	return root
}

// setup applies environment and config-file settings to unset flags, then
// validates the globals.
func (g *globals) setup(cmd *cobra.Command) error {
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return err
	}
	g.cfg = cfg
	var applyErr error
	apply := func(f *pflag.Flag) {
		if applyErr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		env := "MLSEC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				applyErr = usagef("%s=%q: %v", env, v, err)
			}
			return
		}
		if v, ok := cfg.lookup(cmd.Name(), f.Name); ok {
			if err := setFromConfig(f, v); err != nil {
				applyErr = usagef("%s: %s: %v", cfg.path, f.Name, err)
			}
		}
	}
	cmd.Flags().VisitAll(apply)
	cmd.InheritedFlags().VisitAll(apply)
	if applyErr != nil {
		return applyErr
	}

	switch g.format {
	case "table", "json", "sarif", "html": // html: fairness and explain reports
	default:
		return usagef("unknown --format %q (want table, json or sarif)", g.format)
	}
	if strings.EqualFold(g.failOn, "none") {
		g.failNone = true
	} else {
		sev, err := finding.ParseSeverity(g.failOn)
		if err != nil || sev == finding.Info {
			return usagef("unknown --fail-on %q (want critical, high, medium, low or none)", g.failOn)
		}
		g.failSeverity = sev
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return usagef("unknown --log-level %q (want debug, info, warn or error)", g.logLevel)
	}
	g.logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// color reports whether output to w may use ANSI colours.
func (g *globals) color(w io.Writer) bool {
	if g.noColor || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// writeOutput sends rendered output to --output (atomically, via a
// temporary file and rename) or to standard output.
func (g *globals) writeOutput(render func(w io.Writer, color bool) error) error {
	if g.output == "" || g.output == "-" {
		return render(g.stdout, g.color(g.stdout))
	}
	dir, base := splitPath(g.output)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", g.output, err)
	}
	defer os.Remove(tmp.Name())
	if err := render(tmp, false); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", g.output, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", g.output, err)
	}
	if err := os.Rename(tmp.Name(), g.output); err != nil {
		return fmt.Errorf("write %s: %w", g.output, err)
	}
	return nil
}

func splitPath(p string) (dir, base string) {
	i := strings.LastIndexAny(p, "/\\")
	if i < 0 {
		return ".", p
	}
	return p[:i+1], p[i+1:]
}

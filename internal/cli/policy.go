package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/compliance"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/policy"
	"github.com/mlsec/mlsec/internal/report"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
	"github.com/mlsec/mlsec/internal/sign"
	"github.com/mlsec/mlsec/internal/store"
)

// gateFlags are what 'policy check' and 'report compliance' share: where
// the policies and the evidence come from.
type gateFlags struct {
	policyDirs []string
	noBuiltin  bool
	evidence   []string
	modelName  string
	now        string
	printInput string
	// signature verification
	signature   string
	publicKey   string
	certChain   []string
	identity    string
	issuer      string
	trustConfig string
	// scanning
	strict      bool
	safeGlobals []string
	vulnDB      string
	// ledger
	ledger ledgerFlags
}

func (f *gateFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.policyDirs, "policy", nil, "directory of Rego policies (and data.json/data.yaml settings) to add; a module in a built-in package replaces that built-in rule; repeatable")
	fl.BoolVar(&f.noBuiltin, "no-builtin", false, "leave the built-in policy pack out (your policies must define data.mlsec.decision)")
	fl.StringArrayVar(&f.evidence, "evidence", nil, "evidence `FILE`: a scan report, 'mlsec verify --format json' result, CycloneDX BOM, fairness or robustness report; repeatable")
	fl.StringVar(&f.modelName, "model", "", "model name in the ledger (default: the file or directory name without extension)")
	fl.StringVar(&f.now, "at", "", "decide as of this RFC 3339 time (waiver expiry; default now)")
	fl.StringVar(&f.printInput, "print-input", "", "also write the assembled input document to `FILE` (JSON) for writing and testing policies")
	fl.StringVar(&f.signature, "signature", "", "model signature (Sigstore bundle) `FILE` to verify (default: MODEL_PATH.sig or model.sig inside the model, if present)")
	fl.StringVar(&f.publicKey, "public-key", "", "verify the signature with this ECDSA public key `FILE`")
	fl.StringArrayVar(&f.certChain, "certificate-chain", nil, "verify a certificate signature against these trust anchors `FILE`; repeatable")
	fl.StringVar(&f.identity, "identity", "", "verify a Sigstore signature: expected signer identity")
	fl.StringVar(&f.issuer, "identity-provider", "", "verify a Sigstore signature: expected OIDC issuer")
	fl.StringVar(&f.trustConfig, "trust-config", "", "verify a Sigstore signature offline against this trusted root `FILE`")
	fl.BoolVar(&f.strict, "strict", false, "scan: treat unaudited pickle imports as high")
	fl.StringSliceVar(&f.safeGlobals, "safe-global", nil, "scan: allow-list a pickle global; repeatable")
	fl.StringVar(&f.vulnDB, "vulndb", "", "scan: offline vulnerability database `FILE`")
	f.ledger.add(cmd)
}

func (f *gateFlags) engineOptions() []policy.Option {
	opts := []policy.Option{policy.WithControls(compliance.Default().Refs)}
	for _, d := range f.policyDirs {
		opts = append(opts, policy.WithPolicyDir(d))
	}
	if f.noBuiltin {
		opts = append(opts, policy.WithoutBuiltin())
	}
	return opts
}

// gather assembles the input document for the model at path.
func (f *gateFlags) gather(ctx context.Context, g *globals, path string) (*policy.Input, error) {
	at := time.Now().UTC().Truncate(time.Second)
	if f.now != "" {
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return nil, usagef("--at %q: %v", f.now, err)
		}
		at = t.UTC()
	}
	m, err := policy.DigestModel(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("cannot read model: %w", err)
	}
	if f.modelName != "" {
		m.Name = f.modelName
	}
	in := &policy.Input{SchemaVersion: policy.InputSchemaVersion, EvaluatedAt: at, Model: m, Sources: []policy.EvidenceSource{}}
	seen := map[string]string{}
	for _, p := range f.evidence {
		data, err := readEvidenceFile(p, policy.MaxEvidenceSize)
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		ev, err := policy.ParseEvidence(data)
		if err != nil {
			return nil, fmt.Errorf("evidence %s: %w", p, err)
		}
		if prev, dup := seen[ev.Kind]; dup {
			return nil, usagef("evidence %s and %s are both %s evidence", prev, p, ev.Kind)
		}
		seen[ev.Kind] = p
		switch ev.Kind {
		case policy.KindScan:
			in.Scan = *ev.Scan
		case policy.KindSignature:
			in.Signature = *ev.Signature
		case policy.KindBOM:
			in.BOM = *ev.BOM
		case policy.KindFairness:
			in.Fairness = *ev.Fairness
		case policy.KindRobustness:
			in.Robustness = *ev.Robustness
		}
		in.Sources = append(in.Sources, policy.EvidenceSource{Kind: ev.Kind, From: p})
	}
	if !in.Scan.Present {
		eng := scan.New(registry.Scanners(registry.Config{SafeGlobals: f.safeGlobals, Strict: f.strict, VulnDB: f.vulnDB}),
			scan.Options{Limits: scan.DefaultLimits(), Logger: g.logger, Tool: finding.Tool{Name: "mlsec", Version: buildVersion().Version}})
		rep, err := eng.Scan(ctx, []string{path})
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		in.Scan = policy.ScanFromReport(rep)
		in.Sources = append(in.Sources, policy.EvidenceSource{Kind: policy.KindScan, From: "engine"})
	}
	if !in.Signature.Present {
		if err := f.verify(ctx, path, in); err != nil {
			return nil, err
		}
	}
	if err := f.readLedger(ctx, in); err != nil {
		return nil, err
	}
	if f.printInput != "" {
		fh, err := os.Create(f.printInput)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		if err := writeJSON(fh, in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// verify checks the model's signature when a verifier is configured.
func (f *gateFlags) verify(ctx context.Context, path string, in *policy.Input) error {
	sig := f.signature
	if sig == "" {
		for _, c := range []string{strings.TrimRight(path, "/") + ".sig", path + "/model.sig"} {
			if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
				sig = c
				break
			}
		}
	}
	method := ""
	switch {
	case f.publicKey != "":
		method = "key"
	case len(f.certChain) > 0:
		method = "certificate"
	case f.identity != "":
		method = "sigstore"
	}
	if sig == "" {
		if f.signature != "" || method != "" {
			return usagef("no signature file found (pass --signature)")
		}
		return nil // no signature evidence: the policy decides
	}
	if method == "" {
		if f.signature != "" {
			return usagef("--signature needs --public-key, --certificate-chain or --identity/--identity-provider/--trust-config to verify it")
		}
		return nil
	}
	v, err := buildVerifier(method, f.publicKey, f.certChain, f.identity, f.issuer, f.trustConfig)
	if err != nil {
		return err
	}
	raw, err := readEvidenceFile(sig, 512<<20)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	res, verr := sign.Verify(ctx, path, raw, v, sign.VerifyOptions{SignaturePath: sig, IgnoreGitPaths: true})
	ev, err := policy.SignatureFromVerify(res, verr, sig)
	if err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	ev.Method = method
	in.Signature = ev
	in.Sources = append(in.Sources, policy.EvidenceSource{Kind: policy.KindSignature, From: sig})
	return nil
}

// readLedger reads the model's ledger history when a ledger exists (--db,
// or the default database if it is there); it never creates one.
func (f *gateFlags) readLedger(ctx context.Context, in *policy.Input) error {
	if f.ledger.db == "" {
		p, err := store.DefaultPath()
		if err != nil {
			return nil
		}
		if _, err := os.Stat(p); err != nil {
			return nil
		}
	}
	l, closeFn, err := f.ledger.open(ctx, false)
	if err != nil {
		if errors.Is(err, store.ErrNotInitialized) {
			return nil
		}
		return fmt.Errorf("ledger: %w", err)
	}
	defer closeFn()
	pub, err := f.ledger.trustedKey()
	if err != nil {
		return err
	}
	ev, err := policy.FromLedger(ctx, l, l.Storage().(*store.Store), in.Model, policy.LedgerOptions{VerifierKey: pub, Now: in.EvaluatedAt})
	if err != nil {
		return err
	}
	in.Ledger = ev
	from := f.ledger.db
	if from == "" {
		from = "default ledger"
	}
	in.Sources = append(in.Sources, policy.EvidenceSource{Kind: "ledger", From: from})
	return nil
}

func readEvidenceFile(p string, limit int64) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	return data, nil
}

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Decide whether a model may ship: Rego policies over all its evidence",
		Long: `'mlsec policy check' gathers the evidence about a model — its scan, its
signature, its ledger history (training attestations, waivers), its BOM and
fairness and robustness reports — into one input document and evaluates the
built-in policy pack (rules MLS-POL-001..009, see 'mlsec rules') and your own
Rego policies over it. 'policy test' runs Rego unit tests; 'policy waive'
records an approved, time-limited exception in the ledger.`,
	}
	cmd.AddCommand(newPolicyCheckCmd(g), newPolicyTestCmd(g), newPolicyWaiveCmd(g), newPolicyShowCmd(g))
	return cmd
}

// checkResult is the JSON form of a decision.
type checkResult struct {
	SchemaVersion string                  `json:"schema_version"`
	Allow         bool                    `json:"allow"`
	Model         policy.Model            `json:"model"`
	EvaluatedAt   time.Time               `json:"evaluated_at"`
	Deny          []policy.Violation      `json:"deny"`
	Warn          []policy.Violation      `json:"warn"`
	Waived        []policy.Violation      `json:"waived"`
	Evidence      []policy.EvidenceSource `json:"evidence"`
}

func newPolicyCheckCmd(g *globals) *cobra.Command {
	var f gateFlags
	cmd := &cobra.Command{
		Use:   "check MODEL_PATH",
		Short: "Evaluate the policies over a model's evidence: allow or deny",
		Long: `Scan the model (unless a scan report is given with --evidence), verify its
signature (with --public-key, --certificate-chain or a Sigstore identity),
read its history from the ledger (--db, or the default ledger if it exists),
add the --evidence files, and evaluate the policies.

Exit status: 0 allowed, 1 denied, 3 usage or operational error (a policy
that does not compile, unreadable evidence). Output: table, json or sarif.`,
		Example: `  mlsec policy check ./model --public-key release.pub --signature model.sig
  mlsec policy check ./model --policy ./policies --evidence bom.cdx.json --evidence fairness.json
  mlsec policy check model.pt --format sarif -o policy.sarif`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			eng, err := policy.New(ctx, f.engineOptions()...)
			if err != nil {
				return err
			}
			in, err := f.gather(ctx, g, args[0])
			if err != nil {
				return err
			}
			d, err := eng.Evaluate(ctx, in)
			if err != nil {
				return err
			}
			res := checkResult{SchemaVersion: policy.InputSchemaVersion, Allow: d.Allow, Model: in.Model, EvaluatedAt: in.EvaluatedAt,
				Deny: d.Deny, Warn: d.Warn, Waived: d.Waived, Evidence: in.Sources}
			res.Model.Files = nil
			if err := g.writeOutput(func(w io.Writer, color bool) error {
				switch g.format {
				case "json":
					return writeJSON(w, res)
				case "sarif":
					enc, err := report.New("sarif", report.Options{})
					if err != nil {
						return err
					}
					return enc.Encode(w, decisionReport(in, d))
				default:
					return renderDecision(w, res)
				}
			}); err != nil {
				return err
			}
			if !d.Allow {
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

var sevOf = map[string]finding.Severity{"critical": finding.Critical, "high": finding.High, "medium": finding.Medium, "low": finding.Low, "info": finding.Info}

// decisionReport turns denials and warnings into findings (for SARIF).
func decisionReport(in *policy.Input, d *policy.Decision) *finding.Report {
	art := finding.Artifact{Path: in.Model.Path}
	var fs []finding.Finding
	add := func(v policy.Violation, sev finding.Severity) {
		f := finding.Finding{RuleID: v.Rule, Severity: sev, Title: v.Message, Artifact: art,
			Evidence: finding.Evidence{Text: v.Message, Fields: map[string]any{"policy": v.Policy}}}
		if r, ok := finding.Lookup(v.Rule); ok {
			f.Description, f.Remediation, f.References = r.Summary, r.Remediation, r.References
		}
		if v.FindingRule != "" {
			f.Evidence.Fields["finding_rule"] = v.FindingRule
		}
		fs = append(fs, f)
	}
	for _, v := range d.Deny {
		add(v, sevOf[v.Severity])
	}
	for _, v := range d.Warn {
		add(v, finding.Info)
	}
	rep := &finding.Report{Tool: finding.Tool{Name: "mlsec", Version: buildVersion().Version}, StartedAt: in.EvaluatedAt,
		Targets: []string{in.Model.Path}, Artifacts: []finding.ArtifactResult{{Artifact: art, Status: finding.StatusComplete, Findings: fs}}}
	rep.Finalize()
	return rep
}

func renderDecision(w io.Writer, r checkResult) error {
	verdict := "ALLOW"
	if !r.Allow {
		verdict = "DENY"
	}
	fmt.Fprintf(w, "%s  %s (%s)\n", verdict, r.Model.Name, r.Model.Digest)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(kind string, v policy.Violation) {
		var ctl []string
		for _, c := range v.Controls {
			if c.Framework == "owasp-ml" || c.Framework == "atlas" || c.Framework == "eu-ai-act" {
				ctl = append(ctl, c.ID)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", kind, strings.ToUpper(v.Severity), v.Rule, v.Message)
		if v.Waiver != nil {
			fmt.Fprintf(tw, "  \t\t\twaived by %s until %s (ledger #%d): %s\n", v.Waiver.Approver, v.Waiver.Expires.Format("2006-01-02"), v.Waiver.Seq, v.Waiver.Reason)
		}
		if len(ctl) > 0 {
			fmt.Fprintf(tw, "  \t\t\tcontrols: %s\n", strings.Join(ctl, ", "))
		}
	}
	for _, v := range r.Deny {
		row("deny", v)
	}
	for _, v := range r.Waived {
		row("waived", v)
	}
	for _, v := range r.Warn {
		row("warn", v)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var src []string
	for _, s := range r.Evidence {
		src = append(src, s.Kind+" ("+s.From+")")
	}
	fmt.Fprintf(w, "evidence: %s\n", strings.Join(src, ", "))
	return nil
}

func newPolicyTestCmd(g *globals) *cobra.Command {
	var dirs []string
	var noBuiltin bool
	cmd := &cobra.Command{
		Use:   "test [DIR...]",
		Short: "Run the Rego unit tests (test_* rules) of your policies or of the built-in pack",
		Long: `Run every test_* rule in the *_test.rego files of the given policy
directories, against the same modules a check uses (the built-in pack, with
your modules replacing built-in ones in the same package). Without
directories, run the built-in pack's own tests. Exit 1 if a test fails.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []policy.Option
			for _, d := range append(dirs, args...) {
				opts = append(opts, policy.WithPolicyDir(d))
			}
			if noBuiltin {
				opts = append(opts, policy.WithoutBuiltin())
			}
			res, err := policy.RunTests(cmd.Context(), opts...)
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range res {
				if !r.Pass && !r.Skip {
					failed++
				}
			}
			if err := g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return writeJSON(w, res)
				}
				for _, r := range res {
					state := "PASS"
					switch {
					case r.Skip:
						state = "SKIP"
					case !r.Pass:
						state = "FAIL"
					}
					fmt.Fprintf(w, "%s  %s.%s (%s)", state, r.Package, r.Name, r.File)
					if r.Error != "" {
						fmt.Fprintf(w, ": %s", r.Error)
					}
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "%d passed, %d failed\n", len(res)-failed, failed)
				return nil
			}); err != nil {
				return err
			}
			if failed > 0 {
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&dirs, "policy", nil, "policy directory with *_test.rego files; repeatable (or give directories as arguments)")
	cmd.Flags().BoolVar(&noBuiltin, "no-builtin", false, "leave the built-in pack and its tests out")
	return cmd
}

// parseExpiry accepts an RFC 3339 time, a date (end of that day, UTC) or a
// duration in days ("30d") or hours ("12h") from now.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second).UTC(), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscan(n, &days); err == nil && days > 0 {
			return now.Add(time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("expiry %q: want a date (2026-06-30), an RFC 3339 time or a duration (30d, 12h)", s)
}

func newPolicyWaiveCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var w policy.Waiver
	var expires, modelPath string
	cmd := &cobra.Command{
		Use:   "waive MODEL --rule RULE --reason TEXT --approver WHO --expires WHEN",
		Short: "Record an approved, time-limited exception to a policy rule in the ledger",
		Long: `Record that RULE (a policy rule such as MLS-POL-005, or a finding rule such as
MLS-DEP-001) does not block MODEL until the expiry. MODEL is the ledger name;
with --digest (or --model-path, which digests the model) the waiver covers
only that exact content. The waiver is a 'waive' event signed into the
ledger; once expired it stops counting. Waivers last at most a year.`,
		Example: `  mlsec policy waive credit-scorer --rule MLS-DEP-001 --approver security@example.com \
      --reason "torch CVE not reachable: no untrusted pickles are loaded" --expires 30d`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			now := time.Now().UTC()
			w.Model = args[0]
			exp, err := parseExpiry(expires, now)
			if err != nil {
				return usagef("%v", err)
			}
			w.Expires = exp.Truncate(time.Second)
			if modelPath != "" {
				m, err := policy.DigestModel(ctx, modelPath)
				if err != nil {
					return err
				}
				w.Digest = m.Digest
			}
			if err := w.Validate(now); err != nil {
				return usagef("%v", err)
			}
			l, closeFn, err := f.open(ctx, true)
			if err != nil {
				return err
			}
			defer closeFn()
			idx, err := w.Record(ctx, l, l.Storage().(*store.Store), now)
			if err != nil {
				return err
			}
			w.Seq = idx
			return g.writeOutput(func(out io.Writer, _ bool) error {
				if g.format == "json" {
					return writeJSON(out, w)
				}
				_, err := fmt.Fprintf(out, "recorded waiver #%d: %s for %s until %s, approved by %s\n", idx, w.Rule, w.Model, w.Expires.Format(time.RFC3339), w.Approver)
				return err
			})
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&w.Rule, "rule", "", "rule ID the waiver covers (MLS-POL-… or a finding rule such as MLS-DEP-001)")
	fl.StringVar(&w.Reason, "reason", "", "why the exception is acceptable")
	fl.StringVar(&w.Approver, "approver", "", "who approved it (recorded as the event's actor)")
	fl.StringVar(&expires, "expires", "", "when it stops counting: a date, an RFC 3339 time or a duration such as 30d")
	fl.StringVar(&w.Digest, "digest", "", "limit the waiver to this model digest (sha256:…)")
	fl.StringVar(&modelPath, "model-path", "", "limit the waiver to the model at `PATH` (its digest)")
	for _, n := range []string{"rule", "reason", "approver", "expires"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func newPolicyShowCmd(g *globals) *cobra.Command {
	var noBuiltin bool
	var dirs []string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the policy modules a check evaluates (the built-in pack and yours)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts []policy.Option
			for _, d := range dirs {
				opts = append(opts, policy.WithPolicyDir(d))
			}
			if noBuiltin {
				opts = append(opts, policy.WithoutBuiltin())
			}
			eng, err := policy.New(cmd.Context(), opts...)
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				for _, m := range eng.Modules() {
					origin := "yours"
					if m.Builtin {
						origin = "built-in"
					}
					fmt.Fprintf(w, "# %s (%s, package %s)\n%s\n", m.Name, origin, m.Package, m.Source)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&dirs, "policy", nil, "policy directory; repeatable")
	cmd.Flags().BoolVar(&noBuiltin, "no-builtin", false, "leave the built-in pack out")
	return cmd
}

package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/compliance"
	"github.com/mlsec/mlsec/internal/compliance/compliancereport"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/policy"
)

func newReportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Produce reports over a model's evidence (compliance)",
	}
	cmd.AddCommand(newReportComplianceCmd(g))
	return cmd
}

func newReportComplianceCmd(g *globals) *cobra.Command {
	var f gateFlags
	var framework string
	cmd := &cobra.Command{
		Use:   "compliance MODEL_PATH --framework eu-ai-act|nist-ai-rmf|owasp-ml|owasp-llm|atlas|iso42001 -o report.html",
		Short: "Map a model's evidence to a framework, control by control, as a self-contained HTML report",
		Long: `Gather the same evidence as 'mlsec policy check' (scan, signature, ledger,
--evidence files), evaluate the policies, and judge every control of the
framework: fail (a rule bearing on it denied), waived, gap (none of the
evidence it calls for was given), partial, pass, or not assessed
(organisational controls). The HTML file has no external resources and
prints to PDF; --format json writes the assessment as JSON.

Frameworks: ` + strings.Join(compliance.Default().FrameworkIDs(), ", ") + `.
Exit status: 0 report written, 3 usage or operational error (the verdict is
in the report; use 'mlsec policy check' as the gate).`,
		Example: `  mlsec report compliance ./model --framework eu-ai-act --public-key release.pub \
      --evidence bom.cdx.json --evidence fairness.json -o eu-ai-act.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cat := compliance.Default()
			if _, ok := cat.Framework(framework); !ok {
				return usagef("unknown --framework %q (want %s)", framework, strings.Join(cat.FrameworkIDs(), ", "))
			}
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
			a, err := cat.Assess(framework, in, d)
			if err != nil {
				return err
			}
			a.Model.Files = nil
			return g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return writeJSON(w, a)
				}
				return compliancereport.HTML(w, a, cat, finding.Tool{Name: "mlsec", Version: buildVersion().Version})
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&framework, "framework", "", "framework: "+strings.Join(compliance.Default().FrameworkIDs(), ", "))
	_ = cmd.MarkFlagRequired("framework")
	return cmd
}

package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/vulndb"
)

type dbOptions struct {
	path string
}

func (o *dbOptions) resolve() (string, error) {
	if o.path != "" {
		return o.path, nil
	}
	return vulndb.DefaultPath()
}

func newDBCmd(g *globals) *cobra.Command {
	o := &dbOptions{}
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the offline vulnerability database used by dependency scans",
		Long: `The dependency checks of 'mlsec scan' match requirements and lockfiles against
an offline copy of OSV advisories (PyPI, including the OpenSSF malicious-packages
reports). Import it from an osv.dev export, then scans never touch the network.

The database is a SQLite file, by default in the user data directory
($XDG_DATA_HOME/mlsec/vulndb.sqlite or ~/.local/share/mlsec/vulndb.sqlite);
--vulndb or MLSEC_VULNDB choose another file, for 'mlsec scan' too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&o.path, "vulndb", "", "vulnerability database `FILE` (default: user data dir)")
	cmd.AddCommand(newDBImportCmd(g, o), newDBStatusCmd(g, o))
	return cmd
}

func newDBImportCmd(g *globals, o *dbOptions) *cobra.Command {
	var replace bool
	var ecosystems []string
	cmd := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV advisories: an osv.dev ecosystem zip, a directory or a file of OSV JSON/YAML",
		Long: `Import OSV records into the database in one transaction (nothing changes if
the import fails). PATH is an osv.dev ecosystem export such as PyPI's all.zip
(https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip), a directory
tree of OSV .json/.yaml files (for example a checkout of pypa/advisory-database
or ossf/malicious-packages), or one record. Records newer than the stored ones
(by "modified") replace them; --replace empties the database first.`,
		Example: `  mlsec db import PyPI-all.zip
  mlsec db import --vulndb ./ci/vulndb.sqlite PyPI-all.zip malicious-packages/osv/malicious/pypi`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := o.resolve()
			if err != nil {
				return err
			}
			db, err := vulndb.Open(cmd.Context(), path)
			if err != nil {
				return err
			}
			defer db.Close()
			for i, src := range args {
				st, err := db.Import(cmd.Context(), src, vulndb.ImportOptions{Replace: replace && i == 0, Ecosystems: ecosystems})
				if err != nil {
					return fmt.Errorf("import %s: %w (database unchanged by this source)", src, err)
				}
				if !g.quiet {
					fmt.Fprintf(g.stderr, "%s: %d records read, %d added, %d updated, %d unchanged, %d other ecosystems, %d invalid in %s\n",
						src, st.Records, st.Added, st.Updated, st.Unchanged, st.Skipped, st.Invalid, st.Duration.Round(time.Millisecond))
					for _, e := range st.Errors {
						fmt.Fprintf(g.stderr, "  invalid: %s\n", e)
					}
				}
			}
			return printStatus(cmd, g, db)
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "empty the database before importing")
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", []string{vulndb.EcosystemPyPI}, "OSV ecosystems to keep")
	return cmd
}

func newDBStatusCmd(g *globals, o *dbOptions) *cobra.Command {
	var maxAge time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the database's location, age and counts",
		Long: `Show where the database is, when it was imported, how recent its newest
advisory is, and how many advisories and packages it holds. With --max-age,
exit 1 when the last import is older (a CI guard against stale data).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := o.resolve()
			if err != nil {
				return err
			}
			db, err := vulndb.OpenReadOnly(cmd.Context(), path)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.Status(cmd.Context())
			if err != nil {
				return err
			}
			if err := printStatus(cmd, g, db); err != nil {
				return err
			}
			if maxAge > 0 && time.Since(st.ImportedAt) > maxAge {
				if !g.quiet {
					fmt.Fprintf(g.stderr, "mlsec: database imported %s ago, older than --max-age %s\n", time.Since(st.ImportedAt).Round(time.Minute), maxAge)
				}
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&maxAge, "max-age", 0, "exit 1 if the last import is older than this (e.g. 168h)")
	return cmd
}

func printStatus(cmd *cobra.Command, g *globals, db *vulndb.DB) error {
	st, err := db.Status(cmd.Context())
	if err != nil {
		return err
	}
	return g.writeOutput(func(w io.Writer, _ bool) error {
		if g.format == "json" {
			return encodeJSON(w, st)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		age := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return fmt.Sprintf("%s (%s ago)", t.Format(time.RFC3339), time.Since(t).Round(time.Minute))
		}
		fmt.Fprintf(tw, "database:\t%s\n", st.Path)
		fmt.Fprintf(tw, "size:\t%.1f MiB\n", float64(st.SizeBytes)/(1<<20))
		fmt.Fprintf(tw, "schema:\t%s\n", st.SchemaVersion)
		fmt.Fprintf(tw, "imported:\t%s\n", age(st.ImportedAt))
		fmt.Fprintf(tw, "source:\t%s\n", st.Source)
		fmt.Fprintf(tw, "newest advisory:\t%s\n", age(st.NewestModified))
		fmt.Fprintf(tw, "advisories:\t%d (%d malicious-package reports, %d withdrawn)\n", st.Advisories, st.Malicious, st.Withdrawn)
		fmt.Fprintf(tw, "packages:\t%d\n", st.Packages)
		return tw.Flush()
	})
}

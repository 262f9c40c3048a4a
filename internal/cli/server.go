package cli

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/server"
	"github.com/mlsec/mlsec/internal/store"
)

type serverOptions struct {
	addr          string
	db            string
	key           string
	scanRoots     []string
	workers       int
	vulnDB        string
	secureCookies bool
}

func newServerCmd(g *globals) *cobra.Command {
	var o serverOptions
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: model inventory, findings, incidents, REST API and web UI",
		Long: `Run mlsec's control plane: an inventory of every model and version with its
findings, BOM, signature status, provenance timeline, policy verdict and
fairness and robustness reports; incidents opened by policy violations and
gateway alerts; a JSON REST API (OpenAPI 3.1 at /api/openapi.json) and a web
UI embedded in the binary.

The database is SQLite by default (mlsec.db under the user data dir, or
--db PATH); give --db postgres://… to share one database between replicas,
which then also share the background re-scan queue. The first start creates
an admin token and prints it once. Every write is recorded in the provenance
ledger, whose checkpoints are signed with --key (created when missing).

Evidence arrives with 'mlsec push REPORT.json' and 'mlsec scan --upload', or
from server-side scans of paths under --scan-root.`,
		Example: `  mlsec server
  mlsec server --addr 0.0.0.0:8080 --db postgres://mlsec@db/mlsec --scan-root /models`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `ADDRESS` (host:port)")
	f.StringVar(&o.db, "db", "", "database: a SQLite `PATH` or postgres:// URL (default: mlsec.db under the user data dir)")
	f.StringVar(&o.key, "key", "", "ledger checkpoint signing key `FILE`, created if missing (default: ledger.key under the user data dir)")
	f.StringSliceVar(&o.scanRoots, "scan-root", nil, "`DIR` the server may scan (server-side scans and re-scans); repeatable")
	f.IntVar(&o.workers, "workers", 1, "background job workers in this process (0 disables)")
	f.StringVar(&o.vulnDB, "vulndb", "", "vulnerability database `FILE` whose updates trigger re-scans (default: see 'mlsec db')")
	f.BoolVar(&o.secureCookies, "secure-cookies", false, "mark cookies Secure (when served over HTTPS, e.g. behind a TLS proxy)")
	return cmd
}

func runServer(cmd *cobra.Command, g *globals, o serverOptions) error {
	ctx := cmd.Context()
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return usagef("--addr %q: %v", o.addr, err)
	}
	if o.workers < 0 {
		return usagef("--workers must not be negative")
	}
	lf := ledgerFlags{key: o.key}
	kp, err := lf.keyPath()
	if err != nil {
		return err
	}
	skey, vkey, err := loadOrCreateKey(kp, ledger.DefaultOrigin)
	if err != nil {
		return err
	}
	roots := make([]string, 0, len(o.scanRoots))
	for _, r := range o.scanRoots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return usagef("--scan-root %q: %v", r, err)
		}
		roots = append(roots, abs)
	}
	st, err := store.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()
	workers := o.workers
	if workers == 0 {
		workers = -1
	}
	srv, err := server.New(ctx, server.Config{Store: st, LedgerKey: skey, LedgerPub: vkey, ScanRoots: roots, VulnDB: o.vulnDB,
		Workers: workers, SecureCookies: o.secureCookies, Logger: g.logger,
		Tool: finding.Tool{Name: "mlsec", Version: buildVersion().Version}})
	if err != nil {
		if errors.Is(err, ledger.ErrWrongKey) {
			return fmt.Errorf("%w (the database's ledger was created with another key; pass it with --key)", err)
		}
		return err
	}
	secret, err := srv.Bootstrap(ctx)
	switch {
	case err == nil:
		fmt.Fprintf(g.stdout, "Created the first admin token. It is shown only this once; keep it safe:\n\n    %s\n\n", secret)
	case errors.Is(err, server.ErrAlreadyBootstrapped):
	default:
		return err
	}
	return srv.Run(ctx, o.addr, func(a net.Addr) {
		host := a.String()
		if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, "[::]:") {
			host = "localhost" + host[strings.LastIndex(host, ":"):]
		}
		fmt.Fprintf(g.stderr, "mlsec server on http://%s (database %s)\n", host, st)
	})
}

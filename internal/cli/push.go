package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/jsonreport"
	"github.com/mlsec/mlsec/internal/server"
)

// uploadFlags are the server connection flags of push and scan --upload.
type uploadFlags struct {
	enabled bool // scan --upload
	server  string
	token   string
	model   string
	version string
	owner   string
	tags    []string
}

func (u *uploadFlags) add(cmd *cobra.Command, withSwitch bool) {
	f := cmd.Flags()
	if withSwitch {
		f.BoolVar(&u.enabled, "upload", false, "upload the JSON report to an mlsec server (--server, --token); implies --digest")
	}
	f.StringVar(&u.server, "server", "", "mlsec server `URL` (or MLSEC_SERVER)")
	f.StringVar(&u.token, "token", "", "API token with the analyst or admin role (or MLSEC_TOKEN)")
	f.StringVar(&u.model, "model", "", "model `NAME` in the inventory (default: base name of the first path)")
	f.StringVar(&u.version, "model-version", "", "model `VERSION` (default: from the artifact digest)")
	f.StringVar(&u.owner, "owner", "", "model owner recorded in the inventory")
	f.StringSliceVar(&u.tags, "tag", nil, "model tag; repeatable")
}

func (u *uploadFlags) client() (*server.Client, error) {
	if u.server == "" {
		return nil, usagef("--server URL is required to upload (or set MLSEC_SERVER)")
	}
	if u.token == "" {
		return nil, usagef("--token is required to upload (or set MLSEC_TOKEN)")
	}
	return &server.Client{BaseURL: u.server, Token: u.token}, nil
}

func (u *uploadFlags) meta() server.VersionMeta {
	return server.VersionMeta{Model: u.model, Version: u.version, Owner: u.owner, Tags: u.tags}
}

// uploadReport sends a scan report to the server (scan --upload).
func uploadReport(ctx context.Context, g *globals, u uploadFlags, rep *finding.Report) error {
	c, err := u.client()
	if err != nil {
		return err
	}
	var buf writerBuffer
	if err := jsonreport.New().Encode(&buf, rep); err != nil {
		return err
	}
	res, err := c.Push(ctx, u.meta(), server.EvidenceScan, buf.b)
	if err != nil {
		return err
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "uploaded to %s\n", res.URL)
	}
	return nil
}

type writerBuffer struct{ b []byte }

func (w *writerBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func newPushCmd(g *globals) *cobra.Command {
	var u uploadFlags
	var kind string
	cmd := &cobra.Command{
		Use:   "push FILE.json...",
		Short: "Upload reports and evidence to an mlsec server",
		Long: `Upload JSON documents to an mlsec server's inventory: scan reports
('mlsec scan --format json'), CycloneDX BOMs, policy decisions, signature
verification results, fairness and robustness reports. The kind is detected
from the document unless --kind is given. Evidence other than a scan report
needs --model and --model-version. A policy denial opens an incident.`,
		Example: `  mlsec scan --format json -o report.json model.pt
  mlsec push report.json --server http://127.0.0.1:8080 --token $MLSEC_TOKEN
  mlsec push bom.json decision.json --model fraud --model-version 1.2 --server … --token …`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := u.client()
			if err != nil {
				return err
			}
			for _, p := range args {
				data, err := readLimited(p, server.MaxEvidenceSize)
				if err != nil {
					return err
				}
				res, err := c.Push(cmd.Context(), u.meta(), kind, data)
				if err != nil {
					if errors.Is(err, server.ErrAPI) {
						return fmt.Errorf("%s: %w", p, err)
					}
					return err
				}
				line := fmt.Sprintf("%s: %s evidence for %s@%s → %s", p, res.Kind, res.Model, res.Version, res.URL)
				if res.Incident != 0 {
					line += fmt.Sprintf(" (incident %d opened)", res.Incident)
				}
				fmt.Fprintln(g.stdout, line)
			}
			return nil
		},
	}
	u.add(cmd, false)
	cmd.Flags().StringVar(&kind, "kind", "", "evidence kind: scan, bom, policy, signature, fairness, robustness or other (default: detect)")
	return cmd
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

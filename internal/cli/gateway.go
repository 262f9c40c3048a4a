package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/gateway"
	"github.com/mlsec/mlsec/internal/gateway/detect"
)

type gatewayOptions struct {
	config  string
	listen  string
	redis   string
	noWatch bool
}

func newGatewayCmd(g *globals) *cobra.Command {
	var o gatewayOptions
	cmd := &cobra.Command{
		Use:   "gateway --config gateway.yaml",
		Short: "Guard model endpoints: authentication, tiers, limits, detection and audit",
		Long: `Run the inference gateway: a reverse proxy in front of Open Inference
Protocol v2 REST servers (KServe, Triton, MLServer, Seldon, mlsec serve) and
plain JSON models. Every request is authenticated (API keys, OIDC/JWT bearer
tokens, client certificates; deny by default), authorised per model and
version by tier (label, scores, full, metadata, admin), held to per-identity
limits (rate, budget per window, batch and body size; 429 with Retry-After),
validated against the model's metadata and reference profile, screened by
detectors (PRADA model extraction, query similarity, input drift), hardened
for its tier and written to the audit trail.

The gateway listens on 127.0.0.1:8443 unless the configuration or --listen
says otherwise. It reloads its configuration, key file, profiles and JWKS on
SIGHUP and when those files change, without dropping connections.
Prometheus metrics are served at /metrics, health at /healthz and /readyz.`,
		Example: `  mlsec gateway --config gateway.yaml
  mlsec gateway --config gateway.yaml --redis redis://127.0.0.1:6379/0 --listen 0.0.0.0:8443
  mlsec gateway key create --keys keys.json --owner alice --group analysts --expires 90d
  mlsec gateway key list --keys keys.json
  mlsec gateway key revoke --keys keys.json 3f1c0d5e9a7b2c4d
  mlsec gateway profile --data train.csv --out credit.profile.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.config == "" {
				return usagef("--config is required")
			}
			return runGateway(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "gateway configuration `FILE` (YAML)")
	f.StringVar(&o.listen, "listen", "", "listen `HOST:PORT` (overrides the configuration; default 127.0.0.1:8443)")
	f.StringVar(&o.redis, "redis", "", "share limits and penalties through Redis at this `URL` (redis://host:port/db)")
	f.BoolVar(&o.noWatch, "no-watch", false, "reload only on SIGHUP, not when files change")
	cmd.AddCommand(newGatewayKeyCmd(g), newGatewayProfileCmd(g))
	return cmd
}

func runGateway(ctx context.Context, g *globals, o gatewayOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	adjust := func(c *gateway.Config) {
		if o.listen != "" {
			c.Listen = o.listen
		}
		if o.redis != "" {
			c.Redis = o.redis
		}
	}
	if _, err := gateway.LoadConfig(o.config); err != nil {
		return usagef("%v", err)
	}
	gw, err := gateway.Open(ctx, o.config, gateway.Options{Logger: g.logger, Adjust: adjust})
	if err != nil {
		return err
	}
	defer gw.Close()
	cfg := gw.Config()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         gw.TLSConfig(),
	}
	errc := make(chan error, 1)
	scheme := "http"
	if hs.TLSConfig != nil {
		scheme = "https"
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- hs.Serve(ln) }()
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "mlsec: gateway for %d model(s) at %s://%s (SIGHUP reloads, Ctrl-C stops)\n", len(cfg.Models), scheme, ln.Addr())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if !o.noWatch {
		go func() {
			if err := gw.Watch(ctx); err != nil {
				g.logger.Warn("gateway: file watching off", "error", err)
			}
		}()
	}
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("gateway: %w", err)
		case <-hup:
			if err := gw.Reload(); err != nil {
				g.logger.Error("gateway: reload failed; keeping the running configuration", "error", err)
			} else {
				g.logger.Info("gateway: configuration reloaded")
			}
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("gateway: %w", err)
			}
			return nil
		}
	}
}

type keyFlags struct {
	keys   string
	config string
}

func (k *keyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.keys, "keys", "", "hashed key `FILE` (default: the keys file named by --config)")
	cmd.Flags().StringVar(&k.config, "config", "", "gateway configuration `FILE` whose keys file to use")
}

func (k *keyFlags) path() (string, error) {
	if k.keys != "" {
		return k.keys, nil
	}
	if k.config == "" {
		return "", usagef("give --keys FILE or --config gateway.yaml")
	}
	cfg, err := gateway.LoadConfig(k.config)
	if err != nil {
		return "", usagef("%v", err)
	}
	if cfg.Keys == "" {
		return "", usagef("%s names no keys file", k.config)
	}
	return cfg.Path(cfg.Keys), nil
}

func newGatewayKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Create, list and revoke gateway API keys",
		Long: `API keys are stored hashed (SHA-256 of 256 random bits) in a key file the
gateway reloads when it changes. A new key is printed once and cannot be
shown again. Grant keys tiers in the gateway configuration by id
({key: ID, tier: scores}), by owner ({subject: OWNER, …}) or by group.`,
	}
	cmd.AddCommand(newGatewayKeyCreateCmd(g), newGatewayKeyListCmd(g), newGatewayKeyRevokeCmd(g))
	return cmd
}

func newGatewayKeyCreateCmd(g *globals) *cobra.Command {
	var kf keyFlags
	var owner, note, expires string
	var groups []string
	cmd := &cobra.Command{
		Use:   "create --owner NAME",
		Short: "Create an API key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := kf.path()
			if err != nil {
				return err
			}
			if strings.TrimSpace(owner) == "" {
				return usagef("--owner is required")
			}
			var exp time.Time
			if expires != "" {
				d, err := parseDays(expires)
				if err != nil {
					return usagef("--expires: %v", err)
				}
				exp = time.Now().Add(d)
			}
			file, err := gateway.ReadKeyFile(path)
			if err != nil {
				return err
			}
			rec, secret, err := file.NewKey(gateway.NewKeyOptions{Owner: owner, Groups: groups, Expires: exp, Note: note})
			if err != nil {
				return err
			}
			if err := file.Write(path); err != nil {
				return err
			}
			if g.format == "json" {
				return json.NewEncoder(g.stdout).Encode(map[string]any{"id": rec.ID, "key": secret, "owner": rec.Owner, "groups": rec.Groups, "expires": rec.Expires})
			}
			fmt.Fprintln(g.stdout, secret)
			if !g.quiet {
				fmt.Fprintf(g.stderr, "mlsec: created key %s for %s in %s; it is shown only now\n", rec.ID, rec.Owner, path)
			}
			return nil
		},
	}
	kf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", "who the key belongs to (matched by subject grants)")
	f.StringSliceVar(&groups, "group", nil, "group the key belongs to (repeatable)")
	f.StringVar(&expires, "expires", "", "lifetime, e.g. 90d or 720h (default: no expiry)")
	f.StringVar(&note, "note", "", "free-text note")
	return cmd
}

func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

func newGatewayKeyListCmd(g *globals) *cobra.Command {
	var kf keyFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := kf.path()
			if err != nil {
				return err
			}
			file, err := gateway.ReadKeyFile(path)
			if err != nil {
				return err
			}
			if g.format == "json" {
				out := make([]map[string]any, 0, len(file.Keys))
				for _, k := range file.Keys {
					out = append(out, map[string]any{"id": k.ID, "owner": k.Owner, "groups": k.Groups, "created": k.Created,
						"expires": k.Expires, "revoked": k.Revoked, "active": k.Active(time.Now()), "note": k.Note})
				}
				return json.NewEncoder(g.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tOWNER\tGROUPS\tCREATED\tEXPIRES\tSTATUS")
			for _, k := range file.Keys {
				status := "active"
				switch {
				case !k.Revoked.IsZero():
					status = "revoked " + k.Revoked.Format(time.DateOnly)
				case !k.Active(time.Now()):
					status = "expired"
				}
				exp := "-"
				if !k.Expires.IsZero() {
					exp = k.Expires.Format(time.DateOnly)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Owner, strings.Join(k.Groups, ","), k.Created.Format(time.DateOnly), exp, status)
			}
			return tw.Flush()
		},
	}
	kf.add(cmd)
	return cmd
}

func newGatewayKeyRevokeCmd(g *globals) *cobra.Command {
	var kf keyFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key (running gateways pick it up from the key file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := kf.path()
			if err != nil {
				return err
			}
			file, err := gateway.ReadKeyFile(path)
			if err != nil {
				return err
			}
			if err := file.Revoke(args[0], time.Now()); err != nil {
				return usagef("%v", err)
			}
			if err := file.Write(path); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stderr, "mlsec: revoked key %s\n", args[0])
			}
			return nil
		},
	}
	kf.add(cmd)
	return cmd
}

func newGatewayProfileCmd(g *globals) *cobra.Command {
	var data, out string
	var bins, k int
	var fpr float64
	cmd := &cobra.Command{
		Use:   "profile --data rows.csv --out profile.json",
		Short: "Build a reference profile (ranges, bins, similarity threshold) from natural data",
		Long: `Summarise reference data (a CSV file with a header row and numeric columns,
in the model's input order) into the profile the gateway uses for range
validation, distance scaling, drift (PSI bins) and the similarity
detector's threshold, calibrated so that a fraction --fpr of natural
queries would be flagged (Chen, Carlini and Wagner use 0.1%). At most 5,000
rows are used for the calibration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" || out == "" {
				return usagef("--data and --out are required")
			}
			names, rows, err := readNumericCSV(data)
			if err != nil {
				return err
			}
			p, err := detect.BuildProfile(rows, names, bins)
			if err != nil {
				return err
			}
			cal := rows
			if len(cal) > 5000 {
				step := float64(len(cal)) / 5000
				sample := make([][]float64, 0, 5000)
				for i := range 5000 {
					sample = append(sample, cal[int(float64(i)*step)])
				}
				cal = sample
			}
			if len(cal) > k {
				p.SimilarityK = k
				p.SimilarityThreshold = detect.CalibrateSimilarity(cal, k, fpr, p.Scale())
			}
			b, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stderr, "mlsec: profile of %d rows, %d features written to %s (similarity threshold %.4g for k=%d)\n",
					len(rows), len(names), out, p.SimilarityThreshold, p.SimilarityK)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "reference rows: CSV `FILE` with a header")
	f.StringVar(&out, "out", "", "profile `FILE` to write (JSON)")
	f.IntVar(&bins, "bins", 10, "quantile bins per feature for drift")
	f.IntVar(&k, "k", 20, "neighbours for the similarity detector")
	f.Float64Var(&fpr, "fpr", 0.001, "false-positive rate the similarity threshold is calibrated for")
	return cmd
}

// readNumericCSV reads a header and rows of numbers (at most 10M cells).
func readNumericCSV(path string) ([]string, [][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	names := append([]string(nil), head...)
	var rows [][]float64
	cells := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		row := make([]float64, len(rec))
		for i, s := range rec {
			if row[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return nil, nil, fmt.Errorf("%s row %d column %s: not a number: %q", path, len(rows)+2, names[i], s)
			}
		}
		cells += len(row)
		if cells > 10_000_000 {
			return nil, nil, fmt.Errorf("%s: more than 10M values", path)
		}
		rows = append(rows, row)
	}
	return names, rows, nil
}

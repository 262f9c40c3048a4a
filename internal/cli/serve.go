package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/inference"
)

type serveOptions struct {
	name    string
	addr    string
	maxBody int64
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve MODEL.onnx",
		Short: "Serve an ONNX model over the Open Inference Protocol (KServe v2) REST API",
		Long: `Serve an ONNX model with mlsec's pure-Go evaluator over the Open Inference
Protocol v2 REST API, the protocol of KServe, Triton, MLServer and Seldon:

  GET  /v2/health/live   /v2/health/ready   /v2
  GET  /v2/models/NAME[/versions/1]          model metadata
  GET  /v2/models/NAME/ready
  POST /v2/models/NAME/infer                 {"inputs": [{"name", "shape", "datatype", "data"}]}

Requests are checked against the model's inputs (names, datatypes, shapes)
and answered with OIP error bodies {"error": "..."} when they do not fit.
The model runs in process; nothing in it is executed as code. Stop with
Ctrl-C.`,
		Example: `  mlsec serve model.onnx
  mlsec serve --name credit --addr 127.0.0.1:9000 model.onnx
  mlsec predict http://127.0.0.1:8080/v2/models/model --data rows.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "model name in URLs (default: the file name without extension)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `HOST:PORT`")
	f.Int64Var(&o.maxBody, "max-body", 32<<20, "largest request body in bytes")
	return cmd
}

func runServe(ctx context.Context, g *globals, o serveOptions, path string) error {
	if o.name != "" && !inference.ValidName(o.name) {
		return usagef("invalid --name %q (use letters, digits, '.', '_' and '-')", o.name)
	}
	m, err := inference.LoadONNX(path, inference.ONNXOptions{Name: o.name})
	if err != nil {
		return err
	}
	md, _ := m.Metadata(ctx)
	srv, err := inference.NewServer(ctx, map[string]inference.Model{md.Name: m},
		inference.ServerOptions{Version: buildVersion().Version, MaxBody: o.maxBody, Logger: g.logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "mlsec: serving %s at http://%s/v2/models/%s (Ctrl-C to stop)\n", md.Name, ln.Addr(), md.Name)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Name and Version are reported by GET /v2 (defaults "mlsec", "dev").
	Name, Version string
	// MaxBody bounds a request body (default 32 MiB).
	MaxBody int64
	// MaxConcurrent bounds concurrent inferences (default 4×GOMAXPROCS);
	// requests beyond it wait.
	MaxConcurrent int
	// Logger receives one line per failed request (default: discard).
	Logger *slog.Logger
}

// Server serves models over the Open Inference Protocol v2 REST API:
//
//	GET  /v2/health/live, /v2/health/ready, /v2
//	GET  /v2/models/{name}[/versions/{v}]          metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready
//	POST /v2/models/{name}[/versions/{v}]/infer
//
// Requests are validated against the model metadata (input names,
// datatypes, shapes and value counts, requested outputs) before the model
// runs; errors are JSON bodies {"error": "…"} with 400 (bad request), 404
// (unknown model or version), 405, 413 (body too large) or 500. Any
// content type is read as JSON (curl -d sends a form type).
type Server struct {
	opts   ServerOptions
	models map[string]*served
	sem    chan struct{}
}

type served struct {
	model Model
	meta  Metadata
}

// NewServer returns a server for models keyed by name. Each model's
// metadata is read once, now; its version is "1" unless the metadata names
// versions.
func NewServer(ctx context.Context, models map[string]Model, opts ServerOptions) (*Server, error) {
	if opts.Name == "" {
		opts.Name = "mlsec"
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 32 << 20
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, models: map[string]*served{}, sem: make(chan struct{}, opts.MaxConcurrent)}
	for name, m := range models {
		if !ValidName(name) {
			return nil, fmt.Errorf("inference: invalid model name %q", name)
		}
		md, err := m.Metadata(ctx)
		if err != nil {
			return nil, fmt.Errorf("inference: model %q metadata: %w", name, err)
		}
		md.Name = name
		if len(md.Versions) == 0 {
			md.Versions = []string{"1"}
		}
		s.models[name] = &served{model: m, meta: md}
	}
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 0 || parts[0] != "v2" {
		s.fail(w, r, http.StatusNotFound, "not found: %s", r.URL.Path)
		return
	}
	parts = parts[1:]
	switch {
	case len(parts) == 0:
		if s.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, wireServerMetadata{Name: s.opts.Name, Version: s.opts.Version, Extensions: []string{}})
		}
		return
	case len(parts) == 2 && parts[0] == "health" && (parts[1] == "live" || parts[1] == "ready"):
		if s.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]bool{parts[1]: true})
		}
		return
	case len(parts) >= 2 && parts[0] == "models":
	default:
		s.fail(w, r, http.StatusNotFound, "not found: %s", r.URL.Path)
		return
	}
	name, rest := parts[1], parts[2:]
	m, ok := s.models[name]
	if !ok {
		s.fail(w, r, http.StatusNotFound, "unknown model %q", name)
		return
	}
	version := ""
	if len(rest) >= 2 && rest[0] == "versions" {
		version, rest = rest[1], rest[2:]
		if !slices.Contains(m.meta.Versions, version) {
			s.fail(w, r, http.StatusNotFound, "model %q has no version %q", name, version)
			return
		}
	}
	switch {
	case len(rest) == 0:
		if s.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, m.meta)
		}
	case len(rest) == 1 && rest[0] == "ready":
		if s.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]any{"name": name, "ready": true})
		}
	case len(rest) == 1 && rest[0] == "infer":
		if s.method(w, r, http.MethodPost) {
			s.infer(w, r, m, version)
		}
	default:
		s.fail(w, r, http.StatusNotFound, "not found: %s", r.URL.Path)
	}
}

func (s *Server) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || (want == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", want)
	s.fail(w, r, http.StatusMethodNotAllowed, "method %s not allowed; use %s", r.Method, want)
	return false
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request, m *served, version string) {
	if r.Header.Get("Inference-Header-Content-Length") != "" {
		s.fail(w, r, http.StatusBadRequest, "the binary tensor data extension is not supported")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "request body over %d bytes", s.opts.MaxBody)
			return
		}
		s.fail(w, r, http.StatusBadRequest, "read request: %v", err)
		return
	}
	var req wireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, http.StatusBadRequest, "invalid request JSON: %v", err)
		return
	}
	if dec.More() {
		s.fail(w, r, http.StatusBadRequest, "invalid request JSON: trailing data")
		return
	}
	inputs, err := validateInputs(m.meta, req.Inputs)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	var outputs []string
	for _, o := range req.Outputs {
		if !slices.ContainsFunc(m.meta.Outputs, func(t TensorMeta) bool { return t.Name == o.Name }) {
			s.fail(w, r, http.StatusBadRequest, "unknown output %q", o.Name)
			return
		}
		if slices.Contains(outputs, o.Name) {
			s.fail(w, r, http.StatusBadRequest, "output %q requested twice", o.Name)
			return
		}
		outputs = append(outputs, o.Name)
	}
	select {
	case s.sem <- struct{}{}:
	case <-r.Context().Done():
		s.fail(w, r, http.StatusServiceUnavailable, "request cancelled while waiting")
		return
	}
	out, err := m.model.Predict(r.Context(), inputs, outputs...)
	<-s.sem
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrBadInput) || errors.Is(err, ErrLimit) {
			status = http.StatusBadRequest
		}
		s.fail(w, r, status, "%v", err)
		return
	}
	resp := wireResponse{ModelName: m.meta.Name, ModelVersion: version, ID: req.ID, Outputs: make([]wireTensor, len(out))}
	if resp.ModelVersion == "" {
		resp.ModelVersion = m.meta.Versions[0]
	}
	for k := range out {
		wt, err := encodeTensor(&out[k])
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, "output: %v", err)
			return
		}
		resp.Outputs[k] = wt
	}
	writeJSON(w, http.StatusOK, resp)
}

// validateInputs checks request tensors against metadata and decodes them.
func validateInputs(md Metadata, ws []wireTensor) ([]Tensor, error) {
	if len(ws) == 0 {
		return nil, errors.New("no inputs")
	}
	out := make([]Tensor, 0, len(ws))
	seen := map[string]bool{}
	for k := range ws {
		w := &ws[k]
		i := slices.IndexFunc(md.Inputs, func(t TensorMeta) bool { return t.Name == w.Name })
		if i < 0 {
			return nil, fmt.Errorf("unknown input %q", w.Name)
		}
		if seen[w.Name] {
			return nil, fmt.Errorf("input %q given twice", w.Name)
		}
		seen[w.Name] = true
		meta := md.Inputs[i]
		if w.Datatype != meta.Datatype {
			return nil, fmt.Errorf("input %q: datatype %q, model wants %s", w.Name, w.Datatype, meta.Datatype)
		}
		if !shapeMatches(meta.Shape, w.Shape) {
			return nil, fmt.Errorf("input %q: shape %v, model wants %v", w.Name, w.Shape, meta.Shape)
		}
		t, err := decodeTensor(w)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	for _, in := range md.Inputs {
		if !seen[in.Name] {
			return nil, fmt.Errorf("missing input %q", in.Name)
		}
	}
	return out, nil
}

// shapeMatches compares a request shape with a metadata shape where -1 is
// any size. Metadata [-1] alone (unknown rank) matches any shape.
func shapeMatches(meta, got []int64) bool {
	if len(meta) == 1 && meta[0] == -1 {
		return true
	}
	if len(meta) != len(got) {
		return false
	}
	for k, d := range meta {
		if got[k] < 0 || (d >= 0 && got[k] != d) {
			return false
		}
	}
	return true
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.opts.Logger.Info("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", msg)
	writeJSON(w, status, wireError{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

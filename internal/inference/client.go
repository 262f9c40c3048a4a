package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client is a Model served elsewhere over the Open Inference Protocol v2
// REST API.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	name    string
	version string
	http    *http.Client
	header  http.Header
	timeout time.Duration
	retries int
	backoff time.Duration
	batch   int
	maxBody int64
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (transport, TLS, proxies).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithVersion addresses one model version (/versions/{v}).
func WithVersion(v string) ClientOption { return func(c *Client) { c.version = v } }

// WithHeader adds a header to every request (authentication, tenancy).
func WithHeader(key, value string) ClientOption {
	return func(c *Client) { c.header.Add(key, value) }
}

// WithBearerToken sends "Authorization: Bearer token".
func WithBearerToken(token string) ClientOption {
	return func(c *Client) { c.header.Set("Authorization", "Bearer "+token) }
}

// WithTimeout bounds each HTTP attempt (default 30s).
func WithTimeout(d time.Duration) ClientOption { return func(c *Client) { c.timeout = d } }

// WithRetries retries 429, 502, 503, 504 and connection failures up to n
// times with jittered exponential backoff starting at base (default 3, 200ms).
// A Retry-After header is honoured up to 30s.
func WithRetries(n int, base time.Duration) ClientOption {
	return func(c *Client) { c.retries, c.backoff = max(n, 0), base }
}

// WithBatchSize splits Predict calls into requests of at most n rows along
// the first dimension (0: never split).
func WithBatchSize(n int) ClientOption { return func(c *Client) { c.batch = max(n, 0) } }

// WithMaxResponse bounds a response body (default 256 MiB).
func WithMaxResponse(n int64) ClientOption { return func(c *Client) { c.maxBody = n } }

// NewClient returns a client for model name at base (http://host:port,
// optionally with a path prefix).
func NewClient(base, name string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("inference: %q is not an http(s) URL", base)
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("inference: invalid model name %q", name)
	}
	c := &Client{
		base:    strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		name:    name,
		http:    http.DefaultClient,
		header:  http.Header{},
		timeout: 30 * time.Second,
		retries: 3,
		backoff: 200 * time.Millisecond,
		maxBody: 256 << 20,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Dial returns a client for a model URL of the form
// http(s)://host[:port][/prefix]/v2/models/NAME[/versions/V].
func Dial(modelURL string, opts ...ClientOption) (*Client, error) {
	base, name, version, err := ParseModelURL(modelURL)
	if err != nil {
		return nil, err
	}
	if version != "" {
		opts = append([]ClientOption{WithVersion(version)}, opts...)
	}
	return NewClient(base, name, opts...)
}

// ParseModelURL splits an OIP model URL into server base, model name and
// version.
func ParseModelURL(s string) (base, name, version string, err error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", "", fmt.Errorf("inference: %q is not an http(s) URL", s)
	}
	p := strings.TrimRight(u.Path, "/")
	i := strings.LastIndex(p, "/v2/models/")
	if i < 0 {
		return "", "", "", fmt.Errorf("inference: %q has no /v2/models/NAME path", s)
	}
	rest := strings.Split(p[i+len("/v2/models/"):], "/")
	switch {
	case len(rest) == 1:
		name = rest[0]
	case len(rest) == 3 && rest[1] == "versions":
		name, version = rest[0], rest[2]
	default:
		return "", "", "", fmt.Errorf("inference: %q: want /v2/models/NAME[/versions/V]", s)
	}
	if !ValidName(name) || (version != "" && !ValidName(version)) {
		return "", "", "", fmt.Errorf("inference: %q: invalid model name or version", s)
	}
	return u.Scheme + "://" + u.Host + p[:i], name, version, nil
}

// ValidName reports whether s is acceptable as a model name or version:
// 1–128 characters from [A-Za-z0-9._-], not "." or "..".
func ValidName(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (c *Client) modelPath() string {
	p := c.base + "/v2/models/" + url.PathEscape(c.name)
	if c.version != "" {
		p += "/versions/" + url.PathEscape(c.version)
	}
	return p
}

// Metadata fetches GET /v2/models/{name}[/versions/{v}].
func (c *Client) Metadata(ctx context.Context) (Metadata, error) {
	var m Metadata
	err := c.do(ctx, http.MethodGet, c.modelPath(), nil, &m)
	if err != nil {
		return Metadata{}, err
	}
	for i := range m.Inputs {
		if !m.Inputs[i].Datatype.Valid() {
			return Metadata{}, fmt.Errorf("inference: metadata: input %q has unknown datatype %q", m.Inputs[i].Name, m.Inputs[i].Datatype)
		}
	}
	return m, nil
}

// Ready reports GET /v2/models/{name}/ready: true on 200, false on any
// other status.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	return c.probe(ctx, c.modelPath()+"/ready")
}

// ServerLive reports GET /v2/health/live.
func (c *Client) ServerLive(ctx context.Context) (bool, error) {
	return c.probe(ctx, c.base+"/v2/health/live")
}

// ServerReady reports GET /v2/health/ready.
func (c *Client) ServerReady(ctx context.Context) (bool, error) {
	return c.probe(ctx, c.base+"/v2/health/ready")
}

func (c *Client) probe(ctx context.Context, u string) (bool, error) {
	err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err == nil {
		return true, nil
	}
	var e *Error
	if errors.As(err, &e) {
		return false, nil
	}
	return false, err
}

// Predict posts inputs to /infer, splitting them into batches along the
// first dimension when WithBatchSize is set, and joins the outputs.
func (c *Client) Predict(ctx context.Context, inputs []Tensor, outputs ...string) ([]Tensor, error) {
	rows := int64(-1)
	for i := range inputs {
		if err := inputs[i].Check(); err != nil {
			return nil, fmt.Errorf("inference: %w: %v", ErrBadInput, err)
		}
		if len(inputs[i].Shape) == 0 {
			rows = -2
		} else if rows == -1 {
			rows = inputs[i].Shape[0]
		} else if rows != inputs[i].Shape[0] {
			rows = -2
		}
	}
	if c.batch <= 0 || rows <= int64(c.batch) {
		return c.infer(ctx, inputs, outputs)
	}
	var joined []Tensor
	for lo := int64(0); lo < rows; lo += int64(c.batch) {
		hi := min(lo+int64(c.batch), rows)
		part := make([]Tensor, len(inputs))
		for i := range inputs {
			part[i] = sliceRows(&inputs[i], lo, hi)
		}
		out, err := c.infer(ctx, part, outputs)
		if err != nil {
			return nil, fmt.Errorf("rows %d–%d: %w", lo, hi, err)
		}
		if joined == nil {
			joined = out
			continue
		}
		if err := appendRows(joined, out); err != nil {
			return nil, err
		}
	}
	return joined, nil
}

func (c *Client) infer(ctx context.Context, inputs []Tensor, outputs []string) ([]Tensor, error) {
	req := wireRequest{Inputs: make([]wireTensor, len(inputs))}
	for i := range inputs {
		w, err := encodeTensor(&inputs[i])
		if err != nil {
			return nil, fmt.Errorf("inference: %w: %v", ErrBadInput, err)
		}
		req.Inputs[i] = w
	}
	for _, o := range outputs {
		req.Outputs = append(req.Outputs, wireRequestOutput{Name: o})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("inference: encode request: %w", err)
	}
	var resp wireResponse
	if err := c.do(ctx, http.MethodPost, c.modelPath()+"/infer", body, &resp); err != nil {
		return nil, err
	}
	out := make([]Tensor, len(resp.Outputs))
	for i := range resp.Outputs {
		t, err := decodeTensor(&resp.Outputs[i])
		if err != nil {
			return nil, fmt.Errorf("inference: response output %d: %w", i, err)
		}
		out[i] = t
	}
	return out, nil
}

// do sends one request with retries and decodes a JSON answer into v.
func (c *Client) do(ctx context.Context, method, u string, body []byte, v any) error {
	var lastErr error
	for attempt := 0; ; attempt++ {
		retry, wait, err := c.once(ctx, method, u, body, v)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry || attempt >= c.retries {
			return lastErr
		}
		if wait <= 0 {
			wait = c.backoff << attempt
			wait = wait/2 + rand.N(wait/2+1)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("inference: %w (after: %v)", ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, method, u string, body []byte, v any) (retry bool, wait time.Duration, err error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return false, 0, fmt.Errorf("inference: %w", err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return false, 0, fmt.Errorf("inference: %s %s: %w", method, u, err)
		}
		return true, 0, fmt.Errorf("inference: %s %s: %w", method, u, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return true, 0, fmt.Errorf("inference: %s %s: read: %w", method, u, err)
	}
	if int64(len(data)) > c.maxBody {
		return false, 0, fmt.Errorf("inference: %s %s: %w: response over %d bytes", method, u, ErrLimit, c.maxBody)
	}
	if res.StatusCode/100 != 2 {
		e := &Error{Status: res.StatusCode, Message: errorMessage(data, res.Status)}
		switch res.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true, retryAfter(res.Header.Get("Retry-After")), e
		}
		return false, 0, e
	}
	if v == nil {
		return false, 0, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, 0, fmt.Errorf("inference: %s %s: decode response: %w", method, u, err)
	}
	return false, 0, nil
}

// errorMessage extracts {"error": "..."} or falls back to the status text.
func errorMessage(data []byte, status string) string {
	var we wireError
	if json.Unmarshal(data, &we) == nil && we.Error != "" {
		return we.Error
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return status
	}
	return status + ": " + s
}

func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 30*time.Second)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), 30*time.Second)
	}
	return 0
}

// sliceRows returns rows [lo, hi) of t along the first dimension.
func sliceRows(t *Tensor, lo, hi int64) Tensor {
	per := int64(1)
	for _, d := range t.Shape[1:] {
		per *= d
	}
	s := Tensor{Name: t.Name, Datatype: t.Datatype, Shape: append([]int64{hi - lo}, t.Shape[1:]...)}
	a, b := lo*per, hi*per
	switch t.Datatype.Class() {
	case ClassFloat:
		s.Float = t.Float[a:b]
	case ClassInt:
		s.Int = t.Int[a:b]
	case ClassBytes:
		s.Bytes = t.Bytes[a:b]
	}
	return s
}

// appendRows concatenates more onto dst along the first dimension, output
// by output.
func appendRows(dst, more []Tensor) error {
	if len(dst) != len(more) {
		return fmt.Errorf("inference: batches returned %d and %d outputs", len(dst), len(more))
	}
	for i := range dst {
		d, m := &dst[i], &more[i]
		if d.Name != m.Name || d.Datatype != m.Datatype || len(d.Shape) == 0 || len(d.Shape) != len(m.Shape) {
			return fmt.Errorf("inference: output %q changed between batches", d.Name)
		}
		for k := 1; k < len(d.Shape); k++ {
			if d.Shape[k] != m.Shape[k] {
				return fmt.Errorf("inference: output %q changed shape between batches", d.Name)
			}
		}
		d.Shape[0] += m.Shape[0]
		d.Float = append(d.Float, m.Float...)
		d.Int = append(d.Int, m.Int...)
		d.Bytes = append(d.Bytes, m.Bytes...)
	}
	return nil
}

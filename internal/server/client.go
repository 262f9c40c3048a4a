package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client uploads evidence to an mlsec server (mlsec push, mlsec scan
// --upload).
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// ErrAPI wraps an error response from the server.
var ErrAPI = errors.New("server refused the request")

// PushResult says where an upload landed.
type PushResult struct {
	Model    string `json:"model"`
	Version  string `json:"version"`
	Kind     string `json:"kind"`
	URL      string `json:"url"`
	Incident int64  `json:"incident,omitempty"`
}

// IsReport reports whether data looks like an mlsec scan report.
func IsReport(data []byte) bool {
	var doc map[string]json.RawMessage
	return json.Unmarshal(data, &doc) == nil && detectKind(doc) == EvidenceScan
}

// Push uploads one JSON document: a scan report goes to /api/reports,
// anything else is evidence for meta's model version.
func (c *Client) Push(ctx context.Context, meta VersionMeta, kind string, data []byte) (PushResult, error) {
	if kind == EvidenceScan || (kind == "" && IsReport(data)) {
		q := url.Values{}
		setNonEmpty(q, "model", meta.Model)
		setNonEmpty(q, "version", meta.Version)
		setNonEmpty(q, "owner", meta.Owner)
		setNonEmpty(q, "source", meta.SourceURI)
		setNonEmpty(q, "tags", strings.Join(meta.Tags, ","))
		var out struct {
			Model   modelView
			Version struct{ Version string }
			URL     string
		}
		if err := c.post(ctx, "/api/reports?"+q.Encode(), data, &out); err != nil {
			return PushResult{}, err
		}
		return PushResult{Model: out.Model.Name, Version: out.Version.Version, Kind: EvidenceScan, URL: c.abs(out.URL)}, nil
	}
	if meta.Model == "" || meta.Version == "" {
		return PushResult{}, errors.New("evidence other than a scan report needs a model name and version")
	}
	q := url.Values{}
	setNonEmpty(q, "kind", kind)
	setNonEmpty(q, "owner", meta.Owner)
	setNonEmpty(q, "source", meta.SourceURI)
	setNonEmpty(q, "tags", strings.Join(meta.Tags, ","))
	var out struct {
		Evidence struct{ Kind string }
		Incident *struct{ ID int64 }
	}
	p := "/api/models/" + url.PathEscape(meta.Model) + "/versions/" + url.PathEscape(meta.Version) + "/evidence?" + q.Encode()
	if err := c.post(ctx, p, data, &out); err != nil {
		return PushResult{}, err
	}
	r := PushResult{Model: meta.Model, Version: meta.Version, Kind: out.Evidence.Kind,
		URL: c.abs("/models/" + url.PathEscape(meta.Model) + "?version=" + url.QueryEscape(meta.Version))}
	if out.Incident != nil {
		r.Incident = out.Incident.ID
	}
	return r, nil
}

func setNonEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func (c *Client) abs(p string) string { return strings.TrimRight(c.BaseURL, "/") + p }

func (c *Client) post(ctx context.Context, path string, body []byte, out any) error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("server URL %q: want http(s)://host[:port]", c.BaseURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.abs(path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("upload to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%w: %s: %s", ErrAPI, resp.Status, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("server response: %w", err)
		}
	}
	return nil
}

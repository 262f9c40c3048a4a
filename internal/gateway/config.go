package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mlsec/mlsec/internal/inference"
)

// Config is the gateway's configuration file (YAML). See Example in the
// package documentation and the README for a commented example.
type Config struct {
	// Listen is the address to serve on (default 127.0.0.1:8443).
	Listen string `yaml:"listen"`
	TLS    *TLS   `yaml:"tls"`
	// Upstream is the default OIP server base URL (http://host:port).
	Upstream string `yaml:"upstream"`
	// UpstreamTimeout bounds one upstream request (default 30s).
	UpstreamTimeout Duration `yaml:"upstream_timeout"`
	// Redis, when set, shares limits and penalties between replicas.
	Redis       string `yaml:"redis"`
	RedisPrefix string `yaml:"redis_prefix"`
	// Keys is the hashed API key file managed by 'mlsec gateway key'.
	Keys string     `yaml:"keys"`
	JWT  *JWTConfig `yaml:"jwt"`
	// Defaults apply to every model that does not set its own.
	Defaults Policy        `yaml:"defaults"`
	Models   []ModelConfig `yaml:"models"`
	Audit    AuditConfig   `yaml:"audit"`
	Alerts   AlertConfig   `yaml:"alerts"`
	// MetricsPath serves Prometheus metrics (default /metrics; "-" turns
	// it off).
	MetricsPath string `yaml:"metrics_path"`

	dir string // directory relative paths are resolved against
}

// TLS configures HTTPS and client certificates (mTLS).
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA enables client certificates, verified against these CAs.
	ClientCA string `yaml:"client_ca"`
	// ClientAuth is "optional" (default when ClientCA is set) or "require".
	ClientAuth string `yaml:"client_auth"`
}

// JWTConfig configures OIDC/JWT bearer tokens.
type JWTConfig struct {
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	JWKSFile string `yaml:"jwks_file"`
	JWKSURL  string `yaml:"jwks_url"`
	// SubjectClaim names the identity (default "sub"); GroupsClaim lists
	// groups (default "groups").
	SubjectClaim string   `yaml:"subject_claim"`
	GroupsClaim  string   `yaml:"groups_claim"`
	Leeway       Duration `yaml:"leeway"`
}

// Policy is the per-model behaviour that defaults can supply.
type Policy struct {
	Limits    *Limits    `yaml:"limits"`
	Output    *Output    `yaml:"output"`
	Detectors *Detectors `yaml:"detectors"`
}

// ModelConfig is one model behind the gateway.
type ModelConfig struct {
	// Name is the model name clients use.
	Name string `yaml:"name"`
	// Protocol is "oip" (default) or "json" (plain JSON over HTTP, served
	// at /models/NAME/…).
	Protocol string `yaml:"protocol"`
	// Upstream overrides the default upstream; for json models it is the
	// model's base URL.
	Upstream string `yaml:"upstream"`
	// UpstreamName is the model's name upstream (default Name).
	UpstreamName string `yaml:"upstream_name"`
	// Grants give tiers to keys, groups, subjects and token claims.
	Grants []Grant `yaml:"grants"`
	// Validate checks requests against the upstream's metadata (default true).
	Validate *bool `yaml:"validate"`
	// Profile is a reference profile (JSON, see detect.Profile) for value
	// ranges, distance scaling and drift.
	Profile string `yaml:"profile"`
	// RangeTolerance widens the profile's ranges by this fraction of each
	// range (default 0.1); negative disables range checks.
	RangeTolerance *float64 `yaml:"range_tolerance"`
	// JSON describes plain JSON models' bodies.
	JSON   *JSONModel `yaml:"json"`
	Policy `yaml:",inline"`
}

// JSONModel names the fields of a plain JSON model's bodies.
type JSONModel struct {
	// Input is the request field holding rows of numbers (default "instances").
	Input string `yaml:"input"`
	// Label and Scores are response fields with predicted labels and
	// per-class scores (defaults "label", "scores"). Other response
	// fields are removed below the full tier.
	Label  string `yaml:"label"`
	Scores string `yaml:"scores"`
}

// Grant gives a tier on a model to whoever matches one of Key, Group,
// Subject or Claim ("name=value").
type Grant struct {
	Key      string   `yaml:"key"`
	Group    string   `yaml:"group"`
	Subject  string   `yaml:"subject"`
	Claim    string   `yaml:"claim"`
	Tier     Tier     `yaml:"tier"`
	Versions []string `yaml:"versions"`
}

// Limits bound what one identity may send to one model.
type Limits struct {
	Rate         float64  `yaml:"rate"`  // requests per second
	Burst        float64  `yaml:"burst"` // bucket size
	Budget       int64    `yaml:"budget"`
	Window       Duration `yaml:"window"`
	ThrottleRate float64  `yaml:"throttle_rate"`
	MaxBatch     int      `yaml:"max_batch"`
	MaxBody      ByteSize `yaml:"max_body"`
}

// Output configures output hardening for the scores tier.
type Output struct {
	// Round keeps this many decimals of scores (default 3; -1 keeps all).
	Round *int `yaml:"round"`
	// TopK keeps the k largest scores per row and zeroes the rest (0: all).
	TopK int `yaml:"top_k"`
	// Noise adds Gaussian noise of this standard deviation to scores
	// before rounding (rows are clipped to [0,1] and renormalised).
	Noise float64 `yaml:"noise"`
	// LabelOutput and ScoresOutput name the OIP outputs holding labels
	// and scores (defaults: the first integer or BYTES output; the first
	// floating-point output).
	LabelOutput  string `yaml:"label_output"`
	ScoresOutput string `yaml:"scores_output"`
}

// Detectors configures the detectors of a model.
type Detectors struct {
	PRADA      *PRADAConfig      `yaml:"prada"`
	Similarity *SimilarityConfig `yaml:"similarity"`
	Drift      *DriftConfig      `yaml:"drift"`
}

// Action is what a detector's trigger does.
type Action string

// Actions.
const (
	ActionLog      Action = "log"
	ActionAlert    Action = "alert"
	ActionThrottle Action = "throttle"
	ActionBlock    Action = "block"
)

// Reaction is common to every detector.
type Reaction struct {
	Action Action `yaml:"action"`
	// For is how long a throttle or block lasts (default 15m).
	For Duration `yaml:"for"`
}

// PRADAConfig configures the extraction detector.
type PRADAConfig struct {
	Reaction      `yaml:",inline"`
	Threshold     float64 `yaml:"threshold"`
	MinQueries    int     `yaml:"min_queries"`
	Window        int     `yaml:"window"`
	MaxGrowing    int     `yaml:"max_growing"`
	Every         int     `yaml:"every"`
	MaxIdentities int     `yaml:"max_identities"`
}

// SimilarityConfig configures the query-similarity detector.
type SimilarityConfig struct {
	Reaction      `yaml:",inline"`
	K             int     `yaml:"k"`
	Buffer        int     `yaml:"buffer"`
	Threshold     float64 `yaml:"threshold"`
	MaxIdentities int     `yaml:"max_identities"`
}

// DriftConfig configures drift detection (needs a profile with bins).
type DriftConfig struct {
	Reaction  `yaml:",inline"`
	Window    int     `yaml:"window"`
	Threshold float64 `yaml:"threshold"`
}

// AuditConfig configures the audit trail.
type AuditConfig struct {
	// File receives one JSON line per request ("-" is standard output,
	// "" none).
	File string `yaml:"file"`
	// Ledger, when set, also appends request records to the provenance
	// ledger in batches.
	Ledger *LedgerConfig `yaml:"ledger"`
}

// LedgerConfig names a ledger database and its signing key.
type LedgerConfig struct {
	DB       string   `yaml:"db"`
	Key      string   `yaml:"key"`
	Batch    int      `yaml:"batch"`
	Interval Duration `yaml:"interval"`
}

// AlertConfig configures where alerts go besides the log and metrics.
type AlertConfig struct {
	File     string   `yaml:"file"`
	Webhooks []string `yaml:"webhooks"`
	// Cooldown suppresses repeats of one detector's alert for one
	// identity and model (default 1m).
	Cooldown Duration `yaml:"cooldown"`
}

// Duration is a time.Duration written as "30s", "15m", "24h" or "7d".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return v, nil
}

// ByteSize is a size written as 1048576, "512KiB", "1MiB" or "1MB".
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suf); ok {
			s, mult = strings.TrimSpace(v), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/mult {
		return fmt.Errorf("line %d: invalid size %q", n.Line, n.Value)
	}
	*b = ByteSize(v * mult)
	return nil
}

// Tier is an access level; each includes the ones below it.
type Tier int

// Tiers, lowest first.
const (
	TierNone     Tier = iota
	TierLabel         // the top class only
	TierScores        // hardened per-class scores
	TierFull          // raw outputs
	TierMetadata      // model metadata (inputs, outputs, shapes)
	TierAdmin         // white-box: everything the upstream serves for the model
)

var tierNames = []string{"none", "label", "scores", "full", "metadata", "admin"}

func (t Tier) String() string {
	if t >= 0 && int(t) < len(tierNames) {
		return tierNames[t]
	}
	return "invalid"
}

// ParseTier reads a tier name.
func ParseTier(s string) (Tier, error) {
	i := slices.Index(tierNames, strings.ToLower(strings.TrimSpace(s)))
	if i <= 0 {
		return TierNone, fmt.Errorf("unknown tier %q (want label, scores, full, metadata or admin)", s)
	}
	return Tier(i), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *Tier) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseTier(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*t = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Limits on a configuration file.
const (
	MaxConfigSize = 1 << 20
	maxModels     = 1000
	maxGrants     = 10000
)

// ErrConfig reports an invalid configuration.
var ErrConfig = errors.New("invalid gateway configuration")

// LoadConfig reads and checks a configuration file; relative paths in it
// are resolved against its directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.dir = abs
	return c, nil
}

// ParseConfig parses and checks a YAML configuration.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrConfig, MaxConfigSize)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Path resolves a path from the configuration against its directory.
func (c *Config) Path(p string) string {
	if p == "" || p == "-" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Dir is the directory relative paths are resolved against.
func (c *Config) Dir() string { return c.dir }

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

func checkURL(what, s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		return bad("%s %q: want a %s URL", what, s, strings.Join(schemes, " or "))
	}
	return nil
}

func (c *Config) check() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8443"
	}
	if c.UpstreamTimeout == 0 {
		c.UpstreamTimeout = Duration(30 * time.Second)
	}
	if c.MetricsPath == "" {
		c.MetricsPath = "/metrics"
	}
	if c.MetricsPath != "-" && !strings.HasPrefix(c.MetricsPath, "/") {
		return bad("metrics_path must start with /")
	}
	if c.Upstream != "" {
		if err := checkURL("upstream", c.Upstream, "http", "https"); err != nil {
			return err
		}
	}
	if c.Redis != "" {
		if err := checkURL("redis", c.Redis, "redis", "rediss"); err != nil {
			return err
		}
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "mlsec:gateway:"
	}
	if t := c.TLS; t != nil {
		if (t.Cert == "") != (t.Key == "") {
			return bad("tls needs both cert and key")
		}
		switch t.ClientAuth {
		case "", "optional", "require":
		default:
			return bad("tls.client_auth %q: want optional or require", t.ClientAuth)
		}
		if t.ClientCA != "" && t.Cert == "" {
			return bad("client certificates need tls.cert and tls.key")
		}
	}
	if j := c.JWT; j != nil {
		if (j.JWKSFile == "") == (j.JWKSURL == "") {
			return bad("jwt needs exactly one of jwks_file and jwks_url")
		}
		if j.JWKSURL != "" {
			if err := checkURL("jwt.jwks_url", j.JWKSURL, "https", "http"); err != nil {
				return err
			}
		}
		if j.Issuer == "" || j.Audience == "" {
			return bad("jwt needs issuer and audience")
		}
		if j.SubjectClaim == "" {
			j.SubjectClaim = "sub"
		}
		if j.GroupsClaim == "" {
			j.GroupsClaim = "groups"
		}
	}
	if len(c.Models) == 0 {
		return bad("no models")
	}
	if len(c.Models) > maxModels {
		return bad("more than %d models", maxModels)
	}
	if err := c.Defaults.check("defaults"); err != nil {
		return err
	}
	grants := 0
	seen := map[string]bool{}
	for i := range c.Models {
		m := &c.Models[i]
		where := fmt.Sprintf("models[%d]", i)
		if !inference.ValidName(m.Name) {
			return bad("%s: invalid name %q", where, m.Name)
		}
		where = "model " + m.Name
		if seen[m.Name] {
			return bad("%s listed twice", where)
		}
		seen[m.Name] = true
		switch m.Protocol {
		case "":
			m.Protocol = "oip"
		case "oip", "json":
		default:
			return bad("%s: protocol %q: want oip or json", where, m.Protocol)
		}
		if m.UpstreamName == "" {
			m.UpstreamName = m.Name
		}
		if !inference.ValidName(m.UpstreamName) {
			return bad("%s: invalid upstream_name %q", where, m.UpstreamName)
		}
		if m.Upstream == "" {
			m.Upstream = c.Upstream
		}
		if m.Upstream == "" {
			return bad("%s: no upstream (set upstream at the top or on the model)", where)
		}
		if err := checkURL(where+" upstream", m.Upstream, "http", "https"); err != nil {
			return err
		}
		if m.Protocol == "json" {
			if m.JSON == nil {
				m.JSON = &JSONModel{}
			}
			if m.JSON.Input == "" {
				m.JSON.Input = "instances"
			}
			if m.JSON.Label == "" {
				m.JSON.Label = "label"
			}
			if m.JSON.Scores == "" {
				m.JSON.Scores = "scores"
			}
		} else if m.JSON != nil {
			return bad("%s: json settings on an oip model", where)
		}
		if m.RangeTolerance == nil {
			t := 0.1
			m.RangeTolerance = &t
		}
		if m.Limits == nil {
			m.Limits = c.Defaults.Limits
		}
		if m.Output == nil {
			m.Output = c.Defaults.Output
		}
		if m.Detectors == nil {
			m.Detectors = c.Defaults.Detectors
		}
		if err := m.Policy.check(where); err != nil {
			return err
		}
		if d := m.Detectors; d != nil && d.Drift != nil && m.Profile == "" {
			return bad("%s: drift detection needs a profile", where)
		}
		grants += len(m.Grants)
		if grants > maxGrants {
			return bad("more than %d grants", maxGrants)
		}
		for k, g := range m.Grants {
			n := 0
			for _, s := range []string{g.Key, g.Group, g.Subject, g.Claim} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return bad("%s grant %d: give exactly one of key, group, subject, claim", where, k)
			}
			if g.Claim != "" && !strings.Contains(g.Claim, "=") {
				return bad("%s grant %d: claim must be name=value", where, k)
			}
			if g.Tier == TierNone {
				return bad("%s grant %d: no tier", where, k)
			}
		}
	}
	if c.Audit.Ledger != nil {
		if c.Audit.Ledger.Batch <= 0 {
			c.Audit.Ledger.Batch = 256
		}
		if c.Audit.Ledger.Interval <= 0 {
			c.Audit.Ledger.Interval = Duration(time.Second)
		}
	}
	for _, w := range c.Alerts.Webhooks {
		if err := checkURL("alerts.webhooks", w, "https", "http"); err != nil {
			return err
		}
	}
	if c.Alerts.Cooldown == 0 {
		c.Alerts.Cooldown = Duration(time.Minute)
	}
	return nil
}

func (p *Policy) check(where string) error {
	if l := p.Limits; l != nil {
		for _, v := range []float64{l.Rate, l.Burst, l.ThrottleRate} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("%s: limits must be finite and non-negative", where)
			}
		}
		if l.Budget < 0 || l.MaxBatch < 0 || l.MaxBody < 0 {
			return bad("%s: limits must be non-negative", where)
		}
		if l.Budget > 0 && l.Window == 0 {
			l.Window = Duration(24 * time.Hour)
		}
	}
	if o := p.Output; o != nil {
		if o.TopK < 0 || o.Noise < 0 || math.IsNaN(o.Noise) || (o.Round != nil && (*o.Round < -1 || *o.Round > 15)) {
			return bad("%s: output: top_k and noise must be non-negative, round -1 to 15", where)
		}
	}
	if d := p.Detectors; d != nil {
		reactions := []*Reaction{}
		if d.PRADA != nil {
			if d.PRADA.Threshold < 0 || d.PRADA.Threshold >= 1 {
				return bad("%s: prada threshold must lie in [0, 1)", where)
			}
			reactions = append(reactions, &d.PRADA.Reaction)
		}
		if d.Similarity != nil {
			if d.Similarity.Threshold < 0 || d.Similarity.K < 0 || d.Similarity.Buffer < 0 {
				return bad("%s: similarity settings must be non-negative", where)
			}
			reactions = append(reactions, &d.Similarity.Reaction)
		}
		if d.Drift != nil {
			if d.Drift.Threshold < 0 || d.Drift.Window < 0 {
				return bad("%s: drift settings must be non-negative", where)
			}
			reactions = append(reactions, &d.Drift.Reaction)
		}
		for _, r := range reactions {
			switch r.Action {
			case "":
				r.Action = ActionAlert
			case ActionLog, ActionAlert, ActionThrottle, ActionBlock:
			default:
				return bad("%s: detector action %q: want log, alert, throttle or block", where, r.Action)
			}
			if r.For == 0 {
				r.For = Duration(15 * time.Minute)
			}
		}
	}
	return nil
}

package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Identity is an authenticated caller.
type Identity struct {
	// ID is unique across kinds: "key:<id>", "jwt:<subject>", "mtls:<CN>".
	ID      string `json:"id"`
	Kind    string `json:"kind"` // key, jwt, mtls
	Subject string `json:"subject"`
	KeyID   string `json:"key_id,omitempty"`
	Groups  []string
	claims  map[string]any
}

// Authentication failures (all answered 401 without detail).
var (
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("invalid credentials")
)

// authenticator checks credentials. It is immutable; reload builds a new one.
type authenticator struct {
	keys *keyIndex
	jwt  *jwtVerifier
	mtls bool
	now  func() time.Time
}

// authenticate identifies the caller of r: an API key (Authorization:
// Bearer mlsk_… or X-API-Key), else a JWT bearer token, else a verified
// client certificate. Credentials that are present but wrong fail; they
// never fall through to a weaker method.
func (a *authenticator) authenticate(r *http.Request) (*Identity, error) {
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errBadCredentials
		}
		token = strings.TrimSpace(rest)
	} else if h := r.Header.Get("X-API-Key"); h != "" {
		token = strings.TrimSpace(h)
		if !strings.HasPrefix(token, keyPrefix) {
			return nil, errBadCredentials
		}
	}
	if token != "" {
		if strings.HasPrefix(token, keyPrefix) {
			if a.keys == nil {
				return nil, errBadCredentials
			}
			rec, ok := a.keys.verify(token, a.now())
			if !ok {
				return nil, errBadCredentials
			}
			return &Identity{ID: "key:" + rec.ID, Kind: "key", Subject: rec.Owner, KeyID: rec.ID, Groups: rec.Groups}, nil
		}
		if a.jwt == nil {
			return nil, errBadCredentials
		}
		return a.jwt.verify(r.Context(), token)
	}
	if a.mtls && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return certIdentity(r.TLS.VerifiedChains[0][0])
	}
	return nil, errNoCredentials
}

// certIdentity names a verified client certificate's holder: its common
// name (else first DNS or email SAN), with organisational units as groups.
func certIdentity(c *x509.Certificate) (*Identity, error) {
	name := c.Subject.CommonName
	if name == "" && len(c.DNSNames) > 0 {
		name = c.DNSNames[0]
	}
	if name == "" && len(c.EmailAddresses) > 0 {
		name = c.EmailAddresses[0]
	}
	if name == "" {
		return nil, errBadCredentials
	}
	return &Identity{ID: "mtls:" + name, Kind: "mtls", Subject: name, Groups: slices.Clone(c.Subject.OrganizationalUnit)}, nil
}

// jwtVerifier checks bearer JWTs against a JWKS.
type jwtVerifier struct {
	cfg   JWTConfig
	set   jwk.Set // from a file
	cache *jwk.Cache
	url   string
}

func newJWTVerifier(ctx context.Context, cfg JWTConfig, path func(string) string) (*jwtVerifier, error) {
	v := &jwtVerifier{cfg: cfg}
	if cfg.JWKSFile != "" {
		data, err := os.ReadFile(path(cfg.JWKSFile))
		if err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		set, err := jwk.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("jwks %s: %w", cfg.JWKSFile, err)
		}
		if err := checkPublicSet(set); err != nil {
			return nil, err
		}
		v.set = set
		return v, nil
	}
	c, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		return nil, fmt.Errorf("jwks cache: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Register(rctx, cfg.JWKSURL, jwk.WithMinInterval(time.Minute), jwk.WithMaxInterval(time.Hour)); err != nil {
		return nil, fmt.Errorf("jwks %s: %w", cfg.JWKSURL, err)
	}
	v.cache, v.url = c, cfg.JWKSURL
	return v, nil
}

// checkPublicSet refuses symmetric keys: a JWKS published for token
// verification holds public keys only.
func checkPublicSet(set jwk.Set) error {
	for i := range set.Len() {
		k, _ := set.Key(i)
		if k.KeyType().String() == "oct" {
			return errors.New("jwks: symmetric (oct) keys are not accepted")
		}
	}
	return nil
}

func (v *jwtVerifier) keySet(ctx context.Context) (jwk.Set, error) {
	if v.set != nil {
		return v.set, nil
	}
	set, err := v.cache.Lookup(ctx, v.url)
	if err != nil {
		return nil, err
	}
	return set, checkPublicSet(set)
}

func (v *jwtVerifier) verify(ctx context.Context, token string) (*Identity, error) {
	if len(token) > 16<<10 {
		return nil, errBadCredentials
	}
	set, err := v.keySet(ctx)
	if err != nil {
		return nil, errBadCredentials
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithRequiredClaim("exp"),
		jwt.WithAcceptableSkew(time.Duration(v.cfg.Leeway)),
	)
	if err != nil {
		return nil, errBadCredentials
	}
	claims := map[string]any{}
	for _, k := range tok.Keys() {
		var val any
		if tok.Get(k, &val) == nil {
			claims[k] = val
		}
	}
	sub := claimString(claims[v.cfg.SubjectClaim])
	if sub == "" {
		return nil, errBadCredentials
	}
	return &Identity{ID: "jwt:" + sub, Kind: "jwt", Subject: sub, Groups: claimStrings(claims[v.cfg.GroupsClaim]), claims: claims}, nil
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	return ""
}

func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(strings.ReplaceAll(x, ",", " "))
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// hasClaim reports whether the identity's token claim name equals value
// or, for a list claim, contains it.
func (id *Identity) hasClaim(name, value string) bool {
	v, ok := id.claims[name]
	if !ok {
		return false
	}
	if s := claimString(v); s != "" {
		return s == value
	}
	return slices.Contains(claimStrings(v), value)
}

// grantedTier is the highest tier the grants give id on version.
func grantedTier(grants []Grant, id *Identity, version string) Tier {
	best := TierNone
	for i := range grants {
		g := &grants[i]
		if g.Tier <= best {
			continue
		}
		if len(g.Versions) > 0 && !slices.Contains(g.Versions, version) && !slices.Contains(g.Versions, "*") {
			continue
		}
		var match bool
		switch {
		case g.Key != "":
			match = id.KeyID != "" && g.Key == id.KeyID
		case g.Group != "":
			match = slices.Contains(id.Groups, g.Group)
		case g.Subject != "":
			match = g.Subject == id.Subject
		case g.Claim != "":
			n, val, _ := strings.Cut(g.Claim, "=")
			match = id.hasClaim(n, val)
		}
		if match {
			best = g.Tier
		}
	}
	return best
}

package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/store"
)

// Role is what a token may do. Each role includes the ones below it.
type Role int

// Roles.
const (
	RoleNone    Role = iota // unauthenticated endpoints
	RoleViewer              // read everything
	RoleAnalyst             // upload evidence, open and handle incidents
	RoleAdmin               // manage tokens, server-side scans, jobs
)

var roleNames = map[Role]string{RoleNone: "none", RoleViewer: "viewer", RoleAnalyst: "analyst", RoleAdmin: "admin"}

func (r Role) String() string { return roleNames[r] }

// ParseRole parses viewer, analyst or admin.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if r != RoleNone && n == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q (want viewer, analyst or admin)", s)
}

const (
	tokenPrefix   = "mlsec_"
	sessionCookie = "mlsec_session"
	loginCookie   = "mlsec_login"
	sessionTTL    = 12 * time.Hour
)

// newToken makes a token secret (32 random bytes) and its SHA-256.
func newToken() (secret string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashSecret(secret), nil
}

func hashSecret(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// principal is who is calling.
type principal struct {
	token   store.Token
	role    Role
	session *store.Session // set when authenticated by the UI cookie
}

func (p *principal) actor() string { return fmt.Sprintf("token:%d:%s", p.token.ID, p.token.Name) }

var errUnauthorized = errors.New("missing, unknown or revoked token")

// authToken checks a bearer secret. The database finds the row by the
// hash of the secret; the hashes are then compared in constant time.
func (s *Server) authToken(ctx context.Context, secret string) (*principal, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 128 {
		return nil, errUnauthorized
	}
	h := hashSecret(secret)
	t, err := s.st.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(t.Hash, h) != 1 || t.Revoked != nil {
		return nil, errUnauthorized
	}
	role, err := ParseRole(t.Role)
	if err != nil {
		return nil, errUnauthorized
	}
	_ = s.st.TouchToken(ctx, t.ID)
	return &principal{token: t, role: role}, nil
}

// authSession checks the UI session cookie.
func (s *Server) authSession(r *http.Request) (*principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 128 {
		return nil, errUnauthorized
	}
	sess, t, err := s.st.SessionByHash(r.Context(), hashSecret(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	role, err := ParseRole(t.Role)
	if err != nil {
		return nil, errUnauthorized
	}
	return &principal{token: t, role: role, session: &sess}, nil
}

// authenticate finds the caller from a bearer token or a session cookie.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, errUnauthorized
		}
		return s.authToken(r.Context(), strings.TrimSpace(secret))
	}
	return s.authSession(r)
}

// checkCSRF guards state-changing requests made with the session cookie:
// the request must come from this origin and carry the session's CSRF
// token (form field "csrf" or header X-CSRF-Token).
func checkCSRF(r *http.Request, p *principal) bool {
	if p.session == nil {
		return true // bearer tokens are not sent by browsers on their own
	}
	if !sameOrigin(r) {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(p.session.CSRF)) == 1
}

// sameOrigin rejects cross-site requests using Sec-Fetch-Site and Origin.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode}
	if ttl < 0 {
		c.MaxAge = -1
	} else {
		c.Expires = s.cfg.Now().Add(ttl)
		c.MaxAge = int(ttl.Seconds())
	}
	http.SetCookie(w, c)
}

// login exchanges a token secret for a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request, secret string) error {
	p, err := s.authToken(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		return err
	}
	sid := randomString()
	if err := s.st.CreateSession(r.Context(), hashSecret(sid), store.Session{TokenID: p.token.ID, CSRF: randomString(),
		Expires: s.cfg.Now().Add(sessionTTL)}); err != nil {
		return err
	}
	s.setCookie(w, sessionCookie, sid, sessionTTL)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		_ = s.st.DeleteSession(r.Context(), hashSecret(c.Value))
	}
	s.setCookie(w, sessionCookie, "", -1)
}

// secureHeaders sets the headers every response carries.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.cfg.SecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// Package server is mlsec's control plane: an inventory of models and
// their versions with the evidence gathered about each (scan findings,
// BOMs, signature status, policy verdicts, fairness and robustness
// reports), incidents opened by policy violations and gateway alerts, a
// JSON REST API described by an OpenAPI 3.1 document, and an embedded web
// UI. Every write is recorded in the provenance ledger.
//
// Persistence is internal/store (SQLite by default, PostgreSQL at scale);
// background re-scans run from a job table that replicas on PostgreSQL
// share through SELECT … FOR UPDATE SKIP LOCKED.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// Config configures a Server.
type Config struct {
	// Store is the open database.
	Store *store.Store
	// LedgerKey is the private note key that signs ledger checkpoints. If
	// the ledger is not initialised yet it is initialised with this key.
	LedgerKey string
	// LedgerPub is LedgerKey's public key (needed to initialise).
	LedgerPub string
	// ScanRoots are directories the server may scan (server-side scans and
	// re-scans); none disables server-side scanning.
	ScanRoots []string
	// VulnDB is the vulnerability database file whose changes trigger
	// re-scans ("" = the default path).
	VulnDB string
	// Workers is the number of background job workers (default 1; 0 is
	// the default, negative disables them).
	Workers int
	// SecureCookies sets the Secure attribute on cookies (behind TLS).
	SecureCookies bool
	// Logger receives operational logs (default: discard).
	Logger *slog.Logger
	// Tool names this build in scan reports.
	Tool finding.Tool
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Server serves the API and UI.
type Server struct {
	cfg    Config
	st     *store.Store
	led    *ledger.Ledger
	log    *slog.Logger
	mux    *http.ServeMux
	routes []route
	ui     *uiRenderer
	id     string // worker id for the job queue

	indexMu sync.Mutex
	wake    chan struct{}
}

// ErrAlreadyBootstrapped is returned by Bootstrap when tokens exist.
var ErrAlreadyBootstrapped = errors.New("server already has tokens")

// New opens the ledger (initialising it on first start) and builds the
// handler. It does not start background work; call Run or Start.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Tool.Name == "" {
		cfg.Tool = finding.Tool{Name: "mlsec", Version: "dev"}
	}
	if cfg.LedgerKey == "" {
		return nil, errors.New("server: a ledger signing key is required")
	}
	if _, err := cfg.Store.Head(ctx); errors.Is(err, store.ErrNotInitialized) {
		if cfg.LedgerPub == "" {
			return nil, errors.New("server: ledger not initialised and no public key given")
		}
		if err := ledger.Init(ctx, cfg.Store, cfg.LedgerPub); err != nil && !errors.Is(err, store.ErrAlreadyInitialized) {
			return nil, fmt.Errorf("initialise ledger: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	led, err := ledger.Open(ctx, cfg.Store, ledger.WithSignerKey(cfg.LedgerKey))
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	host, _ := os.Hostname()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s := &Server{cfg: cfg, st: cfg.Store, led: led, log: cfg.Logger, mux: http.NewServeMux(),
		id: host + "-" + hex.EncodeToString(rnd[:]), wake: make(chan struct{}, 1)}
	s.ui, err = newUIRenderer()
	if err != nil {
		return nil, err
	}
	s.registerAPI()
	s.registerUI()
	return s, nil
}

// Bootstrap creates the first admin token if the server has none and
// returns its secret (shown once); otherwise ErrAlreadyBootstrapped.
func (s *Server) Bootstrap(ctx context.Context) (string, error) {
	secret, hash, err := newToken()
	if err != nil {
		return "", err
	}
	created, err := s.st.CreateFirstToken(ctx, "admin (first start)", RoleAdmin.String(), hash)
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if !created {
		return "", ErrAlreadyBootstrapped
	}
	if err := s.record(ctx, ledger.Event{Action: ledger.ActionAccessGrant, Actor: "mlsec-server",
		Subject: ledger.Subject{Name: "token:admin (first start)"}, Reason: "first start: admin token created"}); err != nil {
		return "", err
	}
	return secret, nil
}

// Handler returns the HTTP handler (API and UI) with security headers.
func (s *Server) Handler() http.Handler { return s.secureHeaders(s.mux) }

// Start runs background work (job workers, change watchers, the ledger
// indexer) until ctx ends.
func (s *Server) Start(ctx context.Context) {
	go s.watchChanges(ctx)
	for i := 0; i < s.cfg.Workers; i++ {
		go s.worker(ctx, fmt.Sprintf("%s/%d", s.id, i))
	}
}

// Run listens on addr and serves until ctx ends, then shuts down
// gracefully. ready, if not nil, receives the bound address.
func (s *Server) Run(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	bg, cancel := context.WithCancel(ctx)
	defer cancel()
	s.Start(bg)
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	return hs.Shutdown(sctx)
}

// record appends an event to the ledger and indexes it for timelines.
func (s *Server) record(ctx context.Context, ev ledger.Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.cfg.Now()
	}
	if _, err := s.led.Append(ctx, ev); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return s.catchUpIndex(ctx)
}

// catchUpIndex indexes ledger records not yet in the timeline index
// (including ones appended by other processes, e.g. 'mlsec ledger record').
func (s *Server) catchUpIndex(ctx context.Context) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	from, err := s.st.IndexedLedgerSize(ctx)
	if err != nil {
		return err
	}
	size, err := s.led.Size(ctx)
	if err != nil {
		return err
	}
	for from < size {
		end := min(size, from+500)
		var es []store.TimelineEntry
		for i := from; i < end; i++ {
			ev, _, err := s.led.Record(ctx, i)
			if err != nil {
				return fmt.Errorf("ledger record %d: %w", i, err)
			}
			es = append(es, store.TimelineEntry{Seq: i, Subject: ev.Subject.Name, Version: ev.Subject.Version,
				Action: ev.Action, Actor: ev.Actor, Reason: ev.Reason, Time: ev.Time})
		}
		if err := s.st.IndexLedger(ctx, es); err != nil {
			return err
		}
		from = end
	}
	return nil
}

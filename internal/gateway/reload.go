package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// openLedger opens the ledger named by the audit configuration with its
// signing key.
func openLedger(ctx context.Context, cfg *Config, lc *LedgerConfig) (LedgerAppender, interface{ Close() error }, error) {
	st, err := store.Open(ctx, lc.DB)
	if err != nil {
		return nil, nil, fmt.Errorf("audit ledger: %w", err)
	}
	if lc.Key == "" {
		st.Close()
		return nil, nil, fmt.Errorf("audit ledger: key (the ledger's private signing key file) is required")
	}
	key, err := os.ReadFile(cfg.Path(lc.Key))
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("audit ledger key: %w", err)
	}
	l, err := ledger.Open(ctx, st, ledger.WithSignerKey(strings.TrimSpace(string(key))))
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("audit ledger: %w", err)
	}
	return l, st, nil
}

// watchedFiles lists the files a configuration depends on.
func (g *Gateway) watchedFiles() []string {
	cfg := g.Config()
	files := []string{}
	if g.path != "" {
		if abs, err := filepath.Abs(g.path); err == nil {
			files = append(files, abs)
		}
	}
	add := func(p string) {
		if p != "" {
			files = append(files, cfg.Path(p))
		}
	}
	add(cfg.Keys)
	if cfg.JWT != nil {
		add(cfg.JWT.JWKSFile)
	}
	if cfg.TLS != nil {
		add(cfg.TLS.Cert)
		add(cfg.TLS.Key)
		add(cfg.TLS.ClientCA)
	}
	for _, m := range cfg.Models {
		add(m.Profile)
	}
	return files
}

// Watch reloads the configuration when it or a file it names (key file,
// JWKS, profiles, certificates) changes, until ctx ends. Changes are
// debounced; a failed reload is logged and the running configuration
// stays. Directories are watched, so editors that replace files by
// renaming work.
func (g *Gateway) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer w.Close()
	watched := map[string]bool{}
	files := map[string]bool{}
	sync := func() {
		for _, f := range g.watchedFiles() {
			files[filepath.Clean(f)] = true
			dir := filepath.Dir(f)
			if !watched[dir] {
				if err := w.Add(dir); err == nil {
					watched[dir] = true
				}
			}
		}
	}
	sync()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !files[filepath.Clean(ev.Name)] {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(200 * time.Millisecond)
			} else {
				timer.Reset(200 * time.Millisecond)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			g.log.Warn("gateway: watch", "error", err)
		case <-fire:
			fire = nil
			if err := g.Reload(); err != nil {
				g.log.Error("gateway: reload failed; keeping the running configuration", "error", err)
			} else {
				g.log.Info("gateway: configuration reloaded")
				sync()
			}
		}
	}
}

package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/jsonreport"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
	"github.com/mlsec/mlsec/internal/store"
	"github.com/mlsec/mlsec/internal/vulndb"
)

// Job kinds.
const (
	jobScan   = "scan"   // scan a path and record it as a model version
	jobRescan = "rescan" // re-scan the source of an existing version
)

const (
	settingRules  = "rules_fingerprint"
	settingVulnDB = "vulndb_fingerprint"
	jobStale      = 30 * time.Minute
	jobMaxTries   = 3
)

type scanJob struct {
	ScanRequest
	Actor string `json:"actor"`
}

type rescanJob struct {
	VersionID int64  `json:"version_id"`
	Reason    string `json:"reason"`
}

// poke wakes a local worker.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// allowedPath resolves p and checks it lies under a scan root.
func (s *Server) allowedPath(p string) (string, error) {
	if len(s.cfg.ScanRoots) == 0 {
		return "", errStatus(http.StatusForbidden, "server-side scans are disabled (start the server with --scan-root DIR)")
	}
	p = strings.TrimPrefix(p, "file://")
	if p == "" || !filepath.IsAbs(p) {
		return "", badf("path must be absolute")
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(p))
	if err != nil {
		return "", badf("cannot read %s", p)
	}
	for _, root := range s.cfg.ScanRoots {
		rr, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rr, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return real, nil
		}
	}
	return "", errStatus(http.StatusForbidden, "%s is outside the server's scan roots", p)
}

// rulesFingerprint changes whenever the rule catalogue does.
func rulesFingerprint() string {
	h := sha256.New()
	for _, r := range finding.Rules() {
		fmt.Fprintf(h, "%s\x00%s\x00%s\n", r.ID, r.Severity, r.Title)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (s *Server) vulnDBFingerprint() string {
	p := s.cfg.VulnDB
	if p == "" {
		var err error
		if p, err = vulndb.DefaultPath(); err != nil {
			return "none"
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "none"
	}
	return strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
}

// CheckChanges compares the rule set and vulnerability database with the
// ones the inventory was last scanned with and, when one changed, queues
// a re-scan of every model's latest version. Of several replicas checking
// at once, exactly one queues the jobs. It returns how many were queued.
func (s *Server) CheckChanges(ctx context.Context) (int, error) {
	n := 0
	for _, c := range []struct{ key, value, why string }{
		{settingRules, rulesFingerprint(), "rule set changed"},
		{settingVulnDB, s.vulnDBFingerprint(), "vulnerability database changed"},
	} {
		first := false
		if v, err := s.st.Setting(ctx, c.key); err != nil {
			return n, err
		} else if v == "" {
			first = true
		}
		_, err := s.st.SwapSetting(ctx, c.key, c.value, func(ctx context.Context, enqueue func(kind, payload string) error) error {
			if first {
				return nil // nothing was scanned with an older set
			}
			return s.st.AllVersionIDs(ctx, func(id int64) error {
				b, _ := json.Marshal(rescanJob{VersionID: id, Reason: c.why})
				n++
				return enqueue(jobRescan, string(b))
			})
		})
		if err != nil {
			return n, fmt.Errorf("check %s: %w", c.key, err)
		}
	}
	if n > 0 {
		s.log.Info("queued re-scans", "jobs", n)
		s.poke()
	}
	return n, nil
}

func (s *Server) watchChanges(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, err := s.CheckChanges(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("check for rule or vulnerability database changes", "err", err)
		}
		if err := s.catchUpIndex(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("index ledger", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) worker(ctx context.Context, id string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			ran, err := s.RunOneJob(ctx, id)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("job queue", "err", err)
				break
			}
			if !ran {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// RunOneJob claims and runs one queued job; it reports whether there was one.
func (s *Server) RunOneJob(ctx context.Context, worker string) (bool, error) {
	j, err := s.st.ClaimJob(ctx, worker, jobStale)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	jerr := s.runJob(ctx, j)
	retry := time.Duration(0)
	if jerr != nil && j.Attempts < jobMaxTries {
		retry = time.Duration(j.Attempts) * 30 * time.Second
	}
	if jerr != nil {
		s.log.Warn("job failed", "id", j.ID, "kind", j.Kind, "attempt", j.Attempts, "err", jerr)
	}
	return true, s.st.FinishJob(ctx, j.ID, jerr, retry)
}

func (s *Server) runJob(ctx context.Context, j store.Job) error {
	switch j.Kind {
	case jobScan:
		var sj scanJob
		if err := json.Unmarshal([]byte(j.Payload), &sj); err != nil {
			return err
		}
		p, err := s.allowedPath(sj.Path)
		if err != nil {
			return err
		}
		meta := VersionMeta{Model: sj.Model, Version: sj.Version, Owner: sj.Owner, Tags: sj.Tags, SourceURI: p}
		return s.scanInto(ctx, sj.Actor, meta, p, "server-side scan")
	case jobRescan:
		var rj rescanJob
		if err := json.Unmarshal([]byte(j.Payload), &rj); err != nil {
			return err
		}
		v, err := s.st.Version(ctx, rj.VersionID)
		if err != nil {
			return err
		}
		m, err := s.st.ModelByID(ctx, v.ModelID)
		if err != nil {
			return err
		}
		p, err := s.allowedPath(v.SourceURI)
		if err != nil {
			// Not readable here (a client's path): nothing to re-scan.
			s.log.Info("re-scan skipped", "model", m.Name, "version", v.Version, "reason", err)
			return nil
		}
		return s.scanInto(ctx, "mlsec-server", VersionMeta{Model: m.Name, Version: v.Version, SourceURI: p}, p, "re-scan: "+rj.Reason)
	}
	return fmt.Errorf("unknown job kind %q", j.Kind)
}

// scanInto scans path with the built-in analyzers and records the report.
func (s *Server) scanInto(ctx context.Context, actor string, meta VersionMeta, path, reason string) error {
	eng := scan.New(registry.Scanners(registry.Config{VulnDB: s.cfg.VulnDB}), scan.Options{
		Workers: 2, Limits: scan.DefaultLimits(), Digest: true, Logger: s.log, Tool: s.cfg.Tool})
	rep, err := eng.Scan(ctx, []string{path})
	if err != nil {
		return err
	}
	var buf strings.Builder
	if err := (jsonreport.Encoder{}).Encode(&buf, rep); err != nil {
		return err
	}
	_, _, err = s.ingestReport(ctx, actor, meta, []byte(buf.String()), reason)
	return err
}

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mlsec/mlsec/internal/ledger"
)

// AuditRecord is one request in the audit trail (one JSON line).
type AuditRecord struct {
	Time        time.Time `json:"time"`
	RequestID   string    `json:"request_id"`
	Identity    string    `json:"identity"` // "" when unauthenticated
	Auth        string    `json:"auth,omitempty"`
	Remote      string    `json:"remote,omitempty"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Model       string    `json:"model,omitempty"`
	Version     string    `json:"version,omitempty"`
	Tier        string    `json:"tier"`
	Decision    string    `json:"decision"`
	Reason      string    `json:"reason,omitempty"`
	InputDigest string    `json:"input_digest,omitempty"`
	Rows        int       `json:"rows,omitempty"`
	Status      int       `json:"status"`
	LatencyMS   float64   `json:"latency_ms"`
	Alerts      []string  `json:"alerts,omitempty"`
}

// Decisions.
const (
	DecisionAllow       = "allow"
	DecisionDenyAuthn   = "deny-authn"
	DecisionDenyAuthz   = "deny-authz"
	DecisionDenyLimit   = "deny-limit"
	DecisionDenyInvalid = "deny-invalid"
	DecisionDenyBlocked = "deny-blocked"
	DecisionNotFound    = "not-found"
	DecisionError       = "error"
)

// Alert is a detector's trigger as reported to people and systems.
type Alert struct {
	Time      time.Time `json:"time"`
	Detector  string    `json:"detector"`
	Identity  string    `json:"identity,omitempty"` // "" for model-wide detectors (drift)
	Model     string    `json:"model"`
	Version   string    `json:"version,omitempty"`
	Score     float64   `json:"score"`
	Threshold float64   `json:"threshold"`
	Queries   int       `json:"queries"`
	Feature   string    `json:"feature,omitempty"`
	Action    Action    `json:"action"`
	Message   string    `json:"message"`
}

// LedgerAppender is what the audit trail needs from the ledger.
type LedgerAppender interface {
	AppendBatch(ctx context.Context, evs []ledger.Event) (int64, error)
}

// auditor writes audit lines and ledger batches from one goroutine so
// that requests only pay for encoding and a channel send. The queue is
// bounded; when it is full requests wait (records are never dropped).
type auditor struct {
	ch       chan AuditRecord
	w        *bufio.Writer
	closer   io.Closer
	led      LedgerAppender
	batch    int
	interval time.Duration
	log      *slog.Logger
	done     chan struct{}
	onErr    func()
}

func newAuditor(w io.Writer, led LedgerAppender, batch int, interval time.Duration, log *slog.Logger, onErr func()) *auditor {
	a := &auditor{ch: make(chan AuditRecord, 1<<14), led: led, batch: max(batch, 1), interval: interval, log: log, done: make(chan struct{}), onErr: onErr}
	if w != nil {
		a.w = bufio.NewWriterSize(w, 64<<10)
		if c, ok := w.(io.Closer); ok {
			a.closer = c
		}
	}
	if a.interval <= 0 {
		a.interval = time.Second
	}
	go a.run()
	return a
}

func (a *auditor) record(r AuditRecord) { a.ch <- r }

func (a *auditor) run() {
	defer close(a.done)
	tick := time.NewTicker(min(a.interval, 200*time.Millisecond))
	defer tick.Stop()
	var events []ledger.Event
	lastLedger := time.Now()
	enc := func(r AuditRecord) {
		if a.w != nil {
			b, err := json.Marshal(r)
			if err == nil {
				a.w.Write(append(b, '\n'))
			}
		}
		if a.led != nil {
			events = append(events, auditEvent(r))
		}
	}
	flushLedger := func() {
		if len(events) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := a.led.AppendBatch(ctx, events); err != nil {
			a.log.Error("audit: ledger append failed", "records", len(events), "error", err)
			a.onErr()
		}
		cancel()
		events = events[:0]
		lastLedger = time.Now()
	}
	flushFile := func() {
		if a.w != nil {
			if err := a.w.Flush(); err != nil {
				a.log.Error("audit: write failed", "error", err)
				a.onErr()
			}
		}
	}
	for {
		select {
		case r, ok := <-a.ch:
			if !ok {
				flushFile()
				flushLedger()
				return
			}
			enc(r)
		drain:
			for range 4096 {
				select {
				case r, ok := <-a.ch:
					if !ok {
						break drain
					}
					enc(r)
				default:
					break drain
				}
			}
			flushFile()
			if len(events) >= a.batch {
				flushLedger()
			}
		case <-tick.C:
			flushFile()
			if time.Since(lastLedger) >= a.interval {
				flushLedger()
			}
		}
	}
}

// close drains the queue and flushes.
func (a *auditor) close() {
	close(a.ch)
	<-a.done
	if a.closer != nil {
		a.closer.Close()
	}
}

func auditEvent(r AuditRecord) ledger.Event {
	ev := ledger.Event{
		Action:  "x-gateway-request",
		Actor:   r.Identity,
		Subject: ledger.Subject{Name: r.Model, Version: r.Version},
		Time:    r.Time,
		Reason: fmt.Sprintf("decision=%s tier=%s status=%d latency_ms=%s rows=%d request=%s",
			r.Decision, r.Tier, r.Status, strconv.FormatFloat(r.LatencyMS, 'f', 3, 64), r.Rows, r.RequestID),
	}
	if ev.Actor == "" {
		ev.Actor = "anonymous"
	}
	if ev.Subject.Name == "" {
		ev.Subject.Name = "gateway:" + r.Path
		if len(ev.Subject.Name) > 200 {
			ev.Subject.Name = ev.Subject.Name[:200]
		}
	}
	if r.Reason != "" {
		ev.Reason += " reason=" + strconv.Quote(r.Reason)
	}
	if r.InputDigest != "" {
		ev.Inputs = []ledger.Input{{Kind: "other", Ref: "request:" + r.RequestID, Digest: r.InputDigest}}
	}
	return ev
}

// alerter delivers alerts to the log, a file, webhooks, the ledger and a
// callback, off the request path. Repeats within the cooldown are dropped.
type alerter struct {
	ch       chan Alert
	w        io.Writer
	closer   io.Closer
	hooks    []string
	client   *http.Client
	led      LedgerAppender
	log      *slog.Logger
	onAlert  func(Alert)
	cooldown time.Duration
	metric   func(Alert, bool)

	mu   sync.Mutex
	last map[string]time.Time
	done chan struct{}
}

func (a *alerter) start() {
	a.ch = make(chan Alert, 1024)
	a.last = map[string]time.Time{}
	a.done = make(chan struct{})
	go a.run()
}

// raise queues an alert unless one for the same key went out within the
// cooldown; it never blocks the request.
func (a *alerter) raise(al Alert) {
	key := al.Detector + "\x00" + al.Identity + "\x00" + al.Model
	a.mu.Lock()
	if t, ok := a.last[key]; ok && al.Time.Sub(t) < a.cooldown {
		a.mu.Unlock()
		return
	}
	a.last[key] = al.Time
	if len(a.last) > 100000 {
		for k, t := range a.last {
			if al.Time.Sub(t) >= a.cooldown {
				delete(a.last, k)
			}
		}
	}
	a.mu.Unlock()
	select {
	case a.ch <- al:
		a.metric(al, true)
	default:
		a.metric(al, false)
		a.log.Error("alert queue full; alert dropped", "detector", al.Detector, "identity", al.Identity, "model", al.Model)
	}
}

func (a *alerter) run() {
	defer close(a.done)
	for al := range a.ch {
		a.log.Warn("gateway alert", "detector", al.Detector, "identity", al.Identity, "model", al.Model,
			"score", al.Score, "threshold", al.Threshold, "action", al.Action, "message", al.Message)
		b, _ := json.Marshal(al)
		if a.w != nil {
			a.w.Write(append(b, '\n'))
		}
		for _, h := range a.hooks {
			a.post(h, b)
		}
		if a.led != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			actor := al.Identity
			if actor == "" {
				actor = "gateway"
			}
			_, err := a.led.AppendBatch(ctx, []ledger.Event{{
				Action: "x-gateway-alert", Actor: actor, Time: al.Time,
				Subject: ledger.Subject{Name: al.Model, Version: al.Version},
				Reason:  al.Message,
			}})
			cancel()
			if err != nil {
				a.log.Error("alert: ledger append failed", "error", err)
			}
		}
		if a.onAlert != nil {
			a.onAlert(al)
		}
	}
}

func (a *alerter) post(url string, body []byte) {
	for attempt := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			cancel()
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "mlsec-gateway")
		resp, err := a.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode < 300 {
			return
		}
		a.log.Warn("alert webhook failed", "url", url, "attempt", attempt+1, "error", err)
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
}

func (a *alerter) close() {
	close(a.ch)
	<-a.done
	if a.closer != nil {
		a.closer.Close()
	}
}

package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/ledger"
)

// WaiverMediaType is the media type of a waiver attached to a ledger
// 'waive' event.
const WaiverMediaType = "application/vnd.mlsec.waiver.v1+json"

// Waiver is an approved exception: the named rule does not block the named
// model until Expires. A waiver is recorded in the ledger as a 'waive'
// event (actor: the approver; reason; subject: the model) whose attachment
// is the waiver itself, so it is as tamper-evident as any other event.
type Waiver struct {
	// Rule is a policy rule ID (MLS-POL-005) or a finding rule ID
	// (MLS-DEP-001) that the policy's violation names.
	Rule string `json:"rule"`
	// Model is the ledger subject name; Digest, when set, limits the waiver
	// to that exact model content.
	Model    string    `json:"model"`
	Digest   string    `json:"digest,omitempty"`
	Reason   string    `json:"reason"`
	Approver string    `json:"approver"`
	Expires  time.Time `json:"expires"`
	// Set when read back from the ledger.
	Seq       int64     `json:"seq"`
	Recorded  time.Time `json:"recorded"`
	Active    bool      `json:"active"`
	ExpiredAt string    `json:"expired,omitempty"`
}

var waiverRuleRe = regexp.MustCompile(`^MLS-[A-Z0-9]+-[0-9]{3}$`)

// Validate checks a waiver before it is recorded.
func (w *Waiver) Validate(now time.Time) error {
	switch {
	case !waiverRuleRe.MatchString(w.Rule):
		return fmt.Errorf("waiver rule %q is not a rule ID (MLS-XXX-000)", w.Rule)
	case strings.TrimSpace(w.Model) == "" && w.Digest == "":
		return errors.New("a waiver names a model or a digest")
	case strings.TrimSpace(w.Reason) == "":
		return errors.New("a waiver needs a reason")
	case strings.TrimSpace(w.Approver) == "":
		return errors.New("a waiver needs an approver")
	case w.Expires.IsZero():
		return errors.New("a waiver needs an expiry")
	case !w.Expires.After(now):
		return fmt.Errorf("waiver expiry %s is not in the future", w.Expires.UTC().Format(time.RFC3339))
	case w.Expires.Sub(now) > 366*24*time.Hour:
		return errors.New("a waiver may last at most a year")
	}
	if w.Digest != "" {
		if err := ledger.ValidateDigest(w.Digest); err != nil {
			return fmt.Errorf("waiver digest: %w", err)
		}
	}
	return nil
}

// Record validates w, stores its JSON as a blob and appends the 'waive'
// event. It returns the event's index.
func (w *Waiver) Record(ctx context.Context, l *ledger.Ledger, blobs BlobStore, now time.Time) (int64, error) {
	if err := w.Validate(now); err != nil {
		return 0, err
	}
	body, err := json.Marshal(struct {
		Rule     string `json:"rule"`
		Model    string `json:"model"`
		Digest   string `json:"digest,omitempty"`
		Reason   string `json:"reason"`
		Approver string `json:"approver"`
		Expires  string `json:"expires"`
	}{w.Rule, w.Model, w.Digest, w.Reason, w.Approver, w.Expires.UTC().Format(time.RFC3339)})
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(body)
	att := ledger.Attachment{Name: "waiver.json", MediaType: WaiverMediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(body))}
	if err := blobs.PutBlob(ctx, att.Digest, att.MediaType, body); err != nil {
		return 0, fmt.Errorf("store waiver: %w", err)
	}
	name := w.Model
	if name == "" {
		name = w.Digest
	}
	return l.Append(ctx, ledger.Event{Actor: w.Approver, Action: ledger.ActionWaive, Reason: w.Reason,
		Subject: ledger.Subject{Name: name, Digest: w.Digest}, Attachments: []ledger.Attachment{att}})
}

// BlobStore keeps evidence beside the ledger; *store.Store has it.
type BlobStore interface {
	PutBlob(ctx context.Context, digest, mediaType string, data []byte) error
	Blob(ctx context.Context, digest string) (mediaType string, data []byte, err error)
}

// blob fetches an attachment and checks it matches its digest.
func blob(ctx context.Context, blobs BlobStore, a ledger.Attachment) ([]byte, error) {
	_, data, err := blobs.Blob(ctx, a.Digest)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if "sha256:"+hex.EncodeToString(sum[:]) != a.Digest {
		return nil, fmt.Errorf("stored blob %s does not match its digest", a.Digest)
	}
	return data, nil
}

// parseWaiver reads a waiver attachment of event ev.
func parseWaiver(data []byte, ev ledger.Event) (Waiver, error) {
	var raw struct {
		Rule     string `json:"rule"`
		Model    string `json:"model"`
		Digest   string `json:"digest"`
		Reason   string `json:"reason"`
		Approver string `json:"approver"`
		Expires  string `json:"expires"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Waiver{}, err
	}
	exp, err := time.Parse(time.RFC3339, raw.Expires)
	if err != nil {
		return Waiver{}, fmt.Errorf("expiry: %w", err)
	}
	if !waiverRuleRe.MatchString(raw.Rule) {
		return Waiver{}, fmt.Errorf("rule %q", raw.Rule)
	}
	return Waiver{Rule: raw.Rule, Model: raw.Model, Digest: raw.Digest, Reason: raw.Reason, Approver: raw.Approver,
		Expires: exp.UTC(), Seq: ev.Seq, Recorded: ev.Time.UTC()}, nil
}

// LedgerOptions configure FromLedger.
type LedgerOptions struct {
	// VerifierKey is the note public key that signs attestations (the
	// ledger key). Empty: the key stored in the ledger.
	VerifierKey string
	// Now judges waiver expiry.
	Now time.Time
}

// FromLedger gathers the events, attestations and waivers about model m.
// An event is about m when its subject digest equals m's digest, or when
// its subject name equals m's name and it names no other digest.
func FromLedger(ctx context.Context, l *ledger.Ledger, blobs BlobStore, m Model, o LedgerOptions) (LedgerEvidence, error) {
	ev := LedgerEvidence{Present: true, Events: []LedgerEvent{}, Attestations: []Attestation{}, Waivers: []Waiver{}}
	vkey := o.VerifierKey
	if vkey == "" {
		vkey = l.PublicKey()
	}
	about := func(s ledger.Subject) bool {
		if m.Digest != "" && s.Digest == m.Digest {
			return true
		}
		return s.Name == m.Name && (s.Digest == "" || m.Digest == "")
	}
	err := l.Scan(ctx, func(e ledger.Event) error {
		if !about(e.Subject) {
			return nil
		}
		ev.Events = append(ev.Events, LedgerEvent{Seq: e.Seq, Time: e.Time.UTC(), Action: e.Action, Actor: e.Actor, Reason: e.Reason, Digest: e.Subject.Digest})
		switch e.Action {
		case ledger.ActionAttest:
			ev.Attestations = append(ev.Attestations, attestation(ctx, e, blobs, vkey, m))
		case ledger.ActionWaive:
			for _, a := range e.Attachments {
				if a.MediaType != WaiverMediaType {
					continue
				}
				data, err := blob(ctx, blobs, a)
				if err != nil {
					return fmt.Errorf("waiver #%d: %w", e.Seq, err)
				}
				w, err := parseWaiver(data, e)
				if err != nil {
					return fmt.Errorf("waiver #%d: %w", e.Seq, err)
				}
				if w.Digest != "" && m.Digest != "" && w.Digest != m.Digest {
					continue // waives another build of the model
				}
				w.Active = o.Now.Before(w.Expires)
				if !w.Active {
					w.ExpiredAt = w.Expires.Format(time.RFC3339)
				}
				ev.Waivers = append(ev.Waivers, w)
			}
		}
		return nil
	})
	if err != nil {
		return LedgerEvidence{}, fmt.Errorf("read ledger: %w", err)
	}
	return ev, nil
}

func attestation(ctx context.Context, e ledger.Event, blobs BlobStore, vkey string, m Model) Attestation {
	a := Attestation{Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor}
	var env []byte
	for _, att := range e.Attachments {
		if att.MediaType == ledger.DSSEMediaType {
			data, err := blob(ctx, blobs, att)
			if err != nil {
				a.Problem = "envelope unavailable: " + err.Error()
				return a
			}
			env = data
			break
		}
	}
	if env == nil {
		a.Problem = "the event has no DSSE envelope attached"
		return a
	}
	st, err := ledger.VerifyStatement(ctx, env, vkey)
	if err != nil {
		a.Problem = "envelope does not verify: " + err.Error()
		return a
	}
	a.Verified = true
	a.BuildType = st.Predicate.BuildDefinition.BuildType
	a.Builder = st.Predicate.RunDetails.Builder.ID
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		s := d.Name
		if h := d.Digest["sha256"]; h != "" {
			s += "@sha256:" + h
		}
		a.Inputs = append(a.Inputs, s)
	}
	a.CoversModel, a.Problem = covers(st.Subject, m)
	return a
}

// covers reports whether the attested subjects are exactly the model's files.
func covers(subjects []ledger.ResourceDescriptor, m Model) (bool, string) {
	if len(m.Files) == 0 {
		return false, "the model's files were not digested"
	}
	if len(subjects) != len(m.Files) {
		return false, fmt.Sprintf("the attestation has %d subject(s), the model %d file(s)", len(subjects), len(m.Files))
	}
	for _, s := range subjects {
		if h, ok := m.Files[s.Name]; !ok || h != s.Digest["sha256"] {
			return false, fmt.Sprintf("%s does not match the attested digest", s.Name)
		}
	}
	return true, ""
}

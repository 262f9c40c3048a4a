// Package ledger is mlsec's provenance ledger: an append-only,
// tamper-evident log of events in a model's life (who did what to which
// model, how, when and why).
//
// Each event is a canonical JSON record (sorted keys, no insignificant
// space). Records are the leaves of an RFC 6962 Merkle tree computed with
// golang.org/x/mod/sumdb/tlog; the tree's stored hashes live in the store
// beside the records. Every append (or batch of appends) ends with a new
// checkpoint in the C2SP tlog-checkpoint format, signed as a note
// (golang.org/x/mod/sumdb/note, Ed25519), so there is never an unsigned
// tail: rewriting records together with their stored hashes still fails
// verification without the private key.
//
// Storage is the caller's, behind the small Storage interface that
// *store.Store implements.
package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Actions a record may carry. Others are accepted when prefixed "x-".
const (
	ActionRegister    = "register"
	ActionImport      = "import"
	ActionTrain       = "train"
	ActionFineTune    = "fine-tune"
	ActionConvert     = "convert"
	ActionQuantize    = "quantize"
	ActionEvaluate    = "evaluate"
	ActionScan        = "scan"
	ActionSign        = "sign"
	ActionVerify      = "verify"
	ActionAttest      = "attest"
	ActionApprove     = "approve"
	ActionReject      = "reject"
	ActionDeploy      = "deploy"
	ActionRollback    = "rollback"
	ActionRetire      = "retire"
	ActionWaive       = "waive"
	ActionAccessGrant = "access-grant"
	ActionAccessRevok = "access-revoke"
)

// Actions lists the built-in actions.
var Actions = []string{
	ActionRegister, ActionImport, ActionTrain, ActionFineTune, ActionConvert, ActionQuantize,
	ActionEvaluate, ActionScan, ActionSign, ActionVerify, ActionAttest, ActionApprove, ActionReject,
	ActionDeploy, ActionRollback, ActionRetire, ActionWaive, ActionAccessGrant, ActionAccessRevok,
}

// derivingActions produce a new model from the inputs of kind "model".
var derivingActions = map[string]bool{
	ActionTrain: true, ActionFineTune: true, ActionConvert: true, ActionQuantize: true, ActionImport: true,
}

// Event is one ledger record. Seq and, when zero, Time are assigned by
// Append.
type Event struct {
	// Fields are in lexical order of their JSON names, at every level, so
	// encoding/json already writes the canonical key order.
	Action      string       `json:"action"`
	Actor       string       `json:"actor"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Inputs      []Input      `json:"inputs,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Seq         int64        `json:"seq"`
	Subject     Subject      `json:"subject"`
	Time        time.Time    `json:"time"`
}

// Subject is the model (or other artifact) the event is about.
type Subject struct {
	// Digest of the model file, or of its signature manifest, as "sha256:<hex>".
	Digest  string `json:"digest,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Input is something the subject was derived from or depends on.
type Input struct {
	Digest string `json:"digest,omitempty"` // sha256:<hex>, or a git commit as gitCommit:<hex>
	Kind   string `json:"kind"`             // model, dataset, code, config, other
	Ref    string `json:"ref"`              // name[@version], URI or repository@commit
}

// Attachment references evidence stored beside the ledger.
type Attachment struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Name      string `json:"name,omitempty"`
	Size      int64  `json:"size,omitempty"`
}

// Limits on one record.
const (
	MaxRecordSize  = 64 << 10
	maxListEntries = 256
)

// ErrInvalidEvent reports an event that cannot be recorded.
var ErrInvalidEvent = errors.New("invalid event")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
}

// Validate checks an event's fields (but not Seq or Time).
func (e *Event) Validate() error {
	if strings.TrimSpace(e.Actor) == "" {
		return invalid("actor is required")
	}
	if !validAction(e.Action) {
		return invalid("unknown action %q (want one of %s, or x-…)", e.Action, strings.Join(Actions, ", "))
	}
	if strings.TrimSpace(e.Subject.Name) == "" {
		return invalid("subject name is required")
	}
	if e.Subject.Digest != "" {
		if err := ValidateDigest(e.Subject.Digest); err != nil {
			return invalid("subject digest: %v", err)
		}
	}
	if len(e.Inputs) > maxListEntries || len(e.Attachments) > maxListEntries {
		return invalid("too many inputs or attachments (max %d)", maxListEntries)
	}
	for i, in := range e.Inputs {
		if in.Kind == "" || in.Ref == "" {
			return invalid("input %d: kind and ref are required", i)
		}
		if in.Digest != "" {
			if err := ValidateDigest(in.Digest); err != nil {
				return invalid("input %d digest: %v", i, err)
			}
		}
	}
	for i, a := range e.Attachments {
		if a.MediaType == "" {
			return invalid("attachment %d: media type is required", i)
		}
		if err := ValidateDigest(a.Digest); err != nil {
			return invalid("attachment %d digest: %v", i, err)
		}
	}
	return nil
}

func validAction(a string) bool {
	if slices.Contains(Actions, a) {
		return true
	}
	return strings.HasPrefix(a, "x-") && len(a) > 2 && len(a) <= 64
}

var digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "gitCommit": 40}

// ValidateDigest checks an "algorithm:hex" digest.
func ValidateDigest(d string) error {
	alg, hx, ok := strings.Cut(d, ":")
	if !ok {
		return fmt.Errorf("%q is not algorithm:hex", d)
	}
	n, known := digestHexLen[alg]
	if !known {
		return fmt.Errorf("%q: unknown algorithm %q", d, alg)
	}
	if len(hx) != n && !(alg == "gitCommit" && len(hx) == 64) {
		return fmt.Errorf("%q: want %d hex digits", d, n)
	}
	if _, err := hex.DecodeString(hx); err != nil || strings.ToLower(hx) != hx {
		return fmt.Errorf("%q: not lower-case hex", d)
	}
	return nil
}

// timePrecision is the precision of record times.
const timePrecision = time.Microsecond

// Canonical returns the event's canonical JSON encoding: object keys
// sorted, no insignificant whitespace, no HTML escaping, time in UTC
// RFC 3339 with at most microsecond precision.
func (e Event) Canonical() ([]byte, error) {
	e.Time = e.Time.UTC().Truncate(timePrecision)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseRecord decodes a stored record and checks that it is canonical
// and within limits.
func ParseRecord(data []byte) (Event, error) {
	var e Event
	if len(data) > MaxRecordSize {
		return e, fmt.Errorf("record is %d bytes (max %d)", len(data), MaxRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("decode record: %w", err)
	}
	if dec.More() {
		return e, errors.New("decode record: trailing data")
	}
	c, err := e.Canonical()
	if err != nil {
		return e, err
	}
	if !bytes.Equal(c, data) {
		return e, errors.New("record is not in canonical form")
	}
	return e, nil
}

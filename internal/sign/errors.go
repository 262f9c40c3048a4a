package sign

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a verification failure.
type Kind string

// Verification failure kinds, most specific first. The CLI gives each its
// own exit status.
const (
	KindModified  Kind = "modified"            // a signed file's content differs
	KindAdded     Kind = "added"               // a file not covered by the signature is present
	KindMissing   Kind = "missing"             // a signed file is absent
	KindPath      Kind = "unsafe-path"         // a symlink or special file in the model
	KindSignature Kind = "signature"           // the signature does not verify with this key
	KindIdentity  Kind = "identity"            // signer identity, issuer or chain of trust not accepted
	KindExpired   Kind = "expired-certificate" // a certificate outside its validity period
	KindMalformed Kind = "malformed"           // the bundle or its payload is not a valid OMS signature
)

// Sentinel errors to test with errors.Is.
var (
	ErrModified  = errors.New("model modified")
	ErrAdded     = errors.New("unsigned files present")
	ErrMissing   = errors.New("signed files missing")
	ErrPath      = errors.New("unsafe path in model")
	ErrSignature = errors.New("signature does not verify")
	ErrIdentity  = errors.New("signer not trusted")
	ErrExpired   = errors.New("certificate expired or not yet valid")
	ErrMalformed = errors.New("malformed signature bundle")
)

var kindSentinel = map[Kind]error{
	KindModified: ErrModified, KindAdded: ErrAdded, KindMissing: ErrMissing, KindPath: ErrPath,
	KindSignature: ErrSignature, KindIdentity: ErrIdentity, KindExpired: ErrExpired, KindMalformed: ErrMalformed,
}

// VerifyError is a verification failure: the model or signature is not
// acceptable (as opposed to an I/O or usage error).
type VerifyError struct {
	Kind Kind `json:"kind"`
	// Reason is a stable code within Kind, e.g. "missing-tlog-entries",
	// "wrong-predicate-type", "root-digest-mismatch".
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Diff lists files per kind when the model does not match.
	Diff *Diff `json:"files,omitempty"`
	Err  error `json:"-"`
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString(kindSentinel[e.Kind].Error())
	if e.Reason != "" {
		b.WriteString(" (" + e.Reason + ")")
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Diff != nil {
		add := func(label string, ps []string) {
			if len(ps) == 0 {
				return
			}
			shown := ps
			if len(shown) > 5 {
				shown = shown[:5]
			}
			fmt.Fprintf(&b, "; %s: %s", label, strings.Join(shown, ", "))
			if len(ps) > 5 {
				fmt.Fprintf(&b, " and %d more", len(ps)-5)
			}
		}
		add("modified", e.Diff.Modified)
		add("added", e.Diff.Added)
		add("missing", e.Diff.Missing)
	}
	return b.String()
}

// Is matches the kind's sentinel.
func (e *VerifyError) Is(target error) bool { return kindSentinel[e.Kind] == target }

// Unwrap returns the underlying cause, if any.
func (e *VerifyError) Unwrap() error { return e.Err }

func verr(kind Kind, reason string, err error, format string, args ...any) *VerifyError {
	return &VerifyError{Kind: kind, Reason: reason, Detail: fmt.Sprintf(format, args...), Err: err}
}

// diffError turns a non-empty diff into the most severe kind: modified,
// then missing, then added.
func diffError(d Diff) *VerifyError {
	e := &VerifyError{Diff: &d}
	switch {
	case len(d.Modified) > 0:
		e.Kind = KindModified
	case len(d.Missing) > 0:
		e.Kind = KindMissing
	default:
		e.Kind = KindAdded
	}
	return e
}

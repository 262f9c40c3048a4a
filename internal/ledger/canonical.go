package ledger

import (
	"strconv"
	"unicode/utf8"
)

// appendCanonical appends e's canonical encoding, exactly as Canonical
// writes it with encoding/json (FuzzAppendCanonical checks that), without
// reflection or allocation. e.Time must already be UTC and truncated.
// The verify workers use it; Canonical stays the definition.
func appendCanonical(b []byte, e *Event) ([]byte, error) {
	b = append(b, `{"action":`...)
	b = appendJSONString(b, e.Action)
	b = append(b, `,"actor":`...)
	b = appendJSONString(b, e.Actor)
	if len(e.Attachments) > 0 {
		b = append(b, `,"attachments":[`...)
		for i := range e.Attachments {
			a := &e.Attachments[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"digest":`...)
			b = appendJSONString(b, a.Digest)
			b = append(b, `,"mediaType":`...)
			b = appendJSONString(b, a.MediaType)
			if a.Name != "" {
				b = append(b, `,"name":`...)
				b = appendJSONString(b, a.Name)
			}
			if a.Size != 0 {
				b = append(b, `,"size":`...)
				b = strconv.AppendInt(b, a.Size, 10)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(e.Inputs) > 0 {
		b = append(b, `,"inputs":[`...)
		for i := range e.Inputs {
			in := &e.Inputs[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if in.Digest != "" {
				b = append(b, `"digest":`...)
				b = appendJSONString(b, in.Digest)
				b = append(b, ',')
			}
			b = append(b, `"kind":`...)
			b = appendJSONString(b, in.Kind)
			b = append(b, `,"ref":`...)
			b = appendJSONString(b, in.Ref)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason)
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"subject":{`...)
	if e.Subject.Digest != "" {
		b = append(b, `"digest":`...)
		b = appendJSONString(b, e.Subject.Digest)
		b = append(b, ',')
	}
	b = append(b, `"name":`...)
	b = appendJSONString(b, e.Subject.Name)
	if e.Subject.Version != "" {
		b = append(b, `,"version":`...)
		b = appendJSONString(b, e.Subject.Version)
	}
	b = append(b, `},"time":"`...)
	b, err := e.Time.AppendText(b) // RFC 3339, as Time.MarshalJSON
	if err != nil {
		return b, err
	}
	return append(b, `"}`...), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does without HTML escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

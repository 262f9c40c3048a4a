package notebook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/mlsec/mlsec/internal/scan"
)

// ErrNotNotebook is returned for JSON that is not a Jupyter notebook.
var ErrNotNotebook = errors.New("not a Jupyter notebook")

// Limits bound the parser. Exceeding MaxBytes, MaxCells or MaxOutputs is an
// error wrapping scan.ErrLimit; a text longer than MaxText is cut (and the
// Text marked Truncated); blobs above MaxBlob are measured, not decoded.
type Limits struct {
	MaxBytes   int64
	MaxCells   int
	MaxOutputs int
	MaxText    int
	MaxBlob    int
}

// DefaultLimits suit real notebooks (embedded plots make them large).
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 30, MaxCells: 100_000, MaxOutputs: 10_000, MaxText: 32 << 20, MaxBlob: 64 << 20}
}

// Notebook is what the parser learned about the document as a whole.
type Notebook struct {
	// Major and Minor are nbformat and nbformat_minor (0 if absent).
	Major, Minor int
	Cells        int
}

// Text is one text field (a cell's source, an output's text): the strings
// of its JSON list joined, with the file line each came from.
type Text struct {
	// Pointer is the JSON pointer of the field ("/cells/3/source").
	Pointer string
	// MIME is the output MIME type ("text/plain"), "" for sources and streams.
	MIME      string
	S         string
	Truncated bool
	segs      []seg
}

type seg struct{ off, line int }

// FileLine returns the 1-based line of the notebook file holding byte off of
// the text.
func (t *Text) FileLine(off int) int {
	i := sort.Search(len(t.segs), func(i int) bool { return t.segs[i].off > off }) - 1
	if i < 0 {
		if len(t.segs) == 0 {
			return 0
		}
		i = 0
	}
	return t.segs[i].line
}

// CellLine returns the 1-based line within the text holding byte off.
func (t *Text) CellLine(off int) int {
	if off > len(t.S) {
		off = len(t.S)
	}
	return strings.Count(t.S[:off], "\n") + 1
}

// Blob is base64 content of an output or attachment (an image, a binary
// MIME type).
type Blob struct {
	Pointer string
	MIME    string
	Line    int
	// Encoded is the length of the JSON string; Head the first decoded
	// bytes; Data the whole decoded content when it was kept (binary MIME
	// types, and images whose bytes are not that image format).
	Encoded int
	Head    []byte
	Data    []byte
	// Undecodable is set when the content is not valid base64.
	Undecodable bool
}

// Output is one output of a code cell.
type Output struct {
	Index   int
	Pointer string
	Type    string
	Texts   []*Text
	Blobs   []*Blob
}

// Cell is one cell with everything the analysis needs.
type Cell struct {
	// Index counts cells from 0 across the notebook (and nbformat 3
	// worksheets).
	Index       int
	Pointer     string
	Type        string
	Source      *Text
	Outputs     []*Output
	Attachments []*Blob
}

// lineReader counts newlines in what the decoder has read, so that byte
// offsets can be turned into file lines. Offsets are asked for in
// increasing order; newlines before the last one asked are dropped.
type lineReader struct {
	r     io.Reader
	pos   int64
	max   int64
	nls   []int64
	head  int
	lines int
}

func (l *lineReader) Read(p []byte) (int, error) {
	if l.max > 0 {
		if l.pos > l.max {
			return 0, fmt.Errorf("%w: notebook larger than %d bytes", scan.ErrLimit, l.max)
		}
		if rem := l.max + 1 - l.pos; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := l.r.Read(p)
	b := p[:n]
	base := l.pos
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		l.nls = append(l.nls, base+int64(i))
		base += int64(i + 1)
		b = b[i+1:]
	}
	l.pos += int64(n)
	return n, err
}

func (l *lineReader) lineAt(off int64) int {
	for l.head < len(l.nls) && l.nls[l.head] < off {
		l.head++
		l.lines++
	}
	if l.head > 4096 && l.head*2 > len(l.nls) {
		l.nls = append(l.nls[:0], l.nls[l.head:]...)
		l.head = 0
	}
	return l.lines + 1
}

type parser struct {
	ctx   context.Context
	dec   *jsontext.Decoder
	lr    *lineReader
	lim   Limits
	nb    Notebook
	cells int
	fn    func(*Cell) error
	// buf is reused by text to join a multiline string's pieces.
	buf []byte
}

// Parse streams a notebook (nbformat 4, or 3 with worksheets) and calls fn
// for each cell in order. Unknown members are skipped; a cell is handed over
// as soon as it is complete, so the findings of the cells before a syntax
// error are kept by the caller.
func Parse(ctx context.Context, r io.Reader, lim Limits, fn func(*Cell) error) (Notebook, error) {
	lr := &lineReader{r: r, max: lim.MaxBytes}
	p := &parser{ctx: ctx, lr: lr, lim: lim, fn: fn,
		dec: jsontext.NewDecoder(lr, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))}
	err := p.top()
	p.nb.Cells = p.cells
	if err != nil {
		return p.nb, err
	}
	return p.nb, nil
}

func (p *parser) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, scan.ErrLimit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("malformed notebook JSON near byte %d: %w", p.dec.InputOffset(), err)
	}
	return err
}

func (p *parser) top() error {
	if p.dec.PeekKind() != '{' {
		if _, err := p.dec.ReadToken(); err != nil {
			return p.wrap(err)
		}
		return ErrNotNotebook
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return p.wrap(err)
	}
	seen := false
	for p.dec.PeekKind() != '}' {
		key, err := p.key()
		if err != nil {
			return err
		}
		switch key {
		case "cells":
			seen = true
			if err := p.cellList("/cells"); err != nil {
				return err
			}
		case "worksheets":
			seen = true
			if err := p.worksheets(); err != nil {
				return err
			}
		case "nbformat", "nbformat_minor":
			n, err := p.int()
			if err != nil {
				return err
			}
			if key == "nbformat" {
				p.nb.Major = n
			} else {
				p.nb.Minor = n
			}
		default:
			if err := p.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return p.wrap(err)
	}
	if !seen && p.nb.Major == 0 {
		return ErrNotNotebook
	}
	return nil
}

func (p *parser) key() (string, error) {
	t, err := p.dec.ReadToken()
	if err != nil {
		return "", p.wrap(err)
	}
	return t.String(), nil
}

func (p *parser) skip() error { return p.wrap(p.dec.SkipValue()) }

func (p *parser) int() (int, error) {
	if p.dec.PeekKind() != '0' {
		return 0, p.skip()
	}
	t, err := p.dec.ReadToken()
	if err != nil {
		return 0, p.wrap(err)
	}
	n, err := strconv.Atoi(t.String())
	if err != nil {
		return 0, nil
	}
	return n, nil
}

// array calls each for every element of an array (anything else is skipped).
func (p *parser) array(each func(i int) error) error {
	if p.dec.PeekKind() != '[' {
		return p.skip()
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return p.wrap(err)
	}
	for i := 0; p.dec.PeekKind() != ']'; i++ {
		if p.dec.PeekKind() == 0 {
			_, err := p.dec.ReadToken()
			return p.wrap(err)
		}
		if err := each(i); err != nil {
			return err
		}
	}
	_, err := p.dec.ReadToken()
	return p.wrap(err)
}

// object calls each for every member of an object (anything else is skipped).
func (p *parser) object(each func(key string) error) error {
	if p.dec.PeekKind() != '{' {
		return p.skip()
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return p.wrap(err)
	}
	for p.dec.PeekKind() != '}' {
		if p.dec.PeekKind() == 0 {
			_, err := p.dec.ReadToken()
			return p.wrap(err)
		}
		k, err := p.key()
		if err != nil {
			return err
		}
		if err := each(k); err != nil {
			return err
		}
	}
	_, err := p.dec.ReadToken()
	return p.wrap(err)
}

func (p *parser) worksheets() error {
	return p.array(func(i int) error {
		return p.object(func(k string) error {
			if k == "cells" {
				return p.cellList(fmt.Sprintf("/worksheets/%d/cells", i))
			}
			return p.skip()
		})
	})
}

func (p *parser) cellList(prefix string) error {
	return p.array(func(i int) error {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if p.cells >= p.lim.MaxCells {
			return fmt.Errorf("%w: more than %d cells", scan.ErrLimit, p.lim.MaxCells)
		}
		c := &Cell{Index: p.cells, Pointer: fmt.Sprintf("%s/%d", prefix, i)}
		p.cells++
		if err := p.cell(c); err != nil {
			return err
		}
		return p.fn(c)
	})
}

func (p *parser) cell(c *Cell) error {
	return p.object(func(k string) error {
		switch k {
		case "cell_type":
			s, err := p.str()
			c.Type = s
			return err
		case "source", "input":
			t, err := p.text(c.Pointer+"/"+k, "", false)
			if t != nil && (c.Source == nil || k == "input") {
				c.Source = t
			}
			return err
		case "outputs":
			return p.array(func(i int) error {
				if i >= p.lim.MaxOutputs {
					return fmt.Errorf("%w: cell %d has more than %d outputs", scan.ErrLimit, c.Index, p.lim.MaxOutputs)
				}
				o := &Output{Index: i, Pointer: fmt.Sprintf("%s/outputs/%d", c.Pointer, i)}
				if err := p.output(o); err != nil {
					return err
				}
				c.Outputs = append(c.Outputs, o)
				return nil
			})
		case "attachments":
			return p.object(func(name string) error {
				base := c.Pointer + "/attachments/" + escape(name)
				return p.object(func(mime string) error {
					b, err := p.blob(base+"/"+escape(mime), mime)
					if b != nil {
						c.Attachments = append(c.Attachments, b)
					}
					return err
				})
			})
		}
		return p.skip()
	})
}

// str reads a string (or skips anything else, returning "").
func (p *parser) str() (string, error) {
	if p.dec.PeekKind() != '"' {
		return "", p.skip()
	}
	t, err := p.dec.ReadToken()
	if err != nil {
		return "", p.wrap(err)
	}
	return t.String(), nil
}

// v3 output keys that hold a MIME representation.
var v3MIME = map[string]string{
	"text": "text/plain", "html": "text/html", "svg": "image/svg+xml", "latex": "text/latex",
	"json": "application/json", "javascript": "application/javascript", "markdown": "text/markdown",
	"png": "image/png", "jpeg": "image/jpeg",
}

func (p *parser) output(o *Output) error {
	return p.object(func(k string) error {
		ptr := o.Pointer + "/" + escape(k)
		switch k {
		case "output_type":
			s, err := p.str()
			o.Type = s
			return err
		case "text":
			t, err := p.text(ptr, "", false)
			if t != nil {
				o.Texts = append(o.Texts, t)
			}
			return err
		case "traceback", "evalue":
			t, err := p.text(ptr, "", true)
			if t != nil {
				o.Texts = append(o.Texts, t)
			}
			return err
		case "data":
			return p.object(func(mime string) error {
				return p.mimeValue(o, o.Pointer+"/data/"+escape(mime), mime)
			})
		}
		if mime, ok := v3MIME[k]; ok {
			return p.mimeValue(o, ptr, mime)
		}
		return p.skip()
	})
}

func isImage(mime string) bool {
	return strings.HasPrefix(mime, "image/") && !strings.HasPrefix(mime, "image/svg")
}

func isTextMIME(mime string) bool {
	switch {
	case strings.HasPrefix(mime, "text/"), strings.HasPrefix(mime, "image/svg"),
		mime == "application/json", mime == "application/javascript",
		strings.HasSuffix(mime, "+json"), strings.HasSuffix(mime, "+xml"):
		return true
	}
	return false
}

func (p *parser) mimeValue(o *Output, ptr, mime string) error {
	switch {
	case isImage(mime) || !isTextMIME(mime) && p.dec.PeekKind() == '"':
		b, err := p.blob(ptr, mime)
		if b != nil {
			o.Blobs = append(o.Blobs, b)
		}
		return err
	case p.dec.PeekKind() == '{':
		// application/json and widget state: scan the raw JSON as text.
		v, err := p.dec.ReadValue()
		if err != nil {
			return p.wrap(err)
		}
		line := p.lr.lineAt(p.dec.InputOffset() - int64(len(v)))
		s := string(v)
		t := &Text{Pointer: ptr, MIME: mime, segs: []seg{{0, line}}}
		if len(s) > p.lim.MaxText {
			s, t.Truncated = s[:p.lim.MaxText], true
		}
		t.S = s
		o.Texts = append(o.Texts, t)
		return nil
	}
	t, err := p.text(ptr, mime, false)
	if t != nil {
		o.Texts = append(o.Texts, t)
	}
	return err
}

// text reads a string or a list of strings (nbformat's multiline string).
func (p *parser) text(ptr, mime string, ansi bool) (*Text, error) {
	k := p.dec.PeekKind()
	if k != '"' && k != '[' {
		return nil, p.skip()
	}
	t := &Text{Pointer: ptr, MIME: mime}
	buf := p.buf[:0]
	defer func() { p.buf = buf[:0] }()
	add := func() error {
		v, err := p.dec.ReadValue()
		if err != nil {
			return p.wrap(err)
		}
		line := p.lr.lineAt(p.dec.InputOffset())
		if t.Truncated {
			return nil
		}
		if len(buf)+len(v) > p.lim.MaxText {
			t.Truncated = true
			return nil
		}
		start := len(buf)
		t.segs = append(t.segs, seg{start, line})
		buf, err = jsontext.AppendUnquote(buf, v)
		if err != nil {
			buf = buf[:start]
			t.segs = t.segs[:len(t.segs)-1]
			return nil
		}
		if ansi {
			buf = append(buf[:start], stripANSI(buf[start:])...)
		}
		return nil
	}
	if k == '"' {
		if err := add(); err != nil {
			return nil, err
		}
	} else {
		err := p.array(func(int) error {
			if p.dec.PeekKind() != '"' {
				return p.skip()
			}
			if err := add(); err != nil {
				return err
			}
			if ansi && len(buf) > 0 && buf[len(buf)-1] != '\n' {
				// Traceback entries are separate lines.
				buf = append(buf, '\n')
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	t.S = string(buf)
	return t, nil
}

// stripANSI removes terminal escape sequences (CSI ... letter) from
// tracebacks.
func stripANSI(b []byte) []byte {
	if bytes.IndexByte(b, 0x1b) < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ';' || b[j] == '?') {
				j++
			}
			if j < len(b) {
				i = j
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// blob reads a base64 string: it always decodes a head; it keeps the whole
// decoded content for binary MIME types and for images whose head is not
// that image format (a disguised payload), up to MaxBlob.
func (p *parser) blob(ptr, mime string) (*Blob, error) {
	if p.dec.PeekKind() != '"' {
		return nil, p.skip()
	}
	v, err := p.dec.ReadValue()
	if err != nil {
		return nil, p.wrap(err)
	}
	b := &Blob{Pointer: ptr, MIME: mime, Line: p.lr.lineAt(p.dec.InputOffset()), Encoded: len(v)}
	b.Head, b.Undecodable = b64Head(v, 48)
	keep := !isImage(mime) || !imageMagic(mime, b.Head)
	if keep && !b.Undecodable && len(v) <= p.lim.MaxBlob*4/3+64 {
		if raw, err := jsontext.AppendUnquote(nil, v); err == nil {
			b.Data, _ = decodeB64(raw)
		}
	}
	return b, nil
}

// b64Head decodes the first n bytes of a base64 JSON string value without
// unquoting all of it (escaped line breaks and "\/" are allowed).
func b64Head(v []byte, n int) ([]byte, bool) {
	chars := make([]byte, 0, (n+2)/3*4)
	for i := 1; i < len(v)-1 && len(chars) < cap(chars); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v)-1 {
			i++
			switch v[i] {
			case '/':
				chars = append(chars, '/')
			case 'n', 'r', 't':
			case 'u':
				i += 4
			default:
				return nil, true
			}
			continue
		}
		switch {
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
		case c == '=':
			i = len(v)
		case isB64(c):
			chars = append(chars, c)
		default:
			return nil, true
		}
	}
	chars = chars[:len(chars)/4*4]
	out, err := base64.StdEncoding.DecodeString(string(chars))
	if err != nil {
		out, err = base64.URLEncoding.DecodeString(string(chars))
		if err != nil {
			return nil, true
		}
	}
	return out, false
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

// decodeB64 decodes standard or URL-safe base64, padded or not, ignoring
// white space.
func decodeB64(s []byte) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for _, c := range s {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			clean = append(clean, c)
		}
	}
	trimmed := bytes.TrimRight(clean, "=")
	out, err := base64.RawStdEncoding.DecodeString(string(trimmed))
	if err != nil {
		out, err = base64.RawURLEncoding.DecodeString(string(trimmed))
	}
	return out, err
}

func imageMagic(mime string, h []byte) bool {
	switch mime {
	case "image/png":
		return bytes.HasPrefix(h, []byte("\x89PNG\r\n\x1a\n"))
	case "image/jpeg", "image/jpg":
		return bytes.HasPrefix(h, []byte{0xff, 0xd8, 0xff})
	case "image/gif":
		return bytes.HasPrefix(h, []byte("GIF8"))
	case "image/bmp":
		return bytes.HasPrefix(h, []byte("BM"))
	case "image/webp":
		return len(h) >= 12 && bytes.HasPrefix(h, []byte("RIFF")) && string(h[8:12]) == "WEBP"
	case "image/tiff":
		return bytes.HasPrefix(h, []byte("II*\x00")) || bytes.HasPrefix(h, []byte("MM\x00*"))
	}
	// Other image types: accept any content we do not recognise as a payload.
	return payloadKind(h) == ""
}

// escape makes a JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

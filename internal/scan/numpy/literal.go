package numpy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The .npy header is a Python dict literal that numpy reads with
// ast.literal_eval. This is a parser for the subset numpy writes (dicts,
// tuples, lists, strings, integers, booleans, None): bounded in depth and
// size, and nothing is ever evaluated.

const (
	maxLiteralDepth = 32
	maxLiteralItems = 1 << 16
)

// lit is a parsed literal: string, int64, bool, nil, []any (list or
// tuple) or *litDict.
type lit = any

type litDict struct {
	keys []string
	vals map[string]lit
}

type litParser struct {
	s     string
	p     int
	items int
}

var errLiteral = errors.New("invalid header literal")

func parseLiteral(s string) (lit, error) {
	lp := &litParser{s: s}
	v, err := lp.value(0)
	if err != nil {
		return nil, err
	}
	lp.space()
	if lp.p != len(lp.s) {
		return nil, fmt.Errorf("%w: trailing text at %d", errLiteral, lp.p)
	}
	return v, nil
}

func (lp *litParser) space() {
	for lp.p < len(lp.s) && strings.IndexByte(" \t\r\n\x00", lp.s[lp.p]) >= 0 {
		lp.p++
	}
}

func (lp *litParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errLiteral, what, lp.p)
}

func (lp *litParser) value(depth int) (lit, error) {
	if depth > maxLiteralDepth {
		return nil, lp.fail("nesting too deep")
	}
	lp.items++
	if lp.items > maxLiteralItems {
		return nil, lp.fail("too many items")
	}
	lp.space()
	if lp.p >= len(lp.s) {
		return nil, lp.fail("unexpected end")
	}
	switch c := lp.s[lp.p]; {
	case c == '{':
		return lp.dict(depth)
	case c == '(':
		return lp.seq(depth, ')')
	case c == '[':
		return lp.seq(depth, ']')
	case c == '\'' || c == '"':
		return lp.str()
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		return lp.int()
	default:
		for _, kw := range []struct {
			s string
			v lit
		}{{"True", true}, {"False", false}, {"None", nil}} {
			if strings.HasPrefix(lp.s[lp.p:], kw.s) {
				lp.p += len(kw.s)
				return kw.v, nil
			}
		}
		return nil, lp.fail("unexpected character")
	}
}

func (lp *litParser) dict(depth int) (lit, error) {
	lp.p++ // {
	d := &litDict{vals: map[string]lit{}}
	for {
		lp.space()
		if lp.p < len(lp.s) && lp.s[lp.p] == '}' {
			lp.p++
			return d, nil
		}
		k, err := lp.value(depth + 1)
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, lp.fail("non-string dict key")
		}
		lp.space()
		if lp.p >= len(lp.s) || lp.s[lp.p] != ':' {
			return nil, lp.fail("expected ':'")
		}
		lp.p++
		v, err := lp.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := d.vals[ks]; !dup {
			d.keys = append(d.keys, ks)
		}
		d.vals[ks] = v
		lp.space()
		if lp.p < len(lp.s) && lp.s[lp.p] == ',' {
			lp.p++
			continue
		}
		if lp.p < len(lp.s) && lp.s[lp.p] == '}' {
			continue
		}
		return nil, lp.fail("expected ',' or '}'")
	}
}

func (lp *litParser) seq(depth int, end byte) (lit, error) {
	lp.p++
	out := []any{}
	for {
		lp.space()
		if lp.p < len(lp.s) && lp.s[lp.p] == end {
			lp.p++
			return out, nil
		}
		v, err := lp.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		lp.space()
		if lp.p < len(lp.s) && lp.s[lp.p] == ',' {
			lp.p++
			continue
		}
		if lp.p < len(lp.s) && lp.s[lp.p] == end {
			continue
		}
		return nil, lp.fail("expected ',' or closing bracket")
	}
}

func (lp *litParser) str() (lit, error) {
	q := lp.s[lp.p]
	lp.p++
	var b strings.Builder
	for lp.p < len(lp.s) {
		c := lp.s[lp.p]
		switch {
		case c == q:
			lp.p++
			return b.String(), nil
		case c == '\\' && lp.p+1 < len(lp.s):
			e := lp.s[lp.p+1]
			lp.p += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			default:
				b.WriteByte(e)
			}
		case c == '\n':
			return nil, lp.fail("newline in string")
		default:
			b.WriteByte(c)
			lp.p++
		}
	}
	return nil, lp.fail("unterminated string")
}

func (lp *litParser) int() (lit, error) {
	start := lp.p
	if lp.s[lp.p] == '-' || lp.s[lp.p] == '+' {
		lp.p++
	}
	for lp.p < len(lp.s) && lp.s[lp.p] >= '0' && lp.s[lp.p] <= '9' {
		lp.p++
	}
	txt := lp.s[start:lp.p]
	if lp.p < len(lp.s) && (lp.s[lp.p] == 'L' || lp.s[lp.p] == 'l') { // Python 2 long
		lp.p++
	}
	v, err := strconv.ParseInt(txt, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return int64(math.MaxInt64), nil // an impossible size, caught later
		}
		return nil, lp.fail("bad integer")
	}
	return v, nil
}

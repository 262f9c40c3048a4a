// Package pickle analyses Python pickle streams without executing them: a
// bounded disassembler for protocols 0–5, a symbolic stack machine that
// records every import and call with its arguments, and an allow-list
// policy (safe, dangerous, unaudited) that turns them into findings. It
// also serves `mlsec inspect` with an opcode listing and a decompiler.
//
// The opcode semantics follow CPython's Lib/pickle.py (_Unpickler) and the
// opcode reference in Lib/pickletools.py.
package pickle

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strings"

	"github.com/mlsec/mlsec/internal/scan"
)

// Scanner is the pickle format scanner. It detects pickles by content, so
// it belongs last in the registry (after every format with magic bytes).
type Scanner struct {
	opts Options
}

// New returns the pickle scanner.
func New(opts Options) scan.Scanner {
	opts.policy = NewPolicy(opts.ExtraSafe)
	return &Scanner{opts: opts}
}

// Name implements scan.Scanner.
func (*Scanner) Name() string { return "pickle" }

// Match implements scan.Scanner: the head must decode as a pickle.
func (s *Scanner) Match(f scan.FileInfo) bool { return LooksLikePickle(f.Head, f.Size) }

// Scan implements scan.Scanner.
func (s *Scanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	r := bufio.NewReaderSize(in.Open(), scan.ReadBufferSize(in.Size, 256<<10))
	res, _ := ScanReader(ctx, in, "", r, s.opts)
	return res, nil
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// LooksLikePickle decides from the first bytes of a file (size is the
// whole size, or -1 when unknown) whether it is a pickle stream: a
// protocol 2+ header followed by valid opcodes, or, for protocols 0 and 1,
// a trial run of the symbolic machine that reaches STOP or performs a
// structured sequence (imports, marks, memo) without error. Text (README,
// JSON, CSV, YAML, source code) fails the trial within a few bytes.
func LooksLikePickle(head []byte, size int64) bool {
	if len(head) < 2 || OpcodeName(head[0]) == "" {
		return false
	}
	whole := size >= 0 && int64(len(head)) >= size
	var (
		ops, structure, calls int
		badName               bool
	)
	opts := Options{
		Limits: Limits{MaxOps: trialOps, MaxKeep: int64(len(head)) + 1, MaxPickles: 4, MaxNesting: 1},
		onOp: func(op Op, depth, nest int) {
			if nest > 0 {
				return
			}
			ops++
			switch op.Code {
			case opGLOBAL, opINST:
				ref, _ := op.Arg.(GlobalRef)
				if !identRe.MatchString(ref.Module) || !identRe.MatchString(ref.Name) {
					badName = true
				}
				structure++
			case opMARK, opPUT, opBINPUT, opLONG_BINPUT, opMEMOIZE, opSTACK_GLOBAL, opEMPTY_DICT, opEMPTY_LIST,
				opEMPTY_TUPLE, opPROTO, opFRAME:
				structure++
			case opREDUCE, opBUILD, opNEWOBJ, opOBJ, opNEWOBJ_EX:
				calls++
			}
		},
		policy: defaultPolicy,
	}
	a, err := Analyze(context.Background(), bytes.NewReader(head), opts)
	if err != nil || badName || ops == 0 {
		return false
	}
	stopped := len(a.Pickles) > 0 && a.Pickles[0].Complete
	if !stopped && ops >= trialOps && len(a.Pickles) > 0 && strings.Contains(a.Pickles[0].Error, "limit exceeded") {
		// A long run of valid opcodes: as good as reaching the end of the head.
		return structure >= 2 && (head[0] != opPROTO || (head[1] >= 2 && head[1] <= 5))
	}
	truncated := len(a.Pickles) > 0 && !stopped && a.Pickles[0].Error == ErrTruncated.Error() && !whole
	if head[0] == opPROTO {
		if head[1] < 2 || head[1] > 5 {
			return false
		}
		return stopped || ops >= 3 || structure >= 2
	}
	switch {
	case stopped:
		// "N." alone is a pickle; "N.B. see below" is text.
		return ops >= 4 || len(a.Gaps) == 0 || (!whole && len(a.Pickles) > 1 && a.Pickles[len(a.Pickles)-1].Error == ErrTruncated.Error())
	case truncated:
		return ops >= 8 && structure >= 2
	default:
		// Broken after a payload (nullifAI): an import that was called.
		return structure >= 1 && calls >= 1 && ops >= 4
	}
}

var defaultPolicy = NewPolicy(nil)

// trialOps is how many opcodes detection runs before deciding.
const trialOps = 256

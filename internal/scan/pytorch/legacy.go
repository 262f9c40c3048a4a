package pytorch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/pickle"
)

// Legacy scans PyTorch's legacy (non-zip, pre-1.6) torch.save format: the
// pickles magic number, protocol version, sys_info, the object and the
// storage keys, then for each storage an 8-byte little-endian element
// count and the raw bytes. The pickles go to the pickle engine; the
// storage records are walked by their headers without reading their data,
// and bytes they do not explain are a gap (and are analysed as pickles in
// case something hides there).
type Legacy struct {
	opts pickle.Options
}

// NewLegacy returns the legacy-format scanner. It belongs before the
// pickle scanner in the registry: its files are pickles too.
func NewLegacy(opts pickle.Options) *Legacy { return &Legacy{opts: opts} }

// Name implements scan.Scanner.
func (*Legacy) Name() string { return "pytorch-legacy" }

// magicLE is torch.serialization.MAGIC_NUMBER (0x1950a86a20f9469cfc6c) as
// LONG1 writes it: little-endian two's complement, 10 bytes.
var magicLE = []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// magicText is the same number as protocols 0 and 1 write it.
const magicText = "L119547037146038801333356L\n"

// Match implements scan.Scanner: the first pickle must be exactly the
// magic number (any protocol, with or without a frame or memo entry).
func (*Legacy) Match(f scan.FileInfo) bool { return legacyMagicLen(f.Head) > 0 }

// legacyMagicLen returns the length of the magic-number pickle at the
// start of h, or 0.
func legacyMagicLen(h []byte) int {
	p := 0
	if len(h) >= 2 && h[0] == 0x80 {
		if h[1] < 2 || h[1] > 5 {
			return 0
		}
		p = 2
		if len(h) >= p+9 && h[p] == 0x95 { // FRAME
			p += 9
		}
		if len(h) < p+2+len(magicLE) || h[p] != 0x8a || h[p+1] != 10 || !bytes.Equal(h[p+2:p+12], magicLE) {
			return 0
		}
		p += 12
	} else {
		if !bytes.HasPrefix(h, []byte(magicText)) {
			return 0
		}
		p = len(magicText)
	}
	// An optional memo store before STOP.
	switch {
	case p < len(h) && h[p] == 0x94: // MEMOIZE
		p++
	case p+1 < len(h) && h[p] == 'q': // BINPUT
		p += 2
	case p < len(h) && h[p] == 'p': // PUT n\n
		if i := bytes.IndexByte(h[p:min(len(h), p+12)], '\n'); i > 0 {
			p += i + 1
		}
	}
	if p < len(h) && h[p] == '.' {
		return p + 1
	}
	return 0
}

// Scan implements scan.Scanner.
func (l *Legacy) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	opts := l.opts
	opts.TrailingOK = true
	if in.Size < 0 {
		res, _ := pickle.ScanReader(ctx, in, "", bufio.NewReaderSize(in.Open(), scan.ReadBufferSize(in.Size, 256<<10)), opts)
		res.Format = "pytorch-legacy"
		return res, nil
	}
	// The pickles come first and are usually small; the storages after
	// them can be gigabytes the pickle engine would read through. Analyse
	// growing prefixes until one holds all five pickles.
	var (
		res scan.Result
		top []pickle.PickleInfo
	)
	for _, w := range []int64{1 << 20, 64 << 20, in.Size} {
		w = min(w, in.Size)
		var a *pickle.Analysis
		res, a = pickle.ScanReader(ctx, in, "", bufio.NewReaderSize(io.NewSectionReader(in.R, 0, w), scan.ReadBufferSize(w, 256<<10)), opts)
		top = top[:0]
		for _, p := range a.Pickles {
			if p.Nested == "" && p.Complete {
				top = append(top, p)
			}
		}
		if len(top) >= 5 || w == in.Size || ctx.Err() != nil {
			break
		}
	}
	res.Format = "pytorch-legacy"
	if len(top) < 5 {
		res.Gap("%s: legacy PyTorch file holds %d of its 5 pickles", where(in), len(top))
		return res, nil
	}
	end := top[4].End
	keys, ok := storageKeys(top[4].Result)
	if !ok {
		res.Gap("%s: storage key list not understood: storage data after offset %d not verified", where(in), end)
		return res, nil
	}
	sizes := elementSizes(ctx, bufio.NewReaderSize(io.NewSectionReader(in.R, top[3].Offset, top[3].End-top[3].Offset), 64<<10), opts, 4_000_000)
	n, complete := walkStorages(ctx, in.R, end, in.Size, keys, sizes)
	if !complete {
		res.Gap("%s: storage records do not account for the data after offset %d", where(in), end)
		return res, nil
	}
	if rest := in.Size - n; rest > 0 {
		res.Gap("%s: %d bytes after the last storage were not parsed", where(in), rest)
		sub, _ := pickle.ScanReader(ctx, in, "<trailing data>", io.NewSectionReader(in.R, n, rest), opts)
		res.Add(sub.Findings...)
	}
	return res, nil
}

func where(in *scan.Input) string {
	if in.Member != "" {
		return in.Member
	}
	return in.Name
}

// storageKeys reads the fifth pickle: a list of storage key strings.
func storageKeys(v pickle.Value) ([]string, bool) {
	seq, ok := v.(*pickle.Seq)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(seq.Items))
	for _, it := range seq.Items {
		s, ok := it.(*pickle.Str)
		if !ok {
			return nil, false
		}
		out = append(out, s.S)
	}
	return out, true
}

var storageElemSize = map[string]int64{
	"DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
	"BoolStorage": 1, "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
	"QUInt8Storage": 1, "QInt8Storage": 1, "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1,
	"UntypedStorage": 1, "Float8_e4m3fnStorage": 1, "Float8_e5m2Storage": 1,
}

// elementSizes maps storage keys to element sizes by reading the object
// pickle's opcodes: each persistent id is the tuple ('storage',
// torch.XStorage, key, location, numel), so a storage type (a GLOBAL, or a
// memo GET of one) is followed by the key string.
func elementSizes(ctx context.Context, r io.Reader, opts pickle.Options, maxOps int) map[string]int64 {
	ops, omitted, _, err := pickle.Disassemble(ctx, r, opts, maxOps)
	if err != nil || omitted > 0 {
		return nil
	}
	out := map[string]int64{}
	memo := map[string]int64{}
	var pending, last int64 // storage type just pushed; value of the previous op
	memoCount := 0
	var strs []string // recent string arguments (STACK_GLOBAL takes two)
	for _, op := range ops {
		if op.Nest > 0 {
			continue
		}
		switch op.Op {
		case "GLOBAL":
			var mod, name string
			if _, err := fmt.Sscanf(op.Arg, "%q %q", &mod, &name); err == nil && mod == "torch" {
				last = storageElemSize[name]
			} else {
				last = 0
			}
			pending = last
			continue
		case "STACK_GLOBAL":
			last = 0
			if n := len(strs); n >= 2 && strs[n-2] == "torch" {
				last = storageElemSize[strs[n-1]]
			}
			pending = last
			continue
		case "PUT", "BINPUT", "LONG_BINPUT":
			if last > 0 {
				memo[op.Arg] = last
			}
			continue
		case "MEMOIZE":
			if last > 0 {
				memo[strconv.Itoa(memoCount)] = last
			}
			memoCount++
			continue
		case "GET", "BINGET", "LONG_BINGET":
			last = memo[op.Arg]
			if last > 0 {
				pending = last
			}
			continue
		case "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING":
			str := op.Arg
			if len(str) >= 2 && (str[0] == '\'' || str[0] == '"') && str[len(str)-1] == str[0] {
				str = str[1 : len(str)-1]
			}
			strs = append(strs[max(0, len(strs)-1):], str)
			if pending > 0 {
				out[str] = pending
				pending = 0
			}
		}
		last = 0
	}
	return out
}

// walkStorages follows len(keys) storage records from off: an 8-byte
// element count, then count × element size bytes. Element sizes come from
// the object pickle; when one is unknown every plausible size is tried
// (bounded search). It returns the end of the last record and whether the
// records could be laid out within size.
func walkStorages(ctx context.Context, r io.ReaderAt, off, size int64, keys []string, sizes map[string]int64) (int64, bool) {
	steps := 0
	failed := map[[2]int64]bool{}
	allKnown := true
	for _, k := range keys {
		if _, ok := sizes[k]; !ok {
			allKnown = false
		}
	}
	var walk func(i int, o int64) (int64, bool)
	walk = func(i int, o int64) (int64, bool) {
		if i == len(keys) {
			return o, true
		}
		steps++
		if steps > 100_000 || ctx.Err() != nil || failed[[2]int64{int64(i), o}] {
			return 0, false
		}
		var b [8]byte
		if o+8 > size {
			return 0, false
		}
		if _, err := r.ReadAt(b[:], o); err != nil {
			return 0, false
		}
		numel := binary.LittleEndian.Uint64(b[:])
		if numel > uint64(size) {
			failed[[2]int64{int64(i), o}] = true
			return 0, false
		}
		cands := []int64{4, 2, 8, 1, 16}
		if es, ok := sizes[keys[i]]; ok {
			cands = []int64{es}
		}
		for _, es := range cands {
			next := o + 8 + int64(numel)*es
			if next > size {
				continue
			}
			// Unless every size is known, the records must end the file.
			if end, ok := walk(i+1, next); ok && (allKnown || i+1 < len(keys) || end == size) {
				return end, true
			}
		}
		failed[[2]int64{int64(i), o}] = true
		return 0, false
	}
	return walk(0, off)
}

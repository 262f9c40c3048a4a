package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

// ledgerFlags are shared by every ledger command.
type ledgerFlags struct {
	db  string
	key string
	pub string
}

func (f *ledgerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "ledger database: a SQLite `PATH` or postgres:// URL (default: mlsec.db under the user data dir)")
	cmd.Flags().StringVar(&f.key, "key", "", "private checkpoint signing key `FILE` (default: ledger.key under the user data dir)")
	cmd.Flags().StringVar(&f.pub, "pub", "", "trusted public key: a `FILE` or the key itself (default: ledger.pub beside the default key, else the key stored in the database)")
}

func defaultKeyPath() (string, error) {
	d, err := store.UserDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "mlsec", "ledger.key"), nil
}

func (f *ledgerFlags) keyPath() (string, error) {
	if f.key != "" {
		return f.key, nil
	}
	return defaultKeyPath()
}

func (f *ledgerFlags) readKey() (string, error) {
	p, err := f.keyPath()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read signing key: %w (run 'mlsec ledger init' or pass --key)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// trustedKey returns the public key given by --pub (file or literal), else
// ledger.pub beside the key, else "" (trust the stored key).
func (f *ledgerFlags) trustedKey() (string, error) {
	if f.pub != "" {
		if b, err := os.ReadFile(f.pub); err == nil {
			return strings.TrimSpace(string(b)), nil
		} else if strings.Count(f.pub, "+") == 2 {
			return f.pub, nil
		} else {
			return "", fmt.Errorf("read public key: %w", err)
		}
	}
	p, err := f.keyPath()
	if err != nil {
		return "", nil
	}
	if b, err := os.ReadFile(strings.TrimSuffix(p, ".key") + ".pub"); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func (f *ledgerFlags) openStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, f.db)
}

// open opens the ledger; withKey loads the signing key for appends.
func (f *ledgerFlags) open(ctx context.Context, withKey bool) (*ledger.Ledger, func(), error) {
	st, err := f.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	var opts []ledger.Option
	if withKey {
		k, err := f.readKey()
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		opts = append(opts, ledger.WithSignerKey(k))
	}
	l, err := ledger.Open(ctx, st, opts...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return l, func() { st.Close() }, nil
}

func newLedgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Record and prove a model's history in a tamper-evident log",
		Long: `The provenance ledger is an append-only Merkle log (RFC 6962) of events in
models' lives: who registered, trained, fine-tuned, converted, scanned,
signed, approved, deployed or retired which model, how, when and why. Every
append ends with a checkpoint signed with the ledger's Ed25519 key, so any
edit, deletion, insertion or reordering is detected by 'verify', and
'prove' produces proofs anyone can check offline with the public key.

Storage is SQLite (default, under the user data dir, or --db PATH) or
PostgreSQL (--db postgres://…).`,
	}
	cmd.AddCommand(newLedgerInitCmd(g), newLedgerRecordCmd(g), newLedgerLogCmd(g), newLedgerShowCmd(g),
		newLedgerVerifyCmd(g), newLedgerProveCmd(g), newLedgerVerifyProofCmd(g), newLedgerCheckpointCmd(g),
		newLedgerExportCmd(g), newLedgerImportVerifyCmd(g))
	return cmd
}

func newLedgerInitCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var origin string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the ledger and its checkpoint signing key",
		Long: `Create an empty ledger in --db and an Ed25519 signing key. The private key is
written to --key (mode 0600) and the public key beside it as .pub; an
existing key file is reused. Give the public key to whoever will verify.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kp, err := f.keyPath()
			if err != nil {
				return err
			}
			skey, vkey, err := loadOrCreateKey(kp, origin)
			if err != nil {
				return err
			}
			st, err := f.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := ledger.Init(ctx, st, vkey); err != nil {
				if errors.Is(err, store.ErrAlreadyInitialized) {
					if l, err2 := ledger.Open(ctx, st, ledger.WithSignerKey(skey)); err2 == nil {
						fmt.Fprintf(g.stderr, "ledger already initialised in %s with this key (%s records)\n", st, fmt.Sprint(must0(l.Size(ctx))))
						return nil
					}
				}
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stderr, "initialised ledger in %s\nsigning key: %s\npublic key:  %s\n", st, kp, strings.TrimSuffix(kp, ".key")+".pub")
			}
			fmt.Fprintln(g.stdout, vkey)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&origin, "origin", ledger.DefaultOrigin, "checkpoint origin line and key name for a new key (e.g. example.com/models)")
	return cmd
}

func must0[T any](v T, _ error) T { return v }

func loadOrCreateKey(path, origin string) (skey, vkey string, err error) {
	if b, err := os.ReadFile(path); err == nil {
		skey = strings.TrimSpace(string(b))
		pb, err := os.ReadFile(strings.TrimSuffix(path, ".key") + ".pub")
		if err != nil {
			return "", "", fmt.Errorf("key %s exists but its .pub is unreadable: %w", path, err)
		}
		if _, err := ledger.NewKeySigner(skey); err != nil {
			return "", "", fmt.Errorf("key %s: %w", path, err)
		}
		return skey, strings.TrimSpace(string(pb)), nil
	}
	skey, vkey, err = ledger.GenerateKey(origin)
	if err != nil {
		return "", "", fmt.Errorf("generate key (origin must be a name without spaces or '+'): %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write key: %w", err)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".key")+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return "", "", fmt.Errorf("write public key: %w", err)
	}
	return skey, vkey, nil
}

func defaultActor() string {
	if a := os.Getenv("MLSEC_ACTOR"); a != "" {
		return a
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host != "" {
		return name + "@" + host
	}
	return name
}

const maxAttachment = 64 << 20

func newLedgerRecordCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var ev ledger.Event
	var inputs, attach []string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Append an event to the ledger",
		Long: `Append one event: who (--actor) did what (--action) to which model
(--model, --version, --digest), from what (--input KIND=REF@DIGEST,
repeatable), and why (--reason). --attach FILE stores a file (attestation,
report, BOM) beside the ledger and references its digest. With --stdin, a
JSON event (or an array of events) is read from standard input instead.

Actions: ` + strings.Join(ledger.Actions, ", ") + `, or x-<custom>.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var evs []ledger.Event
			if stdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<20))
				if err != nil {
					return err
				}
				b = bytes.TrimSpace(b)
				if len(b) > 0 && b[0] == '[' {
					err = json.Unmarshal(b, &evs)
				} else {
					var e ledger.Event
					err = json.Unmarshal(b, &e)
					evs = []ledger.Event{e}
				}
				if err != nil {
					return usagef("event on stdin: %v", err)
				}
			} else {
				if ev.Actor == "" {
					ev.Actor = defaultActor()
				}
				for _, in := range inputs {
					x, err := parseInput(in)
					if err != nil {
						return err
					}
					ev.Inputs = append(ev.Inputs, x)
				}
				evs = []ledger.Event{ev}
			}
			l, closeFn, err := f.open(ctx, true)
			if err != nil {
				return err
			}
			defer closeFn()
			st := l.Storage().(*store.Store)
			for _, p := range attach {
				a, err := storeAttachment(ctx, st, p)
				if err != nil {
					return err
				}
				evs[0].Attachments = append(evs[0].Attachments, a)
			}
			for i := range evs {
				if evs[i].Actor == "" {
					evs[i].Actor = defaultActor()
				}
				if err := evs[i].Validate(); err != nil {
					return usagef("%v", err)
				}
			}
			first, err := l.AppendBatch(ctx, evs)
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return encodeJSON(w, map[string]int64{"index": first, "count": int64(len(evs))})
				}
				for i := range evs {
					fmt.Fprintf(w, "recorded #%d %s %s\n", first+int64(i), evs[i].Action, subjectString(evs[i].Subject))
				}
				return nil
			})
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&ev.Subject.Name, "model", "", "model name")
	fl.StringVar(&ev.Subject.Version, "version", "", "model version")
	fl.StringVar(&ev.Subject.Digest, "digest", "", "model (or signature manifest) digest, sha256:<hex>")
	fl.StringVar(&ev.Action, "action", "", "what happened (register, train, fine-tune, quantize, scan, sign, approve, deploy, …)")
	fl.StringVar(&ev.Actor, "actor", "", "who did it (default $MLSEC_ACTOR or user@host)")
	fl.StringVar(&ev.Reason, "reason", "", "why, in free text")
	fl.StringArrayVar(&inputs, "input", nil, "an input, KIND=REF[@DIGEST] (kind: model, dataset, code, config, …); repeatable")
	fl.StringArrayVar(&attach, "attach", nil, "store `FILE` beside the ledger and reference it; repeatable")
	fl.BoolVar(&stdin, "stdin", false, "read a JSON event (or array of events) from standard input")
	return cmd
}

// parseInput parses KIND=REF[@DIGEST]; a REF containing '@' keeps all but
// the last '@…' part when that part is a digest.
func parseInput(s string) (ledger.Input, error) {
	kind, rest, ok := strings.Cut(s, "=")
	if !ok || kind == "" || rest == "" {
		return ledger.Input{}, usagef("--input %q: want KIND=REF[@DIGEST]", s)
	}
	in := ledger.Input{Kind: kind, Ref: rest}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		d := rest[i+1:]
		if strings.Contains(d, ":") || isHex(d) {
			if isHex(d) && len(d) == 40 {
				d = "gitCommit:" + d
			} else if isHex(d) && len(d) == 64 {
				d = "sha256:" + d
			}
			if err := ledger.ValidateDigest(d); err != nil {
				return in, usagef("--input %q: %v", s, err)
			}
			in.Ref, in.Digest = rest[:i], d
		}
	}
	return in, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) > 0
}

func storeAttachment(ctx context.Context, st *store.Store, path string) (ledger.Attachment, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ledger.Attachment{}, err
	}
	if fi.Size() > maxAttachment {
		return ledger.Attachment{}, fmt.Errorf("attachment %s is %d bytes (max %d)", path, fi.Size(), maxAttachment)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ledger.Attachment{}, err
	}
	sum := sha256.Sum256(data)
	a := ledger.Attachment{Name: filepath.Base(path), MediaType: sniffMediaType(data), Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if err := st.PutBlob(ctx, a.Digest, a.MediaType, data); err != nil {
		return a, err
	}
	return a, nil
}

// sniffMediaType recognises the evidence formats mlsec produces by content.
func sniffMediaType(data []byte) string {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return "application/octet-stream"
	}
	switch {
	case probe["payloadType"] != nil && probe["signatures"] != nil:
		return ledger.DSSEMediaType
	case probe["bomFormat"] != nil:
		return "application/vnd.cyclonedx+json"
	case probe["runs"] != nil && probe["version"] != nil:
		return "application/sarif+json"
	case probe["_type"] != nil:
		return "application/vnd.in-toto+json"
	}
	return "application/json"
}

func subjectString(s ledger.Subject) string {
	out := s.Name
	if s.Version != "" {
		out += "@" + s.Version
	}
	return out
}

func newLedgerLogCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var model string
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Print the ledger, or one model's timeline and derivation graph",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			l, closeFn, err := f.open(ctx, false)
			if err != nil {
				return err
			}
			defer closeFn()
			var all []ledger.Event
			if err := l.Scan(ctx, func(e ledger.Event) error { all = append(all, e); return nil }); err != nil {
				return err
			}
			lineage := ledger.Lineage(all)
			var timeline []ledger.Event
			for _, e := range all {
				if model == "" || e.Subject.Name == model {
					timeline = append(timeline, e)
				}
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					out := map[string]any{"events": timeline}
					if model != "" {
						out["ancestry"] = lineage.Ancestry(model)
						out["descendants"] = lineage.Descendants(model)
					}
					return encodeJSON(w, out)
				}
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "#\tTIME\tACTION\tMODEL\tACTOR\tREASON")
				for _, e := range timeline {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"), e.Action, subjectString(e.Subject), e.Actor, truncate(e.Reason, 60))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if model != "" {
					fmt.Fprintln(w, "\nDerivation:")
					anc := lineage.Ancestry(model)
					for i := len(anc) - 1; i >= 0; i-- {
						e := anc[i]
						fmt.Fprintf(w, "  %s%s  --%s-->  %s\n", strings.Repeat("  ", len(anc)-1-i), e.From, e.Action, e.To)
					}
					for _, e := range lineage.Descendants(model) {
						fmt.Fprintf(w, "  %s  --%s-->  %s\n", e.From, e.Action, e.To)
					}
					if len(anc) == 0 && len(lineage.Descendants(model)) == 0 {
						fmt.Fprintln(w, "  (no recorded parents or derived models)")
					}
				}
				return nil
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&model, "model", "", "show only this model's timeline, with its derivation graph")
	return cmd
}

func newLedgerShowCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	cmd := &cobra.Command{
		Use:   "show INDEX",
		Short: "Print one record as canonical JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var idx int64
			if _, err := fmt.Sscan(args[0], &idx); err != nil || idx < 0 {
				return usagef("INDEX must be a non-negative number, not %q", args[0])
			}
			l, closeFn, err := f.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeFn()
			_, data, err := l.Record(cmd.Context(), idx)
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				var buf bytes.Buffer
				if err := json.Indent(&buf, data, "", "  "); err != nil {
					return err
				}
				buf.WriteByte('\n')
				_, err := w.Write(buf.Bytes())
				return err
			})
		},
	}
	f.add(cmd)
	return cmd
}

func newLedgerVerifyCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the Merkle tree and check every signed checkpoint",
		Long: `Recompute the tree from every stored record and check it against the stored
hashes and every signed checkpoint. An edited, deleted, inserted or
reordered record is detected and the first bad index named. Exit 0 when
the ledger verifies, 1 when it does not, 3 on errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pub, err := f.trustedKey()
			if err != nil {
				return err
			}
			l, closeFn, err := f.open(ctx, false)
			if err != nil {
				return err
			}
			defer closeFn()
			res, verr := l.Verify(ctx, pub)
			var ve *ledger.VerifyError
			if verr != nil && !errors.As(verr, &ve) {
				return verr
			}
			return renderVerify(g, res)
		},
	}
	f.add(cmd)
	return cmd
}

func renderVerify(g *globals, res *ledger.VerifyResult) error {
	err := g.writeOutput(func(w io.Writer, _ bool) error {
		if g.format == "json" {
			return encodeJSON(w, struct {
				OK bool `json:"ok"`
				*ledger.VerifyResult
			}{res.OK(), res})
		}
		if res.OK() {
			fmt.Fprintf(w, "OK: %d records, %d signed checkpoints verified\n", res.Size, res.Checkpoints)
		} else {
			first, _ := res.FirstBad()
			fmt.Fprintf(w, "FAILED: first bad index %d\n", first)
			for i, p := range res.Problems {
				if i == 10 {
					fmt.Fprintf(w, "  … %d more\n", len(res.Problems)-10)
					break
				}
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
		if res.LatestText != "" {
			fmt.Fprintf(w, "latest checkpoint:\n%s", res.LatestText)
		}
		if !res.KeyTrusted {
			fmt.Fprintln(w, "note: checked against the public key stored in the database; pass --pub to verify against a key you trust")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !res.OK() {
		return &exitError{code: ExitFindings}
	}
	return nil
}

func newLedgerProveCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var index, size, from int64
	cmd := &cobra.Command{
		Use:   "prove (--index I | --from N) [--size M] [-o FILE]",
		Short: "Emit an inclusion or consistency proof that 'verify-proof' checks offline",
		Long: `--index I proves that record I is in the tree of the checkpoint for --size M
(default: the latest). --from N proves that the checkpoint for size N is a
prefix of the checkpoint for --size M (default: the latest): nothing
before N was changed or removed since. The proof file carries the signed
checkpoints; check it with 'mlsec ledger verify-proof FILE --pub KEY'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (index >= 0) == (from > 0) {
				return usagef("give exactly one of --index or --from")
			}
			l, closeFn, err := f.open(ctx, false)
			if err != nil {
				return err
			}
			defer closeFn()
			var p *ledger.Proof
			if index >= 0 {
				p, err = l.ProveInclusion(ctx, index, size)
			} else {
				p, err = l.ProveConsistency(ctx, from, size)
			}
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error { return encodeJSON(w, p) })
		},
	}
	f.add(cmd)
	cmd.Flags().Int64Var(&index, "index", -1, "prove inclusion of record `I`")
	cmd.Flags().Int64Var(&from, "from", 0, "prove consistency from the checkpoint for size `N`")
	cmd.Flags().Int64Var(&size, "size", 0, "against the checkpoint for size `M` (default: the latest)")
	return cmd
}

func newLedgerVerifyProofCmd(g *globals) *cobra.Command {
	var pub string
	cmd := &cobra.Command{
		Use:   "verify-proof FILE --pub KEY",
		Short: "Check a proof offline with only the ledger's public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pub == "" {
				return usagef("--pub is required: the ledger's public key (file or key)")
			}
			key := pub
			if b, err := os.ReadFile(pub); err == nil {
				key = strings.TrimSpace(string(b))
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			p, err := ledger.ParseProof(data)
			if err != nil {
				return err
			}
			res, err := ledger.VerifyProof(p, key)
			if errors.Is(err, ledger.ErrProof) {
				fmt.Fprintf(g.stdout, "FAILED: %v\n", err)
				return &exitError{code: ExitFindings}
			}
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				switch res.Type {
				case ledger.InclusionProofType:
					fmt.Fprintf(w, "OK: record %d (%s %s by %s) is in %s at size %d\n", res.Event.Seq, res.Event.Action,
						subjectString(res.Event.Subject), res.Event.Actor, res.Checkpoint.Origin, res.Checkpoint.Size)
				default:
					fmt.Fprintf(w, "OK: %s at size %d is an append-only extension of size %d\n", res.Checkpoint.Origin, res.Checkpoint.Size, res.Old.Size)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&pub, "pub", "", "the ledger's public key: a `FILE` or the key itself")
	return cmd
}

func newLedgerCheckpointCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var size int64
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest (or a given) signed checkpoint",
		Long: `Print a signed checkpoint (C2SP tlog-checkpoint note). Keep or publish
checkpoints: with a later 'prove --from SIZE' anyone can check that the log
only grew since.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, closeFn, err := f.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeFn()
			var msg []byte
			if size > 0 {
				msg, err = l.Storage().Checkpoint(cmd.Context(), size)
			} else {
				_, msg, err = l.LatestCheckpoint(cmd.Context())
			}
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error { _, err := w.Write(msg); return err })
		},
	}
	f.add(cmd)
	cmd.Flags().Int64Var(&size, "size", 0, "the checkpoint for tree size `N` (default: the latest)")
	return cmd
}

func newLedgerExportCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	cmd := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write the whole ledger (records and signed checkpoints) as JSON Lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, closeFn, err := f.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer closeFn()
			return g.writeOutput(func(w io.Writer, _ bool) error { return l.Export(cmd.Context(), w) })
		},
	}
	f.add(cmd)
	return cmd
}

func newLedgerImportVerifyCmd(g *globals) *cobra.Command {
	var pub string
	cmd := &cobra.Command{
		Use:   "import-verify FILE --pub KEY",
		Short: "Verify an exported ledger offline with only its public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := pub
			if b, err := os.ReadFile(pub); err == nil {
				key = strings.TrimSpace(string(b))
			}
			fh, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer fh.Close()
			res, verr := ledger.ImportVerify(cmd.Context(), fh, key, nil)
			var ve *ledger.VerifyError
			if verr != nil && !errors.As(verr, &ve) {
				return verr
			}
			return renderVerify(g, res)
		},
	}
	cmd.Flags().StringVar(&pub, "pub", "", "the ledger's public key: a `FILE` or the key itself (default: trust the key in the export)")
	return cmd
}

package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/store"
)

func newAttestCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var typ, builder, buildType, name, version, reason, actor, invocation string
	var params, deps []string
	var noRecord bool
	cmd := &cobra.Command{
		Use:   "attest MODEL_PATH --type training [flags]",
		Short: "Write a signed in-toto/SLSA provenance attestation for a model and record it",
		Long: `Describe how a model was made in an in-toto Statement v1 with a SLSA
Provenance v1 predicate (builder, build type, external parameters such as
hyper-parameters, and resolved dependencies — datasets, base model, code —
each with a digest), sign it as a DSSE envelope with the ledger key, store
it beside the ledger and record an 'attest' event that references it.

The subjects are the model file, or every file of a model directory.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if typ != "training" {
				return usagef("--type %q: only 'training' is supported", typ)
			}
			subjects, digest, err := modelSubjects(args[0])
			if err != nil {
				return err
			}
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(filepath.Clean(args[0])), filepath.Ext(args[0]))
			}
			ext := map[string]any{}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return usagef("--param %q: want KEY=VALUE", p)
				}
				var jv any
				if json.Unmarshal([]byte(v), &jv) != nil {
					jv = v
				}
				ext[k] = jv
			}
			var inputs []ledger.Input
			var resolved []ledger.ResourceDescriptor
			for _, d := range deps {
				in, err := parseInput(d)
				if err != nil {
					return err
				}
				inputs = append(inputs, in)
				rd := ledger.ResourceDescriptor{Name: in.Ref, Annotations: map[string]any{"kind": in.Kind}}
				if alg, hx, ok := strings.Cut(in.Digest, ":"); ok {
					rd.Digest = map[string]string{alg: hx}
				}
				resolved = append(resolved, rd)
			}
			if builder == "" {
				builder = fmt.Sprintf(ledger.DefaultBuilderIDFmt, defaultActor())
			}
			now := time.Now().UTC().Truncate(time.Second)
			stmt := &ledger.Statement{
				Type: ledger.StatementType, Subject: subjects, PredicateType: ledger.ProvenanceType,
				Predicate: ledger.Provenance{
					BuildDefinition: ledger.BuildDefinition{BuildType: buildType, ExternalParameters: ext, ResolvedDependencies: resolved},
					RunDetails:      ledger.RunDetails{Builder: ledger.Builder{ID: builder}, Metadata: ledger.BuildMetadata{InvocationID: invocation, FinishedOn: &now}},
				},
			}
			skey, err := f.readKey()
			if err != nil {
				return err
			}
			env, err := ledger.SignStatement(ctx, stmt, skey)
			if err != nil {
				return err
			}
			if !noRecord {
				l, closeFn, err := f.open(ctx, true)
				if err != nil {
					return err
				}
				defer closeFn()
				sum := sha256.Sum256(env)
				att := ledger.Attachment{Name: "provenance.intoto.dsse.json", MediaType: ledger.DSSEMediaType,
					Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(env))}
				if err := l.Storage().(*store.Store).PutBlob(ctx, att.Digest, att.MediaType, env); err != nil {
					return err
				}
				if actor == "" {
					actor = defaultActor()
				}
				idx, err := l.Append(ctx, ledger.Event{Actor: actor, Action: ledger.ActionAttest,
					Subject: ledger.Subject{Name: name, Version: version, Digest: digest},
					Inputs:  inputs, Reason: reason, Attachments: []ledger.Attachment{att}})
				if err != nil {
					return err
				}
				if !g.quiet {
					fmt.Fprintf(g.stderr, "recorded #%d attest %s (envelope %s)\n", idx, name, att.Digest)
				}
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				_, err := w.Write(append(env, '\n'))
				return err
			})
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "training", "attestation type (training)")
	fl.StringVar(&builder, "builder", "", "builder ID URI (default derived from the actor)")
	fl.StringVar(&buildType, "build-type", ledger.TrainingBuildType, "SLSA build type URI")
	fl.StringArrayVar(&params, "param", nil, "external parameter KEY=VALUE (JSON values allowed), e.g. learning_rate=3e-4; repeatable")
	fl.StringArrayVar(&deps, "input", nil, "resolved dependency KIND=REF@DIGEST (dataset, model, code); repeatable")
	fl.StringVar(&invocation, "invocation", "", "run or job ID")
	fl.StringVar(&name, "model", "", "model name for the ledger event (default: the file name)")
	fl.StringVar(&version, "version", "", "model version")
	fl.StringVar(&reason, "reason", "", "why the model was trained")
	fl.StringVar(&actor, "actor", "", "who (default $MLSEC_ACTOR or user@host)")
	fl.BoolVar(&noRecord, "no-record", false, "only write the envelope; do not store it or record a ledger event")
	cmd.AddCommand(newAttestVerifyCmd(g))
	return cmd
}

func newAttestVerifyCmd(g *globals) *cobra.Command {
	var f ledgerFlags
	var model string
	cmd := &cobra.Command{
		Use:   "verify ENVELOPE [--model PATH]",
		Short: "Check an attestation's DSSE signature (and that it covers a model)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := f.trustedKey()
			if err != nil {
				return err
			}
			if pub == "" {
				return usagef("--pub is required (no ledger.pub found)")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			st, err := ledger.VerifyStatement(cmd.Context(), data, pub)
			if err != nil {
				fmt.Fprintf(g.stdout, "FAILED: %v\n", err)
				return &exitError{code: ExitFindings}
			}
			if model != "" {
				subs, _, err := modelSubjects(model)
				if err != nil {
					return err
				}
				want := map[string]string{}
				for _, s := range st.Subject {
					want[s.Name] = s.Digest["sha256"]
				}
				for _, s := range subs {
					if want[s.Name] != s.Digest["sha256"] {
						fmt.Fprintf(g.stdout, "FAILED: %s does not match the attested digest\n", s.Name)
						return &exitError{code: ExitFindings}
					}
				}
				if len(subs) != len(st.Subject) {
					fmt.Fprintf(g.stdout, "FAILED: the model has %d files, the attestation %d\n", len(subs), len(st.Subject))
					return &exitError{code: ExitFindings}
				}
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return encodeJSON(w, st)
				}
				fmt.Fprintf(w, "OK: %d subject(s), builder %s, build type %s\n", len(st.Subject), st.Predicate.RunDetails.Builder.ID, st.Predicate.BuildDefinition.BuildType)
				for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
					fmt.Fprintf(w, "  input %s %v\n", d.Name, d.Digest)
				}
				return nil
			})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&model, "model", "", "also check that `PATH` is what was attested")
	return cmd
}

// modelSubjects digests a model file or every regular file of a model
// directory. The returned digest identifies the whole model: the file's
// SHA-256, or for a directory the SHA-256 of its sorted "hex  path" lines.
func modelSubjects(path string) ([]ledger.ResourceDescriptor, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !fi.IsDir() {
		h, err := fileSHA256(path)
		if err != nil {
			return nil, "", err
		}
		return []ledger.ResourceDescriptor{{Name: filepath.Base(path), Digest: map[string]string{"sha256": h}}}, "sha256:" + h, nil
	}
	var subs []ledger.ResourceDescriptor
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		h, err := fileSHA256(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		subs = append(subs, ledger.ResourceDescriptor{Name: filepath.ToSlash(rel), Digest: map[string]string{"sha256": h}})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(subs) == 0 {
		return nil, "", fmt.Errorf("%s: no files", path)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	m := sha256.New()
	for _, s := range subs {
		fmt.Fprintf(m, "%s  %s\n", s.Digest["sha256"], s.Name)
	}
	return subs, "sha256:" + hex.EncodeToString(m.Sum(nil)), nil
}

func fileSHA256(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

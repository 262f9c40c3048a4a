package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/sign"
)

// hashFlags are shared by sign, verify and digest.
type hashFlags struct {
	ignorePaths   []string
	ignoreGit     bool
	noIgnoreGit   bool
	allowSymlinks bool
	hash          string
	serialization string
	shardSize     int64
	workers       int
	ledgerDB      string
	ledgerKey     string
	hashSet       bool
	serializeSet  bool
	shardSizeSet  bool
}

func (h *hashFlags) add(f *pflag.FlagSet, withLedger bool) {
	f.StringArrayVar(&h.ignorePaths, "ignore-paths", nil, "leave `PATH` (relative to the model) out; repeatable")
	f.BoolVar(&h.ignoreGit, "ignore-git-paths", true, "leave .git, .gitattributes, .github and .gitignore out")
	f.BoolVar(&h.noIgnoreGit, "no-ignore-git-paths", false, "include git-related files")
	f.BoolVar(&h.allowSymlinks, "allow-symlinks", false, "follow symbolic links to files (default: refuse them)")
	f.StringVar(&h.hash, "hash", "sha256", "content hash: sha256, blake2b or blake3")
	f.StringVar(&h.serialization, "serialization", "files", "files (one digest per file) or shards (one per --shard-size bytes)")
	f.Int64Var(&h.shardSize, "shard-size", sign.DefaultShardSize, "shard size in bytes for --serialization shards")
	f.IntVar(&h.workers, "workers", runtime.GOMAXPROCS(0), "files or shards hashed in parallel")
	if withLedger {
		f.StringVar(&h.ledgerDB, "ledger", "", "record a ledger event in this ledger database (SQLite `PATH` or postgres:// URL)")
		f.StringVar(&h.ledgerKey, "ledger-key", "", "ledger checkpoint signing key `FILE` (default: ledger.key under the user data dir)")
	}
}

// underscores lets model_signing's spellings (--private_key) work too.
func underscores(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
}

func (h *hashFlags) resolve(cmd *cobra.Command) (sign.Serialization, bool, error) {
	var s sign.Serialization
	f := cmd.Flags()
	h.hashSet, h.serializeSet, h.shardSizeSet = f.Changed("hash"), f.Changed("serialization"), f.Changed("shard-size")
	hh, err := sign.ParseHashAlgorithm(h.hash)
	if err != nil {
		return s, false, usagef("--hash: %v", err)
	}
	m, err := sign.ParseMethod(h.serialization)
	if err != nil {
		return s, false, usagef("--serialization: %v", err)
	}
	if h.shardSize <= 0 {
		return s, false, usagef("--shard-size must be positive")
	}
	if h.workers < 1 {
		return s, false, usagef("--workers must be at least 1")
	}
	if h.shardSizeSet && m != sign.MethodShards {
		return s, false, usagef("--shard-size needs --serialization shards")
	}
	s = sign.Serialization{Method: m, Hash: hh, AllowSymlinks: h.allowSymlinks}
	if m == sign.MethodShards {
		s.ShardSize = h.shardSize
	}
	return s, h.ignoreGit && !h.noIgnoreGit, nil
}

func newSignCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign key|certificate MODEL_PATH",
		Short: "Sign a model (file or directory) in the OpenSSF Model Signing format",
		Long: `Hash every file of a model (or one model file) and sign the manifest as a
Sigstore bundle holding a DSSE envelope over an in-toto statement with the
OpenSSF Model Signing predicate (https://model_signing/signature/v1.0), as
model_signing from sigstore/model-transparency does; either tool verifies
the other's signatures.

Methods: 'key' signs with an ECDSA private key (P-256, P-384 or P-521, see
'mlsec keygen'); 'certificate' signs with the key of a signing certificate
and embeds the certificate and its chain.

The signature is written to --signature (default model.sig); when it lies
inside the model it is left out of the signed files.`,
		Example: `  mlsec keygen --private-key release.key --public-key release.pub
  mlsec sign key ./my-model --private-key release.key --signature my-model.sig
  mlsec sign certificate ./my-model --private-key leaf.key \
      --signing-certificate leaf.pem --certificate-chain intermediate.pem`,
	}
	cmd.SetGlobalNormalizationFunc(underscores)
	cmd.AddCommand(newSignMethodCmd(g, "key"), newSignMethodCmd(g, "certificate"))
	return cmd
}

func newSignMethodCmd(g *globals, method string) *cobra.Command {
	var (
		h         hashFlags
		sigPath   string
		privKey   string
		password  string
		signCert  string
		certChain []string
	)
	short := map[string]string{
		"key":         "Sign with an ECDSA private key",
		"certificate": "Sign with a signing certificate's key, embedding the certificate chain",
	}[method]
	cmd := &cobra.Command{
		Use:   method + " MODEL_PATH",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ser, git, err := h.resolve(cmd)
			if err != nil {
				return err
			}
			if password != "" {
				return usagef("--password: %v", sign.ErrEncryptedKey)
			}
			pemKey, err := os.ReadFile(privKey)
			if err != nil {
				return fmt.Errorf("private key: %w", err)
			}
			priv, err := sign.ParsePrivateKey(pemKey)
			if err != nil {
				return fmt.Errorf("private key %s: %w", privKey, err)
			}
			var signer sign.Signer
			switch method {
			case "key":
				signer, err = sign.NewKeySigner(priv)
			case "certificate":
				if signCert == "" {
					return usagef("--signing-certificate is required")
				}
				signer, err = certificateSigner(priv, signCert, certChain)
			}
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res, err := sign.Sign(ctx, args[0], signer, sign.SignOptions{
				HashOptions:   sign.HashOptions{Serialization: ser, IgnoreGitPaths: git, Workers: h.workers},
				SignaturePath: sigPath, IgnorePaths: h.ignorePaths,
			})
			if err != nil {
				return fmt.Errorf("signing failed: %w", err)
			}
			if err := writeFileAtomic(sigPath, res.Bundle, 0o644); err != nil {
				return err
			}
			if h.ledgerDB != "" {
				if err := recordLedger(ctx, &h, ledger.ActionSign, &res.Summary, nil); err != nil {
					return err
				}
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return writeJSON(w, struct {
						Signed    bool   `json:"signed"`
						Signature string `json:"signature"`
						sign.Summary
					}{true, sigPath, res.Summary})
				}
				fmt.Fprintf(w, "Signing succeeded: %s -> %s\n", args[0], sigPath)
				fmt.Fprintf(w, "  root digest  %s\n  resources    %d (%s, %s)\n  files        %d, %d bytes\n",
					res.RootDigest, res.Resources, res.Serialization.Method, res.Serialization.Hash, res.Files, res.Bytes)
				return nil
			})
		},
	}
	f := cmd.Flags()
	h.add(f, true)
	f.StringVar(&sigPath, "signature", "model.sig", "write the signature to `PATH`")
	f.StringVar(&privKey, "private-key", "", "ECDSA private key `FILE` (PEM, PKCS#8 or SEC 1)")
	_ = cmd.MarkFlagRequired("private-key")
	f.StringVar(&password, "password", "", "password of an encrypted key (not supported: decrypt the key first)")
	_ = f.MarkHidden("password")
	if method == "certificate" {
		f.StringVar(&signCert, "signing-certificate", "", "signing certificate `FILE` (PEM) certifying --private-key")
		f.StringArrayVar(&certChain, "certificate-chain", nil, "intermediate certificates `FILE` (PEM) to embed; repeatable")
	}
	return cmd
}

func certificateSigner(priv *ecdsa.PrivateKey, leafPath string, chainPaths []string) (sign.Signer, error) {
	data, err := os.ReadFile(leafPath)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	leafs, err := sign.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %s: %w", leafPath, err)
	}
	chain, err := readCertificates(chainPaths)
	if err != nil {
		return nil, err
	}
	return sign.NewCertificateSigner(priv, leafs[0], append(leafs[1:], chain...))
}

func readCertificates(paths []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("certificate chain: %w", err)
		}
		cs, err := sign.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("certificate chain %s: %w", p, err)
		}
		out = append(out, cs...)
	}
	return out, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeFileAtomic writes via a temporary file and rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir, base := splitPath(path)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// eventAppender is all sign and verify need of a ledger.
type eventAppender interface {
	Append(ctx context.Context, ev ledger.Event) (int64, error)
}

// signEvent describes a signing or verification as a ledger event.
func signEvent(action string, s *sign.Summary, verr error) ledger.Event {
	ev := ledger.Event{Actor: defaultActor(), Action: action,
		Subject: ledger.Subject{Name: s.ModelName, Digest: s.RootDigest}}
	method := ""
	if s.Signer != nil {
		method = s.Signer.Method
	}
	switch {
	case verr != nil:
		ev.Reason = "verification failed: " + truncate(verr.Error(), 900)
	case action == ledger.ActionVerify:
		ev.Reason = fmt.Sprintf("OMS signature verified (%s, %s/%s, %d resources)", method, s.Serialization.Method, s.Serialization.Hash, s.Resources)
	default:
		ev.Reason = fmt.Sprintf("OMS signature written (%s, %s/%s, %d resources)", method, s.Serialization.Method, s.Serialization.Hash, s.Resources)
	}
	return ev
}

func appendSignEvent(ctx context.Context, a eventAppender, action string, s *sign.Summary, verr error) error {
	if _, err := a.Append(ctx, signEvent(action, s, verr)); err != nil {
		return fmt.Errorf("record ledger event: %w", err)
	}
	return nil
}

// recordLedger opens the ledger named by --ledger and appends one event.
func recordLedger(ctx context.Context, h *hashFlags, action string, s *sign.Summary, verr error) error {
	lf := ledgerFlags{db: h.ledgerDB, key: h.ledgerKey}
	l, closeFn, err := lf.open(ctx, true)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer closeFn()
	return appendSignEvent(ctx, l, action, s, verr)
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/sign"
)

// Exit statuses of mlsec verify, one per failure kind.
const (
	ExitVerifyModified  = 10
	ExitVerifyAdded     = 11
	ExitVerifyMissing   = 12
	ExitVerifyPath      = 13
	ExitVerifySignature = 14
	ExitVerifyIdentity  = 15
	ExitVerifyExpired   = 16
	ExitVerifyMalformed = 17
)

var verifyExit = map[sign.Kind]int{
	sign.KindModified: ExitVerifyModified, sign.KindAdded: ExitVerifyAdded, sign.KindMissing: ExitVerifyMissing,
	sign.KindPath: ExitVerifyPath, sign.KindSignature: ExitVerifySignature, sign.KindIdentity: ExitVerifyIdentity,
	sign.KindExpired: ExitVerifyExpired, sign.KindMalformed: ExitVerifyMalformed,
}

const verifyExitHelp = `Exit status: 0 verified; 3 usage or I/O error; 10 a signed file was
modified; 11 files not covered by the signature are present; 12 signed files
are missing; 13 a symbolic link or special file is in the model; 14 the
signature does not verify with the key (wrong key); 15 signer identity,
issuer or certificate chain not trusted; 16 a certificate is expired or not
yet valid; 17 the signature file is not a valid OMS bundle. With
--format json a result object is printed either way.`

// verifyResult is the JSON result of mlsec verify.
type verifyResult struct {
	Verified  bool              `json:"verified"`
	Method    string            `json:"method"`
	Model     string            `json:"model"`
	Signature string            `json:"signature"`
	Summary   *sign.Summary     `json:"result,omitempty"`
	Error     *sign.VerifyError `json:"error,omitempty"`
	ExitCode  int               `json:"exit_code"`
}

func newVerifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify key|certificate|sigstore MODEL_PATH",
		Short: "Verify a model against an OpenSSF Model Signing signature",
		Long: `Check that a signature (a Sigstore bundle in the OpenSSF Model Signing
format, from mlsec or model_signing) was made by the expected key, certificate
chain or Sigstore identity, then hash the model exactly as the signature
records (files or shards, sha256/blake2b/blake3, ignored paths) and compare:
any modified, added or missing file fails verification.

` + verifyExitHelp,
		Example: `  mlsec verify key ./my-model --signature my-model.sig --public-key release.pub
  mlsec verify certificate ./my-model --signature my-model.sig --certificate-chain ca.pem
  mlsec verify sigstore ./my-model --signature model.sig --identity builder@example.com \
      --identity-provider https://accounts.google.com --trust-config trusted_root.json`,
	}
	cmd.SetGlobalNormalizationFunc(underscores)
	cmd.AddCommand(newVerifyMethodCmd(g, "key"), newVerifyMethodCmd(g, "certificate"), newVerifyMethodCmd(g, "sigstore"))
	return cmd
}

func newVerifyMethodCmd(g *globals, method string) *cobra.Command {
	var (
		h              hashFlags
		sigPath        string
		pubKey         string
		certChain      []string
		identity       string
		issuer         string
		trustConfig    string
		ignoreUnsigned bool
	)
	short := map[string]string{
		"key":         "Verify with an ECDSA public key",
		"certificate": "Verify a certificate-signed model against trust anchors",
		"sigstore":    "Verify a keyless Sigstore signature offline against a trusted root",
	}[method]
	cmd := &cobra.Command{
		Use:   method + " MODEL_PATH",
		Short: short,
		Long:  short + ".\n\n" + verifyExitHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ser, git, err := h.resolve(cmd)
			if err != nil {
				return err
			}
			v, err := buildVerifier(method, pubKey, certChain, identity, issuer, trustConfig)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(sigPath)
			if err != nil {
				return fmt.Errorf("signature: %w", err)
			}
			var expect sign.Serialization
			if h.hashSet {
				expect.Hash = ser.Hash
			}
			if h.serializeSet {
				expect.Method = ser.Method
			}
			if h.shardSizeSet {
				expect.ShardSize = ser.ShardSize
			}
			ctx := cmd.Context()
			res, verr := sign.Verify(ctx, args[0], raw, v, sign.VerifyOptions{
				SignaturePath: sigPath, IgnorePaths: h.ignorePaths, IgnoreGitPaths: git,
				IgnoreUnsignedFiles: ignoreUnsigned, AllowSymlinks: h.allowSymlinks, Expect: expect, Workers: h.workers,
			})
			var ve *sign.VerifyError
			if verr != nil && !errors.As(verr, &ve) {
				return fmt.Errorf("verification failed: %w", verr)
			}
			out := verifyResult{Verified: verr == nil, Method: method, Model: args[0], Signature: sigPath, Error: ve}
			if res != nil {
				out.Summary = &res.Summary
			}
			if ve != nil {
				out.ExitCode = verifyExit[ve.Kind]
			}
			if h.ledgerDB != "" {
				s := sign.Summary{ModelName: filepath.Base(args[0]), Signer: &sign.SignerInfo{Method: method}}
				if res != nil {
					s = res.Summary
				}
				if err := recordLedger(ctx, &h, ledger.ActionVerify, &s, verr); err != nil {
					return err
				}
			}
			if err := g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					return writeJSON(w, out)
				}
				return renderModelVerify(w, out)
			}); err != nil {
				return err
			}
			if out.ExitCode != 0 {
				return &exitError{code: out.ExitCode}
			}
			return nil
		},
	}
	f := cmd.Flags()
	h.add(f, true)
	f.StringVar(&sigPath, "signature", "model.sig", "signature (Sigstore bundle) `PATH` to verify")
	f.BoolVar(&ignoreUnsigned, "ignore-unsigned-files", false, "hash only the files the signature lists; extra files are not an error")
	switch method {
	case "key":
		f.StringVar(&pubKey, "public-key", "", "ECDSA public key `FILE` (PEM) of the signer")
		_ = cmd.MarkFlagRequired("public-key")
	case "certificate":
		f.StringArrayVar(&certChain, "certificate-chain", nil, "trust anchor certificates `FILE` (PEM); repeatable (default: system roots)")
	case "sigstore":
		f.StringVar(&identity, "identity", "", "expected signer identity (certificate SAN: e-mail, URI)")
		f.StringVar(&issuer, "identity-provider", "", "expected OIDC issuer URL")
		f.StringVar(&trustConfig, "trust-config", "", "Sigstore trusted root JSON (or ClientTrustConfig) `FILE` for offline verification")
		_ = cmd.MarkFlagRequired("identity")
		_ = cmd.MarkFlagRequired("identity-provider")
	}
	return cmd
}

func buildVerifier(method, pubKey string, certChain []string, identity, issuer, trustConfig string) (sign.BundleVerifier, error) {
	switch method {
	case "key":
		data, err := os.ReadFile(pubKey)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, err := sign.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", pubKey, err)
		}
		return sign.NewKeyVerifier(pub)
	case "certificate":
		anchors, err := readCertificates(certChain)
		if err != nil {
			return nil, err
		}
		return sign.NewCertificateVerifier(anchors)
	default:
		if trustConfig == "" {
			return nil, usagef("--trust-config is required: mlsec verifies Sigstore bundles offline against a trusted root JSON")
		}
		tr, err := sign.LoadTrustedRoot(trustConfig)
		if err != nil {
			return nil, err
		}
		return sign.NewSigstoreVerifier(tr, identity, issuer)
	}
}

func renderModelVerify(w io.Writer, r verifyResult) error {
	if r.Verified {
		s := r.Summary
		fmt.Fprintf(w, "Verification succeeded: %s\n", r.Model)
		fmt.Fprintf(w, "  root digest  %s\n  resources    %d (%s, %s)\n", s.RootDigest, s.Resources, s.Serialization.Method, s.Serialization.Hash)
		if si := s.Signer; si != nil {
			switch {
			case si.Identity != "":
				fmt.Fprintf(w, "  signer       %s (%s)\n", si.Identity, si.IdentityProvider)
			case si.Subject != "":
				fmt.Fprintf(w, "  signer       %s (issuer %s)\n", si.Subject, si.Issuer)
			case si.KeyHint != "":
				fmt.Fprintf(w, "  key          %s\n", si.KeyHint)
			}
		}
		return nil
	}
	e := r.Error
	fmt.Fprintf(w, "Verification FAILED: %s (%s)\n", r.Model, e.Kind)
	if e.Detail != "" || e.Reason != "" {
		fmt.Fprintf(w, "  reason       %s\n", strings.TrimSpace(e.Reason+" "+e.Detail))
	}
	if d := e.Diff; d != nil {
		for _, x := range []struct {
			label string
			ps    []string
		}{{"modified", d.Modified}, {"added", d.Added}, {"missing", d.Missing}} {
			for _, p := range x.ps {
				fmt.Fprintf(w, "  %-12s %s\n", x.label, p)
			}
		}
	}
	return nil
}

func newDigestCmd(g *globals) *cobra.Command {
	var h hashFlags
	cmd := &cobra.Command{
		Use:   "digest MODEL_PATH",
		Short: "Print a model's OMS root digest (what 'mlsec sign' would sign)",
		Long: `Hash a model as 'mlsec sign' would and print the root digest: SHA-256 over
the per-file (or per-shard) digests in signing order, the in-toto subject
digest of the signature. With --format json the whole manifest is printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ser, git, err := h.resolve(cmd)
			if err != nil {
				return err
			}
			var ignore []string
			for _, p := range h.ignorePaths {
				if rel, ok := sign.NormalizeIgnorePath(args[0], p); ok {
					ignore = append(ignore, rel)
				}
			}
			ser.IgnorePaths = ignore
			m, err := sign.Hash(cmd.Context(), args[0], sign.HashOptions{Serialization: ser, IgnoreGitPaths: git, Workers: h.workers})
			if err != nil {
				return err
			}
			return g.writeOutput(func(w io.Writer, _ bool) error {
				if g.format == "json" {
					stmt, err := sign.EncodeStatement(m)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(w, "%s\n", stmt)
					return err
				}
				_, err := fmt.Fprintf(w, "sha256:%s  %s\n", m.RootDigestHex(), args[0])
				return err
			})
		},
	}
	cmd.SetGlobalNormalizationFunc(underscores)
	h.add(cmd.Flags(), false)
	return cmd
}

func newKeygenCmd(g *globals) *cobra.Command {
	var priv, pub, curve string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Write an ECDSA key pair for 'mlsec sign key'",
		Long: `Generate an ECDSA key pair (P-256 by default, --curve P-384 or P-521) and
write the private key (PKCS#8 PEM, mode 0600) and the public key (PEM).
Existing files are not overwritten unless --force is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sign.ParseCurve(curve)
			if err != nil {
				return usagef("--curve: %v", err)
			}
			if !force {
				for _, p := range []string{priv, pub} {
					if _, err := os.Stat(p); err == nil {
						return usagef("%s exists (use --force to overwrite)", p)
					}
				}
			}
			privPEM, pubPEM, err := sign.GenerateKey(c)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(priv, privPEM, 0o600); err != nil {
				return err
			}
			if err := writeFileAtomic(pub, pubPEM, 0o644); err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.stdout, "wrote %s (private, %s) and %s (public)\n", priv, c.Params().Name, pub)
			}
			return nil
		},
	}
	cmd.SetGlobalNormalizationFunc(underscores)
	f := cmd.Flags()
	f.StringVar(&priv, "private-key", "signing-key.pem", "private key `FILE` to write")
	f.StringVar(&pub, "public-key", "signing-key.pub", "public key `FILE` to write")
	f.StringVar(&curve, "curve", "P-256", "curve: P-256, P-384 or P-521")
	f.BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}

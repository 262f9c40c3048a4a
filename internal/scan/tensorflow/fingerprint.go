package tensorflow

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
)

// schemaFingerprint is tensorflow/core/protobuf/fingerprint.proto's
// FingerprintDef: hashes and a version, no graph.
var schemaFingerprint = &protowalk.Schema{Name: "FingerprintDef", Fields: map[protowire.Number]protowalk.Spec{
	1: {Kind: protowalk.Varint}, 2: {Kind: protowalk.Varint}, 3: {Kind: protowalk.Varint},
	4: {Kind: protowalk.Varint}, 5: {Kind: protowalk.Varint}, 6: {Kind: protowalk.Bytes}, 7: {Kind: protowalk.Text}}}

// FingerprintScanner recognises a SavedModel's fingerprint.pb (TF 2.12+),
// which holds only hashes, so that SavedModel directories scan complete.
type FingerprintScanner struct{}

// NewFingerprint returns the "tf-fingerprint" scanner.
func NewFingerprint() *FingerprintScanner { return &FingerprintScanner{} }

// Name implements scan.Scanner.
func (*FingerprintScanner) Name() string { return "tf-fingerprint" }

// Match requires the file name fingerprint.pb and a strict decode.
func (*FingerprintScanner) Match(f scan.FileInfo) bool {
	if f.Name != "fingerprint.pb" || f.Size < 0 || f.Size > scan.HeadSize || int64(len(f.Head)) != f.Size {
		return false
	}
	r := protowalk.NewPrefix(f.Head, f.Size)
	c, err := r.Validate(0, r.Size(), schemaFingerprint, 1)
	return err == nil && !c.Truncated && c.Fields >= 2
}

// Scan implements scan.Scanner: the content is hashes only.
func (s *FingerprintScanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	if err := checkFingerprint(ctx, in.R, in.Size); err != nil {
		return res, fmt.Errorf("%s: %w", s.Name(), err)
	}
	return res, nil
}

func checkFingerprint(ctx context.Context, r io.ReaderAt, size int64) error {
	pr := protowalk.New(ctx, r, size)
	_, err := pr.Validate(0, size, schemaFingerprint, 1)
	return err
}

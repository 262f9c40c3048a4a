package tensorflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/onnx/protowalk"
)

// RuleKerasLambda flags Lambda layers recorded in a Keras SavedModel's
// keras_metadata.pb: reviving them turns serialised Python back into code.
var RuleKerasLambda = finding.MustRegister(finding.Rule{
	ID: "MLS-TF-006", Name: "KerasSavedModelLambdaLayer",
	Title:    "Keras SavedModel metadata revives a Lambda layer",
	Severity: finding.Critical,
	Summary: "keras_metadata.pb describes a Lambda layer whose function is marshalled Python bytecode (or a " +
		"function imported by module and name). Loading the SavedModel with Keras rebuilds and runs it.",
	Remediation: "Load the SavedModel with tf.saved_model.load (no Keras revival) or re-export the model without " +
		"Lambda layers after reviewing their code.",
	References: []finding.Reference{finding.CWE(94), finding.CWE(502), finding.CVE("CVE-2024-3660"),
		finding.ATLAS("AML.T0010.003"), finding.ATLAS("AML.T0011.000"), finding.OWASPML("ML06")},
})

// Field numbers from keras/protobuf/saved_metadata.proto.
const (
	kmNodes      = 1
	koIdentifier = 4
	koMetadata   = 5
	koNodePath   = 3
	maxMetadata  = 16 << 20
)

var (
	schemaSavedObject = &protowalk.Schema{Name: "SavedObject", Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Bytes}, 2: {Kind: protowalk.Varint}, 3: {Kind: protowalk.Text},
		4: {Kind: protowalk.Text}, 5: {Kind: protowalk.Bytes}}}
	schemaSavedMetadata = &protowalk.Schema{Name: "SavedMetadata", Fields: map[protowire.Number]protowalk.Spec{
		1: {Kind: protowalk.Message, Msg: schemaSavedObject}}}
)

// KerasMetadataScanner reads keras_metadata.pb in Keras SavedModels.
type KerasMetadataScanner struct{}

// NewKerasMetadata returns the "tf-keras-metadata" scanner.
func NewKerasMetadata() *KerasMetadataScanner { return &KerasMetadataScanner{} }

// Name implements scan.Scanner.
func (*KerasMetadataScanner) Name() string { return "tf-keras-metadata" }

// Match requires a .pb name (keras_metadata.pb in practice) and a strict
// decode of the head as SavedMetadata.
func (*KerasMetadataScanner) Match(f scan.FileInfo) bool {
	if f.Ext() != ".pb" || len(f.Head) < 4 || f.Head[0] != 0x0a {
		return false
	}
	r := protowalk.NewPrefix(f.Head, f.Size)
	c, err := r.Validate(0, r.Size(), schemaSavedMetadata, 2)
	if err != nil || c.Seen[kmNodes] == 0 {
		return false
	}
	return f.Name == "keras_metadata.pb" || c.Fields >= 4
}

// Scan implements scan.Scanner.
func (s *KerasMetadataScanner) Scan(ctx context.Context, in *scan.Input) (scan.Result, error) {
	res := scan.NewResult(s.Name())
	if in.Size < 0 {
		return res, fmt.Errorf("%s: size unknown", s.Name())
	}
	r := protowalk.New(ctx, in.R, in.Size)
	err := r.Walk(0, in.Size, func(f protowalk.Field) error {
		if f.Num != kmNodes || f.Type != protowire.BytesType {
			return fmt.Errorf("%w: unexpected SavedMetadata field %d", protowalk.ErrMalformed, f.Num)
		}
		var path, ident string
		var meta *protowalk.Field
		err := r.Walk(f.Off, f.End(), func(g protowalk.Field) error {
			if g.Type != protowire.BytesType {
				return nil
			}
			var err error
			switch g.Num {
			case koNodePath:
				path, _, err = r.String(g, maxName)
			case koIdentifier:
				ident, _, err = r.String(g, maxName)
			case koMetadata:
				gg := g
				meta = &gg
			}
			return err
		})
		if err != nil || meta == nil {
			return err
		}
		b, err := r.Bytes(*meta, maxMetadata)
		if errors.Is(err, protowalk.ErrTooLong) {
			res.Gap("%s: metadata of %s larger than %d bytes", in.Name, path, maxMetadata)
			return nil
		}
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			res.Gap("%s: metadata of %s (%s) is not JSON: %v", in.Name, path, ident, err)
			return nil
		}
		for _, why := range lambdaLayers(v, 0) {
			fd := in.NewFinding(RuleKerasLambda)
			fd.Location = fd.Location.At(meta.Off)
			fd.Location.Pointer = path
			fd.Evidence = finding.Evidence{
				Text:   fmt.Sprintf("%s (%s): %s", path, ident, why),
				Fields: map[string]any{"node_path": path, "identifier": ident, "detail": why},
			}
			res.Add(fd)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("%s: %w", s.Name(), err)
	}
	return res, nil
}

// lambdaLayers finds Lambda layer configs whose function is code or an
// imported function outside Keras and TensorFlow.
func lambdaLayers(v any, depth int) []string {
	if depth > 64 {
		return nil
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if x["class_name"] == "Lambda" {
			if cfg, ok := x["config"].(map[string]any); ok {
				if why := lambdaFunction(cfg); why != "" {
					out = append(out, why)
				}
			}
		}
		for _, c := range x {
			out = append(out, lambdaLayers(c, depth+1)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, lambdaLayers(c, depth+1)...)
		}
	}
	return out
}

func lambdaFunction(cfg map[string]any) string {
	name, _ := cfg["name"].(string)
	ftype, _ := cfg["function_type"].(string)
	module, _ := cfg["module"].(string)
	switch fn := cfg["function"].(type) {
	case []any:
		return fmt.Sprintf("Lambda layer %q carries marshalled bytecode", name)
	case map[string]any:
		if fn["class_name"] == "__lambda__" {
			return fmt.Sprintf("Lambda layer %q carries marshalled bytecode", name)
		}
	case string:
		if ftype == "lambda" {
			return fmt.Sprintf("Lambda layer %q carries marshalled bytecode", name)
		}
		if module != "" && !strings.HasPrefix(module, "keras") && !strings.HasPrefix(module, "tensorflow") && !strings.HasPrefix(module, "tf_keras") {
			return fmt.Sprintf("Lambda layer %q imports %s.%s", name, module, fn)
		}
	}
	return ""
}

package sign

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// compileSpecSchemas loads the OMS v1.0 JSON schemas (bundle → envelope,
// statement → predicate) from the specification's test data.
func compileSpecSchemas(t *testing.T) (bundle, statement *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	files, _ := filepath.Glob("testdata/oms-spec-v1.0/schemas/*.schema.json")
	ids := map[string]string{}
	for _, f := range files {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustRead(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		id := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
		ids[filepath.Base(f)] = id
	}
	var err error
	if bundle, err = c.Compile(ids["bundle.schema.json"]); err != nil {
		t.Fatal(err)
	}
	if statement, err = c.Compile(ids["statement.schema.json"]); err != nil {
		t.Fatal(err)
	}
	return bundle, statement
}

func validateJSON(t *testing.T, s *jsonschema.Schema, data []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("schema: %v\n%s", err, data)
	}
}

// What mlsec writes conforms to the specification's schemas, for every
// method, hash and serialization; the spec's own valid vectors pass too.
func TestWrittenBundlesMatchSpecSchemas(t *testing.T) {
	t.Parallel()
	bundleSchema, stmtSchema := compileSpecSchemas(t)
	for _, f := range []string{"valid/key.bundle.json", "valid/certificate.bundle.json", "valid/sigstore.bundle.json"} {
		validateJSON(t, bundleSchema, mustRead(t, filepath.Join(specDir, f)))
	}
	for _, m := range testMethods(t) {
		for _, s := range []Serialization{{Method: MethodFiles, Hash: SHA256}, {Method: MethodFiles, Hash: BLAKE2b},
			{Method: MethodShards, Hash: BLAKE3, ShardSize: 7}} {
			dir := t.TempDir()
			model := makeFixture(t, dir, "sample_model_folder", "model")
			signed, err := Sign(context.Background(), model, m.signer, SignOptions{
				HashOptions: HashOptions{Serialization: s, IgnoreGitPaths: true}, SignaturePath: filepath.Join(model, "model.sig")})
			if err != nil {
				t.Fatal(err)
			}
			validateJSON(t, bundleSchema, signed.Bundle)
			b, err := ParseBundle(signed.Bundle)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := b.payload()
			validateJSON(t, stmtSchema, p)
		}
	}
}

// The bundles mlsec writes parse as Sigstore protobuf-specs Bundles (what
// model_signing reads them with), unknown fields rejected, and round-trip
// their envelope and verification material.
func TestWrittenBundlesParseAsProtobufSpecs(t *testing.T) {
	t.Parallel()
	for _, m := range testMethods(t) {
		dir := t.TempDir()
		model := makeFixture(t, dir, "sample_model_folder", "model")
		signed, err := Sign(context.Background(), model, m.signer, SignOptions{HashOptions: HashOptions{Serialization: Serialization{Method: MethodShards, Hash: SHA256, ShardSize: 9}}})
		if err != nil {
			t.Fatal(err)
		}
		var pb protobundle.Bundle
		if err := protojson.Unmarshal(signed.Bundle, &pb); err != nil {
			t.Fatalf("%s: protobuf-specs rejects the bundle: %v", m.name, err)
		}
		if pb.GetMediaType() != BundleMediaType || pb.GetDsseEnvelope().GetPayloadType() != PayloadType || len(pb.GetDsseEnvelope().GetSignatures()) != 1 {
			t.Fatalf("%s: %v", m.name, &pb)
		}
		vm := pb.GetVerificationMaterial()
		switch m.name {
		case "certificate":
			if len(vm.GetX509CertificateChain().GetCertificates()) != 2 {
				t.Fatalf("chain: %v", vm)
			}
		default:
			if vm.GetPublicKey().GetHint() == "" {
				t.Fatalf("hint: %v", vm)
			}
		}
	}
}

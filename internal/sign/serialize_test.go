package sign

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const knownModelText = "This is a simple model"

// makeFixture builds model_signing's synthetic test models (tests/conftest.py)
// under dir with the given name and returns the model path.
func makeFixture(t testing.TB, dir, kind, name string) string {
	t.Helper()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, name)
	switch kind {
	case "sample_model_file":
		write(root, knownModelText)
	case "empty_model_file":
		write(root, "")
	case "sample_model_folder":
		for i := range 2 {
			for j := range 3 {
				write(filepath.Join(root, fmt.Sprintf("d%d/f%d%d", i, i, j)), fmt.Sprintf("This is file f%d%d in d%d.", i, j, i))
			}
		}
		for i := range 4 {
			write(filepath.Join(root, fmt.Sprintf("f%d", i)), fmt.Sprintf("This is file f%d in root.", i))
		}
	case "empty_model_folder":
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
	case "model_folder_with_empty_file":
		write(filepath.Join(root, "empty_file"), "")
	case "deep_model_folder":
		for i := range 4 {
			write(filepath.Join(root, "d0/d1/d2/d3/d4", fmt.Sprintf("f%d", i)), fmt.Sprintf("This is file f%d.", i))
		}
	case "symlink_model_folder":
		ext := filepath.Join(dir, "external")
		write(ext, knownModelText)
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(ext, filepath.Join(root, "symlink_file")); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown fixture %q", kind)
	}
	return root
}

func fixtureKind(vector string) string {
	for _, suffix := range []string{"_small_shards", "_shard"} {
		vector = strings.TrimSuffix(vector, suffix)
	}
	return vector
}

// Every expected payload of model_signing's TestPayload is reproduced:
// same resources, digests, algorithm names, order and root digest.
func TestReferencePayloads(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(mtDir, "payloads", "*"))
	if len(files) != 21 {
		t.Fatalf("%d payload vectors", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			want, _, err := DecodeStatement(mustRead(t, f))
			if err != nil {
				t.Fatal(err)
			}
			model := makeFixture(t, t.TempDir(), fixtureKind(filepath.Base(f)), want.ModelName)
			got, err := Hash(context.Background(), model, HashOptions{Serialization: want.Serialization})
			if err != nil {
				t.Fatal(err)
			}
			enc, err := EncodeStatement(got)
			if err != nil {
				t.Fatal(err)
			}
			round, _, err := DecodeStatement(enc)
			if err != nil {
				t.Fatal(err)
			}
			if round.ModelName != want.ModelName || round.Serialization.Method != want.Serialization.Method ||
				round.Serialization.ShardSize != want.Serialization.ShardSize || round.RootDigestHex() != want.RootDigestHex() {
				t.Errorf("got %s %+v root %s, want %s %+v root %s", round.ModelName, round.Serialization, round.RootDigestHex(),
					want.ModelName, want.Serialization, want.RootDigestHex())
			}
			if len(round.Resources) != len(want.Resources) {
				t.Fatalf("%d resources, want %d", len(round.Resources), len(want.Resources))
			}
			for i := range want.Resources {
				g, w := round.Resources[i], want.Resources[i]
				// The reference writes shard algorithms as "sha256-sharded-N";
				// the specification (and mlsec) as the plain hash name.
				wantAlg, _ := parseResourceAlgorithm(w.Algorithm)
				if g.Name() != w.Name() || g.Algorithm != string(wantAlg) || hex.EncodeToString(g.Digest) != hex.EncodeToString(w.Digest) {
					t.Errorf("resource %d: got %s %s %x, want %s %s %x", i, g.Name(), g.Algorithm, g.Digest, w.Name(), w.Algorithm, w.Digest)
				}
			}
		})
	}
}

// The serializer manifests (name:digest, name:start:end:digest) match.
func TestReferenceManifests(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"file", "file_shard"} {
		files, _ := filepath.Glob(filepath.Join(mtDir, "manifests", method, "*"))
		for _, f := range files {
			t.Run(method+"/"+filepath.Base(f), func(t *testing.T) {
				t.Parallel()
				s := Serialization{Method: MethodFiles, Hash: SHA256, AllowSymlinks: true}
				if method == "file_shard" {
					s.Method, s.ShardSize = MethodShards, DefaultShardSize
					if strings.HasSuffix(f, "_small_shards") {
						s.ShardSize = 8
					}
				}
				model := makeFixture(t, t.TempDir(), fixtureKind(filepath.Base(f)), "model")
				m, err := Hash(context.Background(), model, HashOptions{Serialization: s})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range m.Resources {
					got = append(got, r.Name()+":"+hex.EncodeToString(r.Digest))
				}
				var want []string
				for _, l := range strings.Split(strings.TrimSpace(string(mustRead(t, f))), "\n") {
					if l != "" {
						want = append(want, l)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

func TestComparePaths(t *testing.T) {
	t.Parallel()
	in := []string{"a.txt", "a/b", "a", "b/c/d", "b/c", "B", "a-b/c", "a/b/c"}
	slices.SortFunc(in, comparePaths)
	want := []string{"B", "a", "a/b", "a/b/c", "a-b/c", "a.txt", "b/c", "b/c/d"}
	if !slices.Equal(in, want) {
		t.Fatalf("got %v want %v", in, want)
	}
}

func TestPublicKeyHintMatchesReference(t *testing.T) {
	t.Parallel()
	pub, err := ParsePublicKey(mustRead(t, filepath.Join(mtDir, "keys/signing-key-pub.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if h := PublicKeyHint(pub); h != "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e" {
		t.Fatalf("hint %s", h)
	}
}

func TestNormalizeIgnorePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "m")
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"ignore-me", "ignore-me", true},
		{"sub/dir/", "sub/dir", true},
		{filepath.Join(model, "x", "y"), "x/y", true},
		{"/elsewhere/x", "", false},
		{"../x", "", false},
		{".", "", false},
	}
	for _, c := range cases {
		got, ok := NormalizeIgnorePath(model, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: got %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// Newer model_signing writes an empty shard "p:0:0" for an empty file,
// older versions write nothing; both verify against an empty file, and
// neither against a truncated one.
func TestCompareEmptyShards(t *testing.T) {
	t.Parallel()
	empty := SHA256.New().Sum(nil)
	exp := &Manifest{Serialization: Serialization{Method: MethodShards, Hash: SHA256, ShardSize: 8},
		Resources: []Resource{{Path: "e", Sharded: true, Digest: empty}, {Path: "x", Sharded: true, End: 3, Digest: []byte{1}}}}
	act := &Manifest{Resources: []Resource{{Path: "x", Sharded: true, End: 3, Digest: []byte{1}}}}
	if d := compareManifests(exp, act, map[string]int64{"e": 0, "x": 3}); !d.Empty() {
		t.Fatalf("empty shard: %+v", d)
	}
	if d := compareManifests(exp, act, map[string]int64{"x": 3}); len(d.Missing) != 1 {
		t.Fatalf("missing empty file: %+v", d)
	}
	exp.Resources[0].End = 5
	if d := compareManifests(exp, act, map[string]int64{"e": 0, "x": 3}); len(d.Modified) != 1 || d.Modified[0] != "e" {
		t.Fatalf("truncated: %+v", d)
	}
}

// Large ranges go through the read-ahead pipeline; digests must equal a
// plain hash of the bytes, for whole files and shards.
func TestPipelinedHashing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := make([]byte, 3*pipelineMin+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	writeFile(t, filepath.Join(dir, "m", "big.bin"), string(data))
	for _, h := range HashAlgorithms {
		m, err := Hash(context.Background(), filepath.Join(dir, "m"), HashOptions{Serialization: Serialization{Method: MethodFiles, Hash: h}})
		if err != nil {
			t.Fatal(err)
		}
		d := h.New()
		d.Write(data)
		if hex.EncodeToString(m.Resources[0].Digest) != hex.EncodeToString(d.Sum(nil)) {
			t.Fatalf("%s whole-file digest differs", h)
		}
		shard := int64(pipelineMin + 3)
		m, err = Hash(context.Background(), filepath.Join(dir, "m"), HashOptions{Serialization: Serialization{Method: MethodShards, Hash: h, ShardSize: shard}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Resources {
			d := h.New()
			d.Write(data[r.Start:r.End])
			if hex.EncodeToString(r.Digest) != hex.EncodeToString(d.Sum(nil)) {
				t.Fatalf("%s shard %s differs", h, r.Name())
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Hash(ctx, filepath.Join(dir, "m"), HashOptions{}); err == nil {
		t.Fatal("cancelled context: no error")
	}
}

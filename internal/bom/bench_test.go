package bom_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/mlsec/mlsec/internal/bom"
)

// bigModel lays out a Hugging Face style directory whose safetensors
// shards total gb GiB (MLSEC_BOM_BENCH_GB, default 10). The shards are
// sparse: a real header, then a hole up to the file size, so the disk
// holds almost nothing and reading them measures hashing, not storage.
func bigModel(b *testing.B) (dir string, files []string, total int64) {
	b.Helper()
	gb := 10
	if v, err := strconv.Atoi(os.Getenv("MLSEC_BOM_BENCH_GB")); err == nil && v > 0 {
		gb = v
	}
	dir = b.TempDir()
	const shard = int64(2 << 30)
	n := (int64(gb)<<30 + shard - 1) / shard
	index := map[string]string{}
	for i := int64(0); i < n; i++ {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
		p := filepath.Join(dir, name)
		size := shard
		if rem := int64(gb)<<30 - i*shard; rem < shard {
			size = rem
		}
		// One BF16 tensor filling the shard after the 8-byte length and
		// a 256-byte (space-padded) header.
		const hlen = 256
		elems := (size - 8 - hlen) / 2
		size = 8 + hlen + elems*2
		tensor := fmt.Sprintf("model.layers.%d.mlp.weight", i)
		hdr, _ := json.Marshal(map[string]any{tensor: map[string]any{"dtype": "BF16", "shape": []int64{elems}, "data_offsets": []int64{0, elems * 2}}})
		for len(hdr) < hlen {
			hdr = append(hdr, ' ')
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		var pre [8]byte
		binary.LittleEndian.PutUint64(pre[:], hlen)
		f.Write(pre[:])
		f.Write(hdr)
		if err := f.Truncate(size); err != nil {
			b.Fatal(err)
		}
		f.Close()
		files = append(files, p)
		total += size
		index[tensor] = name
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": index})
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096}`), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("---\nlicense: apache-2.0\npipeline_tag: text-generation\n---\n# big\n"), 0o644)
	return dir, files, total
}

// BenchmarkBOM10GB builds the BOM of a 10 GiB model: headers are parsed,
// every byte is hashed (files in parallel). Compare with
// BenchmarkSHA256Sum10GB, coreutils sha256sum over the same shards.
func BenchmarkBOM10GB(b *testing.B) {
	dir, _, total := bigModel(b)
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		bm, err := bom.Build(context.Background(), dir, bom.Options{Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			b.Fatal(err)
		}
		if bm.Model.Parameters != (total-int64(len(bm.Files)-3)*264)/2 && bm.Model.Parameters == 0 {
			b.Fatalf("parameters %d", bm.Model.Parameters)
		}
	}
}

// BenchmarkSHA256Sum10GB runs sha256sum over the same shards: one
// process, as a release script would ("sha256sum model-*.safetensors"),
// and one process per shard in parallel (-P GOMAXPROCS).
func BenchmarkSHA256Sum10GB(b *testing.B) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		b.Skip("sha256sum not installed")
	}
	_, files, total := bigModel(b)
	b.Run("sequential", func(b *testing.B) {
		b.SetBytes(total)
		for range b.N {
			if out, err := exec.Command("sha256sum", files...).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(total)
		for range b.N {
			args := append([]string{"-n1", "-P", strconv.Itoa(runtime.GOMAXPROCS(0)), "sha256sum"}, files...)
			if out, err := exec.Command("xargs", args...).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
}

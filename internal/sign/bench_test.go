package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Benchmarks. The 2 GiB model is written once per run and then read from
// the page cache, so they measure hashing and the pipeline, not the disk:
//
//	go test -run='^$' -bench=. -benchtime=3x ./internal/sign

const bigModelSize = 2 << 30

var (
	bigOnce  sync.Once
	bigDir   string
	bigErr   error
	smallDir string
)

func bigModel(b *testing.B) string {
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "mlsec-bench-")
		if bigErr != nil {
			return
		}
		f, err := os.Create(filepath.Join(bigDir, "big", "model.safetensors"))
		if err != nil {
			if err = os.MkdirAll(filepath.Join(bigDir, "big"), 0o755); err != nil {
				bigErr = err
				return
			}
			if f, err = os.Create(filepath.Join(bigDir, "big", "model.safetensors")); err != nil {
				bigErr = err
				return
			}
		}
		// Dense data (not a sparse file: reading holes costs the kernel a
		// page zero-fill per read, which real models do not pay).
		buf := make([]byte, 1<<20)
		_, _ = rand.Read(buf)
		for i := 0; i < bigModelSize/len(buf); i++ {
			buf[0], buf[1] = byte(i), byte(i>>8)
			if _, err := f.Write(buf); err != nil {
				bigErr = err
				return
			}
		}
		bigErr = f.Close()
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigDir
}

var smallOnce sync.Once

// smallModel is 10,000 files of 4 KiB in 100 directories.
func smallModel(b *testing.B) string {
	bigModel(b)
	smallOnce.Do(func() {
		buf := make([]byte, 4096)
		_, _ = rand.Read(buf)
		smallDir = filepath.Join(bigDir, "small")
		for i := range 10000 {
			p := filepath.Join(smallDir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.bin", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				bigErr = err
				return
			}
			if err := os.WriteFile(p, buf[:4096], 0o644); err != nil {
				bigErr = err
				return
			}
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return smallDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// BenchmarkRawHash is each hash function alone over 1 MiB buffers: the
// ceiling for one core.
func BenchmarkRawHash(b *testing.B) {
	buf := make([]byte, 1<<20)
	for _, h := range HashAlgorithms {
		b.Run(string(h), func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			d := h.New()
			for b.Loop() {
				d.Write(buf)
			}
		})
	}
}

// BenchmarkHash2GB hashes one 2 GB file: "files" is one stream on one
// core; "shards" spreads 1 GB (and 256 MB) shards over all cores.
func BenchmarkHash2GB(b *testing.B) {
	dir := filepath.Join(bigModel(b), "big")
	for _, h := range HashAlgorithms {
		for _, s := range []Serialization{{Method: MethodFiles, Hash: h}, {Method: MethodShards, Hash: h, ShardSize: DefaultShardSize},
			{Method: MethodShards, Hash: h, ShardSize: 256 << 20}} {
			b.Run(fmt.Sprintf("%s/%s-%d", h, s.Method, s.ShardSize>>20), func(b *testing.B) {
				b.SetBytes(bigModelSize)
				for b.Loop() {
					if _, err := Hash(context.Background(), dir, HashOptions{Serialization: s}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func benchSignVerify(b *testing.B, model string, s Serialization, size int64) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := NewKeySigner(k)
	v, _ := NewKeyVerifier(&k.PublicKey)
	b.SetBytes(size)
	for b.Loop() {
		signed, err := Sign(context.Background(), model, signer, SignOptions{HashOptions: HashOptions{Serialization: s}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(context.Background(), model, signed.Bundle, v, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignVerify2GB signs then verifies the 2 GB model (two full
// hashing passes per op; bytes/s counts one).
func BenchmarkSignVerify2GB(b *testing.B) {
	dir := filepath.Join(bigModel(b), "big")
	for _, s := range []Serialization{{Method: MethodFiles, Hash: SHA256}, {Method: MethodShards, Hash: SHA256, ShardSize: DefaultShardSize},
		{Method: MethodShards, Hash: BLAKE3, ShardSize: DefaultShardSize}} {
		b.Run(fmt.Sprintf("%s/%s", s.Hash, s.Method), func(b *testing.B) { benchSignVerify(b, dir, s, bigModelSize) })
	}
}

// BenchmarkSignVerifySmallFiles signs then verifies 10,000 files of 4 KiB
// in 100 directories.
func BenchmarkSignVerifySmallFiles(b *testing.B) {
	benchSignVerify(b, smallModel(b), Serialization{Method: MethodFiles, Hash: SHA256}, 10000*4096)
}

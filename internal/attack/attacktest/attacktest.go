// Package attacktest loads the real scikit-learn models and data the
// attack packages are tested against: the ONNX fixtures of
// internal/inference with their data (internal/attack/testdata/NAME.csv)
// and the membership-inference pair. Only tests import it.
package attacktest

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/mlsec/mlsec/internal/inference"
)

// Dir is internal/attack/testdata.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// InferenceDir is internal/inference/testdata.
func InferenceDir() string { return filepath.Join(Dir(), "..", "..", "inference", "testdata") }

// Data is a labelled CSV: feature names, rows and label strings.
type Data struct {
	Names  []string
	X      [][]float64
	Labels []string
}

// ReadCSV reads a testdata CSV whose last column is "label".
func ReadCSV(t testing.TB, path string) *Data {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	d := &Data{Names: recs[0][:len(recs[0])-1]}
	for _, r := range recs[1:] {
		row := make([]float64, len(r)-1)
		for j := range row {
			if row[j], err = strconv.ParseFloat(r[j], 64); err != nil {
				t.Fatal(err)
			}
		}
		d.X = append(d.X, row)
		d.Labels = append(d.Labels, r[len(r)-1])
	}
	return d
}

// Model loads an ONNX model by path.
func Model(t testing.TB, path string) *inference.ONNXModel {
	t.Helper()
	m, err := inference.LoadONNX(path, inference.ONNXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Fixture loads internal/inference/testdata/NAME.onnx and its data.
func Fixture(t testing.TB, name string) (*inference.ONNXModel, *Data) {
	t.Helper()
	return Model(t, filepath.Join(InferenceDir(), name+".onnx")), ReadCSV(t, filepath.Join(Dir(), name+".csv"))
}

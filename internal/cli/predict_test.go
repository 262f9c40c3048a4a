package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/inference"
)

const logregONNX = "../inference/testdata/logreg.onnx"

// writeRows writes the logreg fixture's rows as CSV with an extra
// non-feature column and returns the path and scikit-learn's labels.
func writeRows(t *testing.T) (string, []int64) {
	t.Helper()
	data, err := os.ReadFile("../inference/testdata/logreg.expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Inputs [][]float64 `json:"inputs"`
		Labels []int64     `json:"labels"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("group,f1,f2,f3,f4,f5,f6\n")
	for i, r := range e.Inputs {
		b.WriteString([]string{"a", "b"}[i%2])
		for _, v := range r {
			b.WriteString("," + strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, e.Labels
}

func checkPredictionCSV(t *testing.T, out string, labels []int64) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Join(recs[0], ",") != "row,group,label,score_0,score_1" {
		t.Fatalf("header %v", recs[0])
	}
	if len(recs) != len(labels)+1 {
		t.Fatalf("%d rows, want %d", len(recs)-1, len(labels))
	}
	for i, l := range labels {
		if recs[i+1][2] != strconv.FormatInt(l, 10) || recs[i+1][0] != strconv.Itoa(i+1) {
			t.Errorf("row %d: %v, scikit-learn label %d", i+1, recs[i+1], l)
		}
	}
}

func TestPredictLocalAndRemote(t *testing.T) {
	rows, labels := writeRows(t)
	code, out, stderr := run(t, nil, "predict", logregONNX, "--data", rows, "--drop", "group", "--keep", "group", "--batch-size", "7")
	if code != 0 {
		t.Fatalf("local: exit %d: %s", code, stderr)
	}
	checkPredictionCSV(t, out, labels)

	m, err := inference.LoadONNX(logregONNX, inference.ONNXOptions{Name: "credit"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := inference.NewServer(context.Background(), map[string]inference.Model{"credit": m}, inference.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	code, remote, stderr := run(t, nil, "predict", ts.URL+"/v2/models/credit", "--data", rows, "--features", "f1,f2,f3,f4,f5,f6", "--keep", "group", "--token", "t")
	if code != 0 {
		t.Fatalf("remote: exit %d: %s", code, stderr)
	}
	if remote != out {
		t.Errorf("remote output differs from local:\n%s\n---\n%s", remote, out)
	}

	jsonOut := filepath.Join(t.TempDir(), "p.json")
	code, _, stderr = run(t, nil, "predict", logregONNX, "--data", rows, "--drop", "group", "-o", jsonOut)
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(jsonOut)
	var recs []struct {
		Row    int                `json:"row"`
		Label  string             `json:"label"`
		Scores map[string]float64 `json:"scores"`
	}
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(recs) != len(labels) || recs[0].Label != strconv.FormatInt(labels[0], 10) || len(recs[0].Scores) != 2 {
		t.Errorf("json records %+v", recs[:1])
	}
}

func TestPredictErrors(t *testing.T) {
	rows, _ := writeRows(t)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("a,b\n1,x\n"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no data", []string{"predict", logregONNX}, ExitError, "data"},
		{"unknown column", []string{"predict", logregONNX, "--data", rows, "--drop", "nope"}, ExitError, "no column"},
		{"string feature", []string{"predict", logregONNX, "--data", rows}, ExitError, "not a number"},
		{"wrong width", []string{"predict", logregONNX, "--data", rows, "--features", "f1,f2"}, ExitError, "wants 6 features"},
		{"bad cell", []string{"predict", logregONNX, "--data", bad}, ExitError, "not a number"},
		{"sarif", []string{"predict", logregONNX, "--data", rows, "--format", "sarif"}, ExitError, "not sarif"},
		{"bad url", []string{"predict", "http://127.0.0.1:1/v1/x", "--data", rows}, ExitError, "/v2/models/NAME"},
		{"missing model", []string{"predict", "nope.onnx", "--data", rows}, ExitError, "nope.onnx"},
		{"not onnx", []string{"predict", rows, "--data", rows}, ExitError, "onnx"},
	}
	for _, c := range cases {
		code, _, stderr := run(t, nil, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.name, code, stderr, c.code, c.msg)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- RunContext(ctx, []string{"mlsec", "serve", "--name", "credit", "--addr", "127.0.0.1:0", logregONNX}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`http://[0-9.:]+/v2/models/credit`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		url = re.FindString(stderr.String())
	}
	if url == "" {
		t.Fatalf("no address announced: %q", stderr.String())
	}
	c, err := inference.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	p, err := inference.PredictRows(ctx, c, [][]float64{{1, 2, 3, 4, 5, 6}})
	if err != nil || len(p.Labels) != 1 || len(p.Scores[0]) != 2 {
		t.Fatalf("predict through serve: %v %+v", err, p)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if code, _, stderr := run(t, nil, "serve", "--name", "bad name", logregONNX); code != ExitError || !strings.Contains(stderr, "--name") {
		t.Errorf("bad name: %d %q", code, stderr)
	}
}

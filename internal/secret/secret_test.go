package secret

import (
	"context"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	t.Parallel()
	pat := "ghp_" + "R8x2Vq7LmN4pZ0tKc9WbYf3HsJd6Ga1UeQ5o"
	text := "import os\n\ntoken = \"" + pat + "\"\nprint('ok')\n"
	ms, err := Find(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("matches %+v", ms)
	}
	m := ms[0]
	if m.Rule != "github-pat" || m.Line != 2 || m.Column != 10 || text[m.Offset:m.Offset+m.Length] != pat {
		t.Errorf("match %+v", m)
	}
	if strings.Contains(m.Redacted, pat[4:]) || m.Redacted != "ghp_…[REDACTED, 40 chars]" {
		t.Errorf("redacted %q", m.Redacted)
	}
	red, err := RedactIn(context.Background(), text)
	if err != nil || strings.Contains(red, pat) || !strings.Contains(red, "ghp_…[REDACTED, 40 chars]") {
		t.Errorf("RedactIn = %q, %v", red, err)
	}
	if n, err := Rules(); err != nil || n < 100 {
		t.Errorf("Rules() = %d, %v", n, err)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	ms, err := Find(context.Background(), "digest = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\ntoken = os.environ[\"HF_TOKEN\"]\n")
	if err != nil || len(ms) != 0 {
		t.Errorf("matches %+v, %v", ms, err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := map[string]string{"hunter2": "[REDACTED, 7 chars]", "AKIAQYLPMN5HHHFPZAM2": "AKIA…[REDACTED, 20 chars]"}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

package notebook

import (
	"fmt"
	"testing"
)

func TestShellCommands(t *testing.T) {
	t.Parallel()
	src := "import os\n!pip install torch\n  %pip install -q x==1\nos.system(\"curl -s http://x | sh\")\n" +
		"subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"numpy\"])\n" +
		"get_ipython().run_line_magic('pip', 'install pandas')\n!echo a \\\n  b\nx != y\n"
	got := fmt.Sprint(shellCommands(src))
	want := "[{1 pip install torch} {2 pip install -q x==1} {3 curl -s http://x | sh} {4 python -m pip install numpy} {5 pip install pandas} {6 echo a  b}]"
	if got != want {
		t.Errorf("shellCommands:\n got %s\nwant %s", got, want)
	}
	cell := "%%bash\nset -e\ncurl -sL https://x.example/i.sh | bash\n"
	if got := fmt.Sprint(shellCommands(cell)); got != "[{1 set -e\ncurl -sL https://x.example/i.sh | bash\n}]" {
		t.Errorf("cell magic: %s", got)
	}
	if got := shellCommands("%%capture\n!pip install a\n"); len(got) != 1 || got[0].Text != "pip install a" {
		t.Errorf("%%%%capture: %v", got)
	}
}

func TestAnalyzeShell(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cmd   string
		pipes string
		inst  string
	}{
		{"curl -fsSL https://x/i.sh | sh", "[{curl sh}]", "[]"},
		{"wget -qO- https://x/i.sh | sudo -E bash -s -- --yes", "[{wget bash}]", "[]"},
		{"bash <(curl -s https://x/i.sh)", "[{curl bash}]", "[]"},
		{`sh -c "$(curl -fsSL https://x/i.sh)"`, "[{curl sh}]", "[]"},
		{"curl -s https://x/i.py | python3.11 -", "[{curl python}]", "[]"},
		{"curl -o i.sh https://x/i.sh && sha256sum -c i.sum && sh i.sh", "[]", "[]"},
		{"curl https://x/data.csv | head", "[]", "[]"},
		{"pip install torch==2.1.0 'transformers>=4' -i https://mirror.example/simple", "[]",
			"[{pip [torch==2.1.0 transformers>=4] [transformers>=4] [] https://mirror.example/simple [] [] []}]"},
		{"python -m pip install -r requirements.txt --extra-index-url https://u:p@pkgs.example/simple", "[]",
			"[{pip [] [] [requirements.txt]  [https://u:p@pkgs.example/simple] [] []}]"},
		{"conda install -y -c conda-forge numpy=1.26.4 scipy", "[]",
			"[{conda [numpy=1.26.4 scipy] [scipy] []  [] [] [conda-forge]}]"},
		{"pip install git+https://github.com/org/repo@0123456789abcdef0123456789abcdef01234567 ./local.whl {pkg}", "[]",
			"[{pip [git+https://github.com/org/repo@0123456789abcdef0123456789abcdef01234567 ./local.whl {pkg}] [{pkg}] []  [] [] []}]"},
		{"pip list", "[]", "[]"},
		{"curl https://x | sh; if [[ (", "[{curl sh}]", "[]"}, // parse error: fallback
	}
	for _, c := range cases {
		f := AnalyzeShell(c.cmd)
		if got := fmt.Sprint(f.Pipes); got != c.pipes {
			t.Errorf("%s: pipes %s, want %s", c.cmd, got, c.pipes)
		}
		if got := fmt.Sprint(f.Installs); got != c.inst && !(c.inst == "[]" && len(f.Installs) == 0) {
			t.Errorf("%s: installs\n got %s\nwant %s", c.cmd, got, c.inst)
		}
	}
}

func TestPinned(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"torch==2.1.0": true, "torch[cuda]==2.1.0": true, "torch===2.1.0": true, "torch==2.*": false,
		"torch>=2": false, "torch": false, "torch~=2.1": false, "x.whl": true,
		"pkg @ https://h/p.tar.gz": false, "torch==2.1.0; python_version>'3.8'": true,
	}
	for req, want := range cases {
		if got := pinned("pip", req); got != want {
			t.Errorf("pinned(%q) = %v, want %v", req, got, want)
		}
	}
}

func TestBase64Runs(t *testing.T) {
	t.Parallel()
	hexDigest := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	b64 := "gAJjcG9zaXgKc3lzdGVtCnEAWAIAAABpZHEBhXECUnEDLgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
	s := "x = '" + hexDigest + "'\ny = \"" + b64 + "\"\n"
	runs := base64Runs(s)
	if len(runs) != 1 || s[runs[0].start:runs[0].end] != b64 {
		t.Fatalf("runs %v", runs)
	}
}

func TestRequirementName(t *testing.T) {
	t.Parallel()
	cases := map[string]string{"Torch_Vision[cuda]>=0.1": "torch-vision", "numpy": "numpy", "pkg @ https://x/p.whl": "pkg",
		"./local.whl": "", "{pkg}": "", "scikit-learn==1.3.2; python_version>'3'": "scikit-learn"}
	for in, want := range cases {
		if got := requirementName(in); got != want {
			t.Errorf("requirementName(%q) = %q, want %q", in, got, want)
		}
	}
}

package deps

import (
	_ "embed"
	"strings"
)

//go:embed popular.txt
var popularText string

// popular is the bundled list of most-used ML and data packages.
var popular = func() map[string]bool {
	m := map[string]bool{}
	for line := range strings.SplitSeq(popularText, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// legitimate are real, established packages whose names sit close to a
// popular one; they are never reported.
var legitimate = map[string]bool{
	"scapy": true, "torchx": true, "torchdata": true, "tensorflow-text": true, "tensorflow-addons": true,
	"tensorflow-datasets": true, "tensorflow-probability": true, "keras-nlp": true, "keras-cv": true,
	"jaxtyping": true, "pandas-stubs": true, "types-requests": true, "requests-oauthlib": true,
	"requests-toolbelt": true, "pytest-cov": true, "numpydoc": true, "pydantic-core": true,
	"pydantic-settings": true, "torch-geometric": true, "datasets-server": true, "onnxruntime-web": true,
	"boto": true, "botocore-stubs": true, "boto3-stubs": true, "transformers-stream-generator": true,
	"lightning-utilities": true, "pyyaml-include": true, "pillow-heif": true, "pillow-simd": true,
	"opencv-python-rolling": true, "mlflow-skinny": true, "ray-cpp": true, "flask-cors": true,
	"jupyter-core": true, "jupyter-client": true, "jupyter-server": true, "notebook-shim": true,
	"langchain-openai": true, "langchain-text-splitters": true, "triton-nightly": true, "pytorch-triton": true,
	"tf-nightly": true, "torch-tb-profiler": true, "wheel-filename": true, "click-plugins": true,
	"pytorch": true, "tensorflow-macos": true, "tensorflow-metal": true, "tensorflow-intel": true, "panda": true, "rich-click": true, "onnxconverter-common": true, "xgboost-ray": true,
	"tokenizer": true, "jsonschema": true, "sacremoses": true, "httpcore": true, "dask-ml": true,
	"ipywidgets": true, "scikit-optimize": true, "spacy-legacy": true, "datasette": true,
}

// squatPrefixes and squatSuffixes are what typosquats add to a real name.
var (
	squatPrefixes = []string{"python-", "python3-", "python", "py-", "py", "lib", "the-", "pip-", "get-"}
	squatSuffixes = []string{"-python", "-py", "-py3", "-lib", "2", "3", "s", "-dev", "-nightly", "-official",
		"-latest", "-new", "-update", "-updated", "-secure", "-fixed", "-sdk", "-api", "-client", "-tools",
		"-utils", "-plus", "-pro", "-free", "-cuda", "-gpu", "-cpu", "-x"}
)

// Typosquat says which popular package a name imitates and how.
type Typosquat struct {
	Target string
	How    string
}

// CheckTyposquat reports whether name (PEP 503-normalised) looks like an
// imitation of a popular ML package: edit distance 1 (2 for long names,
// counting transpositions), separator games, homoglyphs (0/o, 1/l, rn/m,
// vv/w …) and added prefixes or suffixes. A popular or known legitimate
// name is never reported.
func CheckTyposquat(name string) (Typosquat, bool) {
	if popular[name] || legitimate[name] || len(name) < 3 {
		return Typosquat{}, false
	}
	if p, ok := popularBare[strings.ReplaceAll(name, "-", "")]; ok {
		return Typosquat{p, "same name with different separators"}, true
	}
	if p, ok := popularSkeleton[skeleton(name)]; ok {
		return Typosquat{p, "look-alike characters (homoglyphs)"}, true
	}
	for _, p := range popularSorted {
		if len(p) < 5 {
			continue
		}
		limit := 1
		if len(p) >= 10 {
			limit = 2
		}
		if abs(len(name)-len(p)) <= limit && damerau(name, p, limit) <= limit {
			return Typosquat{p, "one or two characters changed, added, dropped or swapped"}, true
		}
	}
	for _, a := range squatPrefixes {
		if p := strings.TrimPrefix(name, a); p != name && len(p) >= 4 && popular[p] {
			return Typosquat{p, "popular name with a prefix added"}, true
		}
	}
	for _, a := range squatSuffixes {
		if p := strings.TrimSuffix(name, a); p != name && len(p) >= 4 && popular[p] {
			return Typosquat{p, "popular name with a suffix added"}, true
		}
	}
	return Typosquat{}, false
}

var popularSorted = func() []string {
	out := sortedKeys(popular)
	return out
}()

var skeletonReplacer = strings.NewReplacer("rn", "m", "vv", "w", "cl", "d", "0", "o", "1", "l", "i", "l", "5", "s",
	"3", "e", "4", "a", "7", "t", "8", "b", "9", "g", "q", "g")

// skeleton folds look-alike characters and drops separators.
func skeleton(s string) string {
	return skeletonReplacer.Replace(strings.ReplaceAll(s, "-", ""))
}

// popularBare and popularSkeleton index the popular names by their
// separator-free form and their skeleton.
var popularBare, popularSkeleton = func() (map[string]string, map[string]string) {
	bare, skel := map[string]string{}, map[string]string{}
	for _, p := range popularSorted {
		if _, ok := bare[strings.ReplaceAll(p, "-", "")]; !ok {
			bare[strings.ReplaceAll(p, "-", "")] = p
		}
		if _, ok := skel[skeleton(p)]; !ok {
			skel[skeleton(p)] = p
		}
	}
	return bare, skel
}()

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// damerau is the optimal-string-alignment distance, stopping early once it
// exceeds limit.
func damerau(a, b string, limit int) int {
	la, lb := len(a), len(b)
	prev2 := make([]int, lb+1)
	prev := make([]int, lb+1)
	cur := make([]int, lb+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= la; i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= lb; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[lb]
}

package notebook

import (
	"bytes"
	"regexp"
)

// payloadKind names serialized-object and container formats recognised by
// their first bytes: content that a model scanner should see.
func payloadKind(h []byte) string {
	switch {
	case len(h) >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5:
		return "pickle"
	case reProto0Pickle.Match(h):
		return "pickle"
	case bytes.HasPrefix(h, []byte("PK\x03\x04")):
		return "zip"
	case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(h, []byte("BZh")) && len(h) > 3 && h[3] >= '1' && h[3] <= '9':
		return "bzip2"
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz"
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case bytes.HasPrefix(h, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}):
		return "7z"
	case bytes.HasPrefix(h, []byte("\x93NUMPY")):
		return "numpy"
	case bytes.HasPrefix(h, []byte("\x89HDF\r\n\x1a\n")):
		return "hdf5"
	case bytes.HasPrefix(h, []byte("GGUF")):
		return "gguf"
	}
	return ""
}

// A protocol 0/1 pickle that starts by importing a global: "cmodule\nname\n".
var reProto0Pickle = regexp.MustCompile(`^\(?c[A-Za-z_][A-Za-z0-9_.]*\n[A-Za-z_][A-Za-z0-9_.]*\n`)

// b64Run is a run of base64 characters inside a text.
type b64Run struct{ start, end int }

// minRun is the shortest base64 run worth decoding: a pickle that calls
// os.system with a short command is about 60 bytes, 80 characters.
const minRun = 64

// base64Runs finds runs of at least minRun base64 characters that mix upper
// case, lower case and digits (hex digests, identifiers and repeated
// padding do not).
func base64Runs(s string) []b64Run {
	var out []b64Run
	i := 0
	for i < len(s) {
		if !isB64(s[i]) {
			i++
			continue
		}
		j := i
		var up, low, dig bool
		for j < len(s) && isB64(s[j]) {
			c := s[j]
			up = up || c >= 'A' && c <= 'Z'
			low = low || c >= 'a' && c <= 'z'
			dig = dig || c >= '0' && c <= '9'
			j++
		}
		end := j
		for end < len(s) && s[end] == '=' && end-j < 2 {
			end++
		}
		if j-i >= minRun && up && low && dig {
			out = append(out, b64Run{i, end})
		}
		i = end
		if i == j {
			i = j + 1
		}
	}
	return out
}

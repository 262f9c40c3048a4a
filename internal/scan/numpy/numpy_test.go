package numpy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

func npy(header string, version byte, data []byte) []byte {
	pre := 10
	if version > 1 {
		pre = 12
	}
	pad := 64 - (pre+len(header)+1)%64
	h := header + strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.Write(Magic)
	b.Write([]byte{version, 0})
	if version == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(h)))
	}
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func TestReadHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    []byte
		item    int64
		shape   []int64
		object  bool
		fortran bool
		err     string
	}{
		{"float", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 1, nil), 4, []int64{3, 4}, false, false, ""},
		{"fortran v2", npy(`{"descr": ">i8", "fortran_order": True, "shape": (2,)}`, 2, nil), 8, []int64{2}, false, true, ""},
		{"scalar v3", npy("{'descr': '<c16', 'fortran_order': False, 'shape': (), }", 3, nil), 16, nil, false, false, ""},
		{"unicode", npy("{'descr': '<U7', 'fortran_order': False, 'shape': (2,), }", 1, nil), 28, []int64{2}, false, false, ""},
		{"datetime", npy("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,), }", 1, nil), 8, []int64{2}, false, false, ""},
		{"object", npy("{'descr': '|O', 'fortran_order': False, 'shape': (5,), }", 1, nil), 8, []int64{5}, true, false, ""},
		{"structured", npy("{'descr': [('x', '<f4'), ('y', '<i2', (2, 3)), (('t', 'n'), '|S3')], 'fortran_order': False, 'shape': (1,), }", 1, nil),
			4 + 12 + 3, []int64{1}, false, false, ""},
		{"structured object", npy("{'descr': [('x', '<f4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,), }", 1, nil),
			12, []int64{1}, true, false, ""},
		{"python2 long", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3L,), }", 1, nil), 8, []int64{3}, false, false, ""},
		{"call", npy("{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,), }", 1, nil), 0, nil, false, false, "invalid header literal"},
		{"extra key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 1, nil), 0, nil, false, false, "unexpected keys"},
		{"missing key", npy("{'descr': '<f4', 'shape': (1,)}", 1, nil), 0, nil, false, false, "lacks"},
		{"negative dim", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 1, nil), 0, nil, false, false, "negative"},
		{"bad type", npy("{'descr': '<q4', 'fortran_order': False, 'shape': (1,), }", 1, nil), 0, nil, false, false, "unknown type kind"},
		{"version 9", npy("{}", 9, nil), 0, nil, false, false, "unsupported format version"},
		{"not a dict", npy("[1, 2]", 1, nil), 0, nil, false, false, "not a dict"},
		{"deep", npy(strings.Repeat("(", 100)+strings.Repeat(")", 100), 1, nil), 0, nil, false, false, "too deep"},
		{"unterminated", npy("{'descr': '<f4", 1, nil), 0, nil, false, false, "in string"},
	}
	for _, tc := range tests {
		h, err := ReadHeader(bytes.NewReader(tc.file), int64(len(tc.file)))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if h.ItemSize != tc.item || fmt.Sprint(h.Shape) != fmt.Sprint(tc.shape) || h.Object != tc.object || h.Fortran != tc.fortran {
			t.Errorf("%s: got item %d shape %v object %v fortran %v", tc.name, h.ItemSize, h.Shape, h.Object, h.Fortran)
		}
		if h.DataOffset%64 != 0 {
			t.Errorf("%s: data offset %d", tc.name, h.DataOffset)
		}
	}
}

func TestDataSizeOverflow(t *testing.T) {
	t.Parallel()
	h := &Header{Shape: []int64{1 << 40, 1 << 40}, ItemSize: 8}
	if h.DataSize() != -1 {
		t.Errorf("overflow not detected: %d", h.DataSize())
	}
}

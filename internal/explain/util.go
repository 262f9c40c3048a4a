package explain

import (
	"strconv"
	"strings"
)

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) }

// sameLabel compares class names, numerically when both are numbers.
func sameLabel(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := parseFloat(a)
	y, err2 := parseFloat(b)
	return err1 == nil && err2 == nil && x == y
}

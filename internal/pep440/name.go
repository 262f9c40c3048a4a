package pep440

import (
	"regexp"
	"strings"
)

var (
	nameRunRE = regexp.MustCompile(`[-_.]+`)
	nameRE    = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
)

// NormalizeName returns a project name in PEP 503 normal form: lower case,
// runs of "-", "_" and "." replaced by one "-".
func NormalizeName(name string) string {
	return nameRunRE.ReplaceAllString(strings.ToLower(strings.TrimSpace(name)), "-")
}

// ValidName reports whether name is a valid project name (PEP 508).
func ValidName(name string) bool { return len(name) <= 200 && nameRE.MatchString(name) }

// Package ui holds the control plane's web UI: html/template pages and
// static assets (CSS, a little JavaScript, no third-party code), embedded
// in the binary.
package ui

import "embed"

// FS holds templates/*.html and static/*.
//
//go:embed templates static
var FS embed.FS

// Package report turns a finding.Report into bytes for people and machines.
// It only dispatches: each format lives in its own subpackage (table,
// jsonreport, sarif) behind the one-method Encoder interface, the way syft
// keeps its SBOM formats apart. Encoders never analyse and never mutate the
// report they are given.
package report

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/jsonreport"
	"github.com/mlsec/mlsec/internal/report/sarif"
	"github.com/mlsec/mlsec/internal/report/table"
)

// Encoder writes one report in one format.
type Encoder interface {
	Encode(w io.Writer, r *finding.Report) error
}

// EncoderFunc adapts a function to Encoder.
type EncoderFunc func(w io.Writer, r *finding.Report) error

// Encode calls f(w, r).
func (f EncoderFunc) Encode(w io.Writer, r *finding.Report) error { return f(w, r) }

// Format names accepted by New.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatSARIF = "sarif"
)

// ErrUnknownFormat is returned (wrapped) by New for a format it does not
// know; the CLI maps it to a usage error.
var ErrUnknownFormat = errors.New("unknown report format")

// Options tune the encoders. Formats ignore options that do not apply to
// them (JSON and SARIF are always complete and colourless).
type Options struct {
	// Color adds ANSI colours to the table. The caller decides (TTY,
	// --no-color, NO_COLOR); encoders never probe the terminal.
	Color bool
	// Verbose makes the table list clean and skipped artifacts too.
	Verbose bool
	// Quiet makes the table print only its summary line.
	Quiet bool
	// InformationURI overrides the SARIF tool.driver.informationUri.
	InformationURI string
}

// Formats lists the valid format names in the order help text shows them.
func Formats() []string { return []string{FormatTable, FormatJSON, FormatSARIF} }

// New returns the encoder for a format name (case-insensitive).
func New(format string, opts Options) (Encoder, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatTable:
		return table.New(table.Options{Color: opts.Color, Verbose: opts.Verbose, Quiet: opts.Quiet}), nil
	case FormatJSON:
		return jsonreport.New(), nil
	case FormatSARIF:
		return sarif.New(sarif.Options{InformationURI: opts.InformationURI}), nil
	}
	return nil, fmt.Errorf("%w %q (valid: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
}

package cli

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/pickle"
)

type inspectOptions struct {
	member    string
	noListing bool
	noProgram bool
	maxOps    int
	safe      []string
}

func newInspectCmd(g *globals) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show what a pickle would do: opcodes and the reconstructed calls",
		Long: `Show an analyst what a pickle would do when loaded, without loading it:
the opcode listing and the reconstructed program as readable pseudo-Python,
with unsafe calls marked. FILE may be a pickle stream (also joblib, dill,
cloudpickle, legacy PyTorch) or a zip archive such as a PyTorch checkpoint,
whose pickle members are each shown (choose one with --member).

Exit codes follow 'mlsec scan': 1 when an unsafe call is at or above
--fail-on, 2 when part of the stream could not be analysed.`,
		Example: `  mlsec inspect suspicious.pkl
  mlsec inspect --no-listing model.pt
  mlsec inspect --member archive/data.pkl --format json model.pt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.member, "member", "", "inspect only this archive member")
	f.BoolVar(&o.noListing, "no-listing", false, "leave out the opcode listing")
	f.BoolVar(&o.noProgram, "no-program", false, "leave out the reconstructed program")
	f.IntVar(&o.maxOps, "max-ops", 100_000, "most opcodes listed per pickle")
	f.StringSliceVar(&o.safe, "safe-global", nil, "allow-list a pickle global (`module.name` or module.*); repeatable")
	return cmd
}

// inspected is one pickle stream's report, named by its member.
type inspected struct {
	Member string         `json:"member,omitempty"`
	Report *pickle.Report `json:"report"`
	Error  string         `json:"error,omitempty"`
}

func runInspect(cmd *cobra.Command, g *globals, o inspectOptions, path string) error {
	if g.format == "sarif" {
		return usagef("inspect writes table or json, not sarif")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	if st.IsDir() {
		return usagef("%s is a directory; inspect takes one file (use 'mlsec scan' for directories)", path)
	}
	opts := pickle.InspectOptions{
		Options:    pickle.Options{ExtraSafe: o.safe},
		NoListing:  o.noListing,
		NoProgram:  o.noProgram,
		MaxListing: o.maxOps,
	}
	ctx := cmd.Context()
	head := make([]byte, scan.HeadSize)
	n, _ := io.ReadFull(io.NewSectionReader(f, 0, st.Size()), head)
	head = head[:n]

	var results []inspected
	one := func(member string, r io.Reader) {
		rep, err := pickle.InspectReport(ctx, bufio.NewReaderSize(r, 256<<10), opts)
		res := inspected{Member: member, Report: rep}
		if err != nil {
			res.Error = err.Error()
		}
		results = append(results, res)
	}
	switch {
	case o.member == "" && pickle.LooksLikePickle(head, st.Size()):
		one("", io.NewSectionReader(f, 0, st.Size()))
	default:
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return fmt.Errorf("%s is neither a pickle stream nor a zip archive of pickles", path)
		}
		files := append([]*zip.File(nil), zr.File...)
		sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		for _, zf := range files {
			if o.member != "" && zf.Name != o.member {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				results = append(results, inspected{Member: zf.Name, Error: err.Error()})
				continue
			}
			mh := make([]byte, scan.HeadSize)
			n, _ := io.ReadFull(rc, mh)
			rc.Close()
			if o.member == "" && !pickle.LooksLikePickle(mh[:n], int64(zf.UncompressedSize64)) {
				continue
			}
			rc, err = zf.Open()
			if err != nil {
				results = append(results, inspected{Member: zf.Name, Error: err.Error()})
				continue
			}
			one(zf.Name, rc)
			rc.Close()
		}
		if len(results) == 0 {
			if o.member != "" {
				return fmt.Errorf("%s has no member %q", path, o.member)
			}
			return fmt.Errorf("%s holds no pickle members", path)
		}
	}

	if err := g.writeOutput(func(w io.Writer, _ bool) error {
		if g.format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(results)
		}
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if r.Member != "" {
				fmt.Fprintf(w, "### %s!%s\n", path, r.Member)
			}
			if r.Report != nil {
				if err := r.Report.WriteText(w); err != nil {
					return err
				}
			}
			if r.Error != "" {
				fmt.Fprintf(w, "INCONCLUSIVE: %s\n", r.Error)
			}
		}
		return nil
	}); err != nil {
		return err
	}

	inconclusive := false
	for _, r := range results {
		if r.Error != "" || r.Report == nil || len(r.Report.Gaps) > 0 {
			inconclusive = true
		}
		if r.Report == nil {
			continue
		}
		for _, is := range r.Report.Issues {
			if !g.failNone && is.Severity >= g.failSeverity {
				return &exitError{code: ExitFindings}
			}
		}
	}
	if inconclusive {
		return &exitError{code: ExitInconclusive}
	}
	return nil
}

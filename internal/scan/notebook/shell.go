package notebook

import (
	"path"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Command is a shell command found in a code cell.
type Command struct {
	// Line is the 0-based line of the cell where the command starts.
	Line int
	Text string
}

var (
	// IPython line magics that run a shell or a package manager.
	reMagic = regexp.MustCompile(`^%(pip|conda|mamba|micromamba|uv|sx|system)\b\s*(.*)$`)
	// Shell-running cell magics.
	reCellMagic = regexp.MustCompile(`^%%(bash|sh|system|script\s+(?:ba|z|da|k)?sh)\b`)
	// Python calls that take a shell command string or argument list.
	rePyCall = regexp.MustCompile(`(?:\bos\.(?:system|popen)|\bsubprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)|get_ipython\(\)\.(?:system|getoutput))\s*\(\s*`)
	// get_ipython().run_line_magic('pip', 'install x') as nbconvert writes it.
	reRunMagic = regexp.MustCompile(`get_ipython\(\)\.run_line_magic\(\s*['"](pip|conda|mamba|sx|system)['"]\s*,\s*(?:[rfbu]?"((?:[^"\\]|\\.)*)"|[rfbu]?'((?:[^'\\]|\\.)*)')`)
	rePyString = regexp.MustCompile(`^[rfbuRFBU]{0,2}(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')`)
	rePyList   = regexp.MustCompile(`^\[([^\]\n]*)\]`)
)

// shellCommands extracts the shell commands of a code cell: "!cmd" lines,
// %pip / %conda / %system line magics, %%bash-style cells, and the string
// or list arguments of os.system, subprocess and get_ipython().system.
func shellCommands(src string) []Command {
	lines := strings.Split(src, "\n")
	var out []Command
	first := 0
	for first < len(lines) && strings.TrimSpace(lines[first]) == "" {
		first++
	}
	if first < len(lines) && reCellMagic.MatchString(strings.TrimSpace(lines[first])) {
		body := strings.Join(lines[first+1:], "\n")
		if strings.TrimSpace(body) != "" {
			out = append(out, Command{Line: first + 1, Text: body})
		}
		return out
	}
	for i := 0; i < len(lines); i++ {
		start := i
		l := strings.TrimSpace(lines[i])
		// Line continuations.
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(lines[i])
		}
		switch {
		case strings.HasPrefix(l, "!") && !strings.HasPrefix(l, "!="):
			out = append(out, Command{Line: start, Text: strings.TrimLeft(l, "!")})
			continue
		case strings.HasPrefix(l, "%") && !strings.HasPrefix(l, "%%"):
			if m := reMagic.FindStringSubmatch(l); m != nil {
				cmd := m[2]
				if m[1] != "sx" && m[1] != "system" {
					cmd = m[1] + " " + cmd
				}
				out = append(out, Command{Line: start, Text: cmd})
			}
			continue
		}
		if m := reRunMagic.FindStringSubmatch(l); m != nil {
			arg := unescapePy(m[2] + m[3])
			if m[1] != "sx" && m[1] != "system" {
				arg = m[1] + " " + arg
			}
			out = append(out, Command{Line: start, Text: arg})
			continue
		}
		for _, loc := range rePyCall.FindAllStringIndex(l, -1) {
			if cmd, ok := pyCommandArg(l[loc[1]:]); ok {
				out = append(out, Command{Line: start, Text: cmd})
			}
		}
	}
	return out
}

// pyCommandArg reads a Python string literal or a list of string literals
// (sys.executable standing for "python") at the start of s.
func pyCommandArg(s string) (string, bool) {
	if m := rePyString.FindStringSubmatch(s); m != nil {
		return unescapePy(m[1] + m[2]), true
	}
	m := rePyList.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	var words []string
	for _, item := range strings.Split(m[1], ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if item == "sys.executable" {
			words = append(words, "python")
			continue
		}
		sm := rePyString.FindStringSubmatch(item)
		if sm == nil {
			words = append(words, "$DYNAMIC")
			continue
		}
		w := unescapePy(sm[1] + sm[2])
		if strings.ContainsAny(w, " \t|;&<>$`'\"") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		words = append(words, w)
	}
	return strings.Join(words, " "), len(words) > 0
}

func unescapePy(s string) string {
	r := strings.NewReplacer(`\"`, `"`, `\'`, `'`, `\\`, `\`, `\n`, "\n", `\t`, "\t")
	return r.Replace(s)
}

var downloaders = map[string]bool{
	"curl": true, "wget": true, "fetch": true, "aria2c": true, "http": true, "https": true,
	"iwr": true, "invoke-webrequest": true, "irm": true, "invoke-restmethod": true,
}

var interpreters = map[string]bool{
	"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "ash": true, "fish": true,
	"python": true, "python2": true, "python3": true, "perl": true, "ruby": true, "node": true, "php": true,
	"iex": true, "invoke-expression": true, "source": true, ".": true, "eval": true,
}

// wrappers run their arguments as a command.
var wrappers = map[string]bool{"sudo": true, "env": true, "command": true, "exec": true, "nohup": true, "time": true, "doas": true}

func cmdName(w string) string {
	n := strings.ToLower(path.Base(w))
	if strings.HasPrefix(n, "python") {
		return strings.TrimRight(n, "0123456789.") // python3.11 → python
	}
	return n
}

// wordText renders a word with quotes removed; expansions become "$".
func wordText(w *syntax.Word) string {
	var b strings.Builder
	var parts func([]syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				b.WriteString(p.Value)
			case *syntax.SglQuoted:
				b.WriteString(p.Value)
			case *syntax.DblQuoted:
				parts(p.Parts)
			default:
				b.WriteString("$")
			}
		}
	}
	parts(w.Parts)
	return b.String()
}

// callArgs returns a call's words after leading wrappers and their options
// (sudo -E bash → bash).
func callArgs(c *syntax.CallExpr) []string {
	var args []string
	for _, w := range c.Args {
		args = append(args, wordText(w))
	}
	for len(args) > 0 && wrappers[cmdName(args[0])] {
		args = args[1:]
		for len(args) > 0 && (strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "=")) {
			args = args[1:]
		}
	}
	return args
}

// callsIn returns the calls directly in a statement (through pipelines and
// lists, not substitutions).
func callsIn(s *syntax.Stmt) []*syntax.CallExpr {
	if s == nil {
		return nil
	}
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		return []*syntax.CallExpr{c}
	case *syntax.BinaryCmd:
		return append(callsIn(c.X), callsIn(c.Y)...)
	case *syntax.Subshell:
		var out []*syntax.CallExpr
		for _, st := range c.Stmts {
			out = append(out, callsIn(st)...)
		}
		return out
	case *syntax.Block:
		var out []*syntax.CallExpr
		for _, st := range c.Stmts {
			out = append(out, callsIn(st)...)
		}
		return out
	}
	return nil
}

func downloads(calls []*syntax.CallExpr) string {
	for _, c := range calls {
		if a := callArgs(c); len(a) > 0 && downloaders[cmdName(a[0])] {
			return cmdName(a[0])
		}
	}
	return ""
}

// firstCall is the command a pipeline stage starts with.
func firstCall(s *syntax.Stmt) *syntax.CallExpr {
	cs := callsIn(s)
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

// PipeToShell describes a download piped or substituted into an interpreter.
type PipeToShell struct {
	Downloader, Interpreter string
}

// Install is a package installation run from a cell.
type Install struct {
	Tool         string // "pip" or "conda"
	Requirements []string
	Unpinned     []string
	ReqFiles     []string
	IndexURL     string
	ExtraIndex   []string
	TrustedHosts []string
	Channels     []string
}

// ShellFacts is what one command does that the rules care about.
type ShellFacts struct {
	Pipes    []PipeToShell
	Installs []Install
}

// AnalyzeShell parses a command with a Bash parser and reports downloads
// run by an interpreter and package installations. Text the parser cannot
// read is checked line by line with a simpler split.
func AnalyzeShell(cmd string) ShellFacts {
	var facts ShellFacts
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		return fallbackShell(cmd)
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.BinaryCmd:
			if n.Op != syntax.Pipe && n.Op != syntax.PipeAll {
				return true
			}
			if d := downloads(callsIn(n.X)); d != "" {
				if c := firstCall(n.Y); c != nil {
					if a := callArgs(c); len(a) > 0 && interpreters[cmdName(a[0])] {
						facts.Pipes = append(facts.Pipes, PipeToShell{d, cmdName(a[0])})
					}
				}
			}
		case *syntax.CallExpr:
			a := callArgs(n)
			if len(a) == 0 {
				return true
			}
			if interpreters[cmdName(a[0])] {
				for _, w := range n.Args[1:] {
					if d := substitutedDownload(w); d != "" {
						facts.Pipes = append(facts.Pipes, PipeToShell{d, cmdName(a[0])})
						break
					}
				}
			}
			if in, ok := parseInstall(a); ok {
				facts.Installs = append(facts.Installs, in)
			}
		}
		return true
	})
	return facts
}

// substitutedDownload finds $(curl …), `curl …` or <(curl …) in a word.
func substitutedDownload(w *syntax.Word) string {
	found := ""
	syntax.Walk(w, func(n syntax.Node) bool {
		var stmts []*syntax.Stmt
		switch n := n.(type) {
		case *syntax.CmdSubst:
			stmts = n.Stmts
		case *syntax.ProcSubst:
			stmts = n.Stmts
		default:
			return found == ""
		}
		for _, s := range stmts {
			if d := downloads(callsIn(s)); d != "" {
				found = d
			}
		}
		return false
	})
	return found
}

var reFallbackPipe = regexp.MustCompile(`(?i)\b(curl|wget|iwr|invoke-webrequest)\b[^|;&]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(sh|bash|zsh|dash|python[0-9.]*|perl|ruby|node|iex)\b`)

func fallbackShell(cmd string) ShellFacts {
	var facts ShellFacts
	for _, line := range strings.Split(cmd, "\n") {
		if m := reFallbackPipe.FindStringSubmatch(line); m != nil {
			facts.Pipes = append(facts.Pipes, PipeToShell{strings.ToLower(m[1]), cmdName(m[2])})
		}
		for _, part := range regexp.MustCompile(`&&|;|\|\|`).Split(line, -1) {
			if in, ok := parseInstall(strings.Fields(part)); ok {
				facts.Installs = append(facts.Installs, in)
			}
		}
	}
	return facts
}

// parseInstall recognises pip install (pip, pip3, python -m pip, uv pip)
// and conda/mamba install, and collects requirements and index options.
func parseInstall(a []string) (Install, bool) {
	if len(a) == 0 {
		return Install{}, false
	}
	name := cmdName(a[0])
	var rest []string
	tool := ""
	switch {
	case strings.HasPrefix(name, "pip") && strings.TrimLeft(name[3:], "0123456789.") == "":
		tool, rest = "pip", a[1:]
	case name == "python" && len(a) > 2 && a[1] == "-m" && (a[2] == "pip" || a[2] == "pip3"):
		tool, rest = "pip", a[3:]
	case name == "uv" && len(a) > 1 && a[1] == "pip":
		tool, rest = "pip", a[2:]
	case name == "conda" || name == "mamba" || name == "micromamba":
		tool, rest = "conda", a[1:]
	default:
		return Install{}, false
	}
	if len(rest) == 0 || rest[0] != "install" {
		return Install{}, false
	}
	in := Install{Tool: tool}
	args := rest[1:]
	optWithValue := map[string]bool{"-r": true, "--requirement": true, "-c": true, "--constraint": true,
		"-i": true, "--index-url": true, "--extra-index-url": true, "--trusted-host": true, "-f": true,
		"--find-links": true, "-t": true, "--target": true, "--prefix": true, "--root": true,
		"-e": true, "--editable": true, "--channel": true, "-n": true, "--name": true, "-p": true,
		"--python": true, "--platform": true, "--python-version": true, "--only-binary": true,
		"--no-binary": true, "--progress-bar": true, "--upgrade-strategy": true, "--cache-dir": true,
		"--src": true, "--log": true, "--proxy": true, "--retries": true, "--timeout": true}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		opt, val, hasVal := strings.Cut(arg, "=")
		if !strings.HasPrefix(arg, "-") {
			in.Requirements = append(in.Requirements, arg)
			if !pinned(tool, arg) {
				in.Unpinned = append(in.Unpinned, arg)
			}
			continue
		}
		if !hasVal && !strings.HasPrefix(arg, "--") && len(arg) > 2 && optWithValue[arg[:2]] {
			opt, val, hasVal = arg[:2], arg[2:], true // -rrequirements.txt
		}
		if !optWithValue[opt] {
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		switch opt {
		case "-r", "--requirement", "-c", "--constraint":
			in.ReqFiles = append(in.ReqFiles, val)
		case "-i", "--index-url":
			in.IndexURL = val
		case "--extra-index-url":
			in.ExtraIndex = append(in.ExtraIndex, val)
		case "--trusted-host":
			in.TrustedHosts = append(in.TrustedHosts, val)
		case "-e", "--editable":
			in.Requirements = append(in.Requirements, "-e "+val)
			in.Unpinned = append(in.Unpinned, "-e "+val)
		case "--channel":
			in.Channels = append(in.Channels, val)
		}
	}
	if tool == "conda" {
		// conda's -c is a channel, not a constraints file.
		in.Channels = append(in.Channels, in.ReqFiles...)
		in.ReqFiles = nil
	}
	return in, len(in.Requirements) > 0 || len(in.ReqFiles) > 0
}

var rePinned = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-]*(\[[^\]]*\])?\s*(===?)\s*[0-9A-Za-z!+._\-]+$`)

// pinned reports whether a requirement names one exact version (pip "==",
// "===", a wheel file or a VCS URL at a commit; conda "=" or "==").
func pinned(tool, req string) bool {
	req = strings.TrimSpace(strings.SplitN(req, ";", 2)[0])
	if strings.Contains(req, "$") {
		return false
	}
	if strings.HasSuffix(strings.ToLower(req), ".whl") {
		return true
	}
	if i := strings.Index(req, "@"); i > 0 && strings.Contains(req[i:], "://") || strings.HasPrefix(req, "git+") {
		// A VCS reference pins only with a full commit hash.
		at := strings.LastIndex(req, "@")
		ref := req[at+1:]
		return at > strings.Index(req, "://") && len(ref) == 40 && strings.Trim(strings.ToLower(ref), "0123456789abcdef") == ""
	}
	if tool == "conda" {
		name, ver, ok := strings.Cut(req, "=")
		ver = strings.TrimPrefix(ver, "=")
		return ok && name != "" && ver != "" && !strings.ContainsAny(ver, "*<>,|")
	}
	return rePinned.MatchString(req) && !strings.Contains(req, "*")
}

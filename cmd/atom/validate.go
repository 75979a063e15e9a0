package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/processes"
)

func validate(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: atom validate FILE|DIR ...")
		return exitError(2)
	}
	reg, err := standard.Registry()
	if err != nil {
		return err
	}
	bad := false
	for _, path := range args {
		files, err := processes.ReadPath(path)
		if err == nil {
			_, err = processes.Load(reg, files)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad = true
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", path)
	}
	if bad {
		return exitError(1)
	}
	return nil
}

func schema(stdout io.Writer) error {
	reg, err := standard.Registry()
	if err != nil {
		return err
	}
	b, err := processes.Schema(reg)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

func reference(stdout io.Writer) error {
	reg, err := standard.Registry()
	if err != nil {
		return err
	}
	_, err = stdout.Write(processes.Reference(reg))
	return err
}

func testProcess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("processes", ".", "component YAML file or folder")
	input := fs.String("input", "", "JSON file with one input document's body (- for stdin); without it, run the Test components")
	props := fs.String("props", "", "with --input: document properties, as name=value,name=value")
	live := fs.Bool("live", false, "with --input: make real sends instead of dry runs")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	names := fs.String("run", "", "run only these tests, as name,name")
	verbose := fs.Bool("v", false, "print each test's trace")
	process, rest := splitFirst(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "atom test: unexpected %q\n%s", fs.Arg(0), testUsage)
		return exitError(2)
	}
	reg, err := standard.Registry()
	if err != nil {
		return err
	}
	files, err := processes.ReadPath(*dir)
	if err != nil {
		return err
	}
	if *input == "" {
		if *live || *props != "" {
			fmt.Fprint(stderr, "atom test: --live and --props go with --input; Test components are always dry runs\n"+testUsage)
			return exitError(2)
		}
		return runTests(ctx, reg, files, testRun{dir: *dir, process: process, names: splitList(*names), json: *asJSON, verbose: *verbose}, stdout, stderr)
	}
	if process == "" || *names != "" {
		fmt.Fprint(stderr, testUsage)
		return exitError(2)
	}
	doc, err := readDocument(*input, *props)
	if err != nil {
		return err
	}
	res, err := atom.RunOnce(ctx, reg, files, process, doc, *live)
	if err != nil {
		return err
	}
	if err := printResult(stdout, res, *asJSON); err != nil {
		return err
	}
	if res.Status == processes.StatusFailed {
		return exitError(1)
	}
	return nil
}

const testUsage = `usage: atom test [PROCESS] [--processes DIR] [--run NAME,...] [-v] [--json]   run the Test components (of PROCESS)
       atom test PROCESS --input FILE [--props k=v,...] [--processes DIR] [--live] [--json]   run one document
`

// testRun is what `atom test` without --input is asked to do.
type testRun struct {
	dir     string
	process string   // only the tests of this process, when set
	names   []string // only these tests, when set
	json    bool
	verbose bool
}

// runTests runs Test components and prints a line for each, then the
// reasons of each failure; any failure exits 1.
func runTests(ctx context.Context, reg *operations.Registry, files []processes.File, opt testRun, stdout, stderr io.Writer) error {
	results, err := atom.RunTests(ctx, reg, files, opt.names...)
	if err != nil {
		return err
	}
	if opt.process != "" {
		results = slices.DeleteFunc(results, func(r processes.TestResult) bool { return r.Test.Process != opt.process })
	}
	if len(results) == 0 {
		what := "no Test components in " + opt.dir
		if opt.process != "" {
			what = fmt.Sprintf("no Test components for process %q in %s", opt.process, opt.dir)
		}
		fmt.Fprintf(stderr, "atom test: %s (write kind: Test documents; see docs/reference.md)\n", what)
		return exitError(1)
	}
	show := printTests
	if opt.json {
		show = printTestsJSON
	}
	if err := show(stdout, results, opt.verbose); err != nil {
		return err
	}
	for _, r := range results {
		if !r.Passed() {
			return exitError(1)
		}
	}
	return nil
}

func printTests(w io.Writer, results []processes.TestResult, verbose bool) error {
	failed := 0
	for _, r := range results {
		mark := "ok  "
		if !r.Passed() {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%s %s (%s) %s\n", mark, r.Test.Name, r.Test.Process, r.Result.Duration.Round(time.Microsecond))
		for _, f := range r.Failures {
			fmt.Fprintf(w, "     %s\n", f.Error())
		}
		if verbose {
			var b strings.Builder
			if err := r.Result.Trace.WriteText(&b); err != nil {
				return err
			}
			for _, line := range strings.SplitAfter(strings.TrimRight(b.String(), "\n"), "\n") {
				fmt.Fprintf(w, "     %s", line)
			}
			fmt.Fprintln(w)
		}
	}
	switch {
	case failed > 0:
		_, err := fmt.Fprintf(w, "FAIL: %d of %d tests failed\n", failed, len(results))
		return err
	case len(results) == 1:
		_, err := fmt.Fprintln(w, "ok: 1 test passed")
		return err
	}
	_, err := fmt.Fprintf(w, "ok: %d tests passed\n", len(results))
	return err
}

// testJSON is one test's result as `atom test --json` prints it.
type testJSON struct {
	Name       string                  `json:"name"`
	Process    string                  `json:"process"`
	Pos        processes.Pos           `json:"pos"`
	Passed     bool                    `json:"passed"`
	Failures   []processes.TestFailure `json:"failures"`
	Status     string                  `json:"status"`
	Error      string                  `json:"error,omitempty"`
	DurationMs float64                 `json:"durationMs"`
	Trace      processes.Trace         `json:"trace"`
}

// printTestsJSON prints the results with their traces, always.
func printTestsJSON(w io.Writer, results []processes.TestResult, _ bool) error {
	out := make([]testJSON, 0, len(results))
	for _, r := range results {
		t := testJSON{
			Name: r.Test.Name, Process: r.Test.Process, Pos: r.Test.Pos,
			Passed: r.Passed(), Failures: r.Failures, Status: r.Result.Status,
			DurationMs: float64(r.Result.Duration.Microseconds()) / 1000, Trace: r.Result.Trace,
		}
		if t.Failures == nil {
			t.Failures = []processes.TestFailure{}
		}
		if r.Result.Err != nil {
			t.Error = r.Result.Err.Error()
		}
		out = append(out, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func printResult(w io.Writer, res *processes.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if err := res.Trace.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "status: %s (%s)\n", res.Status, res.Duration.Round(time.Microsecond))
	if res.Err != nil {
		fmt.Fprintf(w, "error: %v\n", res.Err)
	}
	if res.Reply != nil {
		b, _ := json.Marshal(res.Reply.Body)
		fmt.Fprintf(w, "reply: %s\n", b)
	}
	for _, out := range res.Outputs {
		b, _ := json.Marshal(out.Body)
		fmt.Fprintf(w, "output: %s\n", b)
	}
	return nil
}

// splitFirst takes the leading positional argument, if any, so that flags
// may follow it.
func splitFirst(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func readDocument(path, props string) (operations.Document, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return operations.Document{}, fmt.Errorf("read input: %w", err)
	}
	var body any
	if err := json.Unmarshal(data, &body); err != nil {
		return operations.Document{}, fmt.Errorf("%s: not JSON: %w", path, err)
	}
	doc := operations.NewDocument(body, nil)
	for _, kv := range strings.Split(props, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return doc, errors.New("--props: want name=value pairs separated by commas")
		}
		doc.SetProp(k, v)
	}
	return doc, nil
}

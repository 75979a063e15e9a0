package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	input := fs.String("input", "", "JSON file with the input document's body (- for stdin)")
	props := fs.String("props", "", "document properties, as name=value,name=value")
	live := fs.Bool("live", false, "make real sends instead of dry runs")
	asJSON := fs.Bool("json", false, "print the result and trace as JSON")
	process, rest := splitFirst(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if process == "" || *input == "" {
		fmt.Fprintln(stderr, "usage: atom test PROCESS --input FILE [--processes DIR] [--live]")
		return exitError(2)
	}
	doc, err := readDocument(*input, *props)
	if err != nil {
		return err
	}
	reg, err := standard.Registry()
	if err != nil {
		return err
	}
	files, err := processes.ReadPath(*dir)
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

// Command report turns the output of `go test -bench -benchmem` for Atom's
// benchmarks into BENCHMARKS.md: the machine, the Go version and the date,
// then a table per question (end to end, catch-up, publishing, mappings,
// idle memory, the baseline and Atom's share of it) and every result as
// measured. `make bench` runs it; it is not part of the atom binary.
//
// Usage:
//
//	go run ./atom/bench/report -in .atom/bench.txt -out BENCHMARKS.md
//
// It refuses (exit status 1, nothing written) when the input holds a
// failed test or benchmark, or no result at all.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	in := flag.String("in", "-", "go test -bench output to read; - for standard input")
	out := flag.String("out", "BENCHMARKS.md", "Markdown file to write; - for standard output")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("read benchmark output: %w", err)
		}
		defer f.Close()
		r = f
	}
	res, err := parse(r)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	doc := render(res, machineInfo(res), time.Now().UTC())
	if out == "-" {
		_, err = os.Stdout.WriteString(doc)
		return err
	}
	if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s (%d results)\n", out, len(res.all))
	return nil
}

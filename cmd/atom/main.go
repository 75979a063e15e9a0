// Command atom runs Atom: an integration runtime for event-driven
// processes. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `atom runs integration processes.

Usage:
  atom dev      [--processes DIR] [--rate N]                      emulator + atom + event generator + sink: see events flow
  atom run      [--processes DIR] [--data DIR] [--listen ADDR]   run an atom
  atom deploy   FILE|DIR --atom URL [--token T] [--note N]       deploy YAML to a running atom
  atom validate FILE|DIR                                          check component YAML
  atom test     [PROCESS] [--processes DIR] [--run NAME,...]     run the Test components (dry runs)
  atom test     PROCESS --input FILE [--processes DIR] [--live]   run one document offline
  atom schema                                                     print the JSON Schema of component YAML
  atom reference                                                  print the component reference (Markdown)
  atom emulator [--events FILE] [--listen ADDR]                   run the local Salesforce org emulator

Run "atom COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var exit exitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		os.Exit(int(exit))
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "atom:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a status, its message already printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runAtom(ctx, rest, stdout, stderr)
	case "validate":
		return validate(rest, stdout, stderr)
	case "test":
		return testProcess(ctx, rest, stdout, stderr)
	case "deploy":
		return deployCmd(ctx, rest, stdout, stderr)
	case "schema":
		return schema(stdout)
	case "reference":
		return reference(stdout)
	case "emulator":
		return runEmulator(ctx, rest, stdout)
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "atom: unknown command %q\n\n%s", cmd, usage)
	return exitError(2)
}

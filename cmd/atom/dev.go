package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/atomrt/atom/atom/devkit"
	"github.com/atomrt/atom/emulator"
)

// runDev is `make run`: a Salesforce org emulator, a sink for what the atom
// sends, a generator of realistic events, and an atom on the examples,
// all on loopback, until Ctrl-C.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("processes", "examples", "component YAML to deploy")
	data := fs.String("data", "", "folder of the atom's store (default: a new temporary one, since the emulator's bus starts empty too)")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the atom (webhooks, API, console)")
	orgAddr := fs.String("emulator", "127.0.0.1:0", "address of the Salesforce org emulator")
	sinkAddr := fs.String("sink", "127.0.0.1:0", "address of the sink that receives what the atom sends")
	rate := fs.Float64("rate", 2, "events published per second by the generator (0: none)")
	logFlags := addLogFlags(fs)
	_ = fs.Set("log-format", "console")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logFlags.logger(stderr)
	if err != nil {
		return err
	}
	if *data == "" {
		tmp, err := os.MkdirTemp("", "atom-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*data = tmp
	}
	org, err := emulator.New(emulator.DefaultConfig())
	if err != nil {
		return err
	}
	if err := org.Listen(*orgAddr); err != nil {
		return err
	}
	defer org.Close()
	sink, err := devkit.StartSink(*sinkAddr, log.With().Str("component", "sink").Logger())
	if err != nil {
		return err
	}
	defer sink.Close()
	// The examples read where the org and the sink are from the environment.
	for k, v := range map[string]string{"SF_LOGIN_URL": org.URL(), "ATOM_SINK_URL": sink.URL()} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return serve(ctx, atomConfig{
		processes: *dir, data: *data, listen: *listen, log: log, stdout: stdout,
		started: func(url string) {
			go devkit.Generate(ctx, org, *rate, log.With().Str("component", "generator").Logger())
			printDevBanner(stdout, url, org.URL(), sink.URL(), *rate)
		},
	})
}

func printDevBanner(w io.Writer, atomURL, orgURL, sinkURL string, rate float64) {
	fmt.Fprintf(w, `
Atom is running on the examples, against a local Salesforce org emulator.

  console            %[1]s/console/
  API                %[1]s/api/listeners
  Salesforce org     %[2]s   (emulator; admin at %[2]s/__emulator/state)
  sink               %[3]s   (what the atom sent: GET it)
  generator          %.1[4]f events/s (orders, low-ink printers, won opportunities)

Three things to try:
  1. Pause a listener on the console's dashboard, watch its counts stop while
     events keep coming, then resume: every event is processed, in order.
  2. Test-run a process: Processes → order-placed-fanout → Test run, and see
     each step's output (sends are dry runs).
  3. Look at a dead letter: every 23rd order has no customer and fails in the
     warehouse step; open Dead letters and retry or discard it.

Ctrl-C stops everything cleanly.
`, atomURL, orgURL, sinkURL, rate)
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/atomrt/atom/emulator"
	"github.com/rs/zerolog"
)

// defaultEmulatorListen is where `atom emulator` listens unless --listen or
// the configuration says otherwise.
const defaultEmulatorListen = "127.0.0.1:8443"

// runEmulator runs the local Salesforce org emulator until ctx is cancelled,
// after printing where it listens and how to point a client at it.
func runEmulator(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("atom emulator", flag.ContinueOnError)
	fs.SetOutput(stdout)
	events := fs.String("events", "", "emulator configuration YAML: events, users, apps (default: the built-in demo org)")
	listen := fs.String("listen", "", "address to listen on (default: listen from --events, else "+defaultEmulatorListen+")")
	persist := fs.String("persist", "", "keep the event bus in this file across restarts")
	logFormat := fs.String("log-format", "console", "log format (to stderr): console or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: atom emulator [--events FILE] [--listen ADDR] [--persist FILE]\n\nRuns a local Salesforce org: OAuth, REST publish, CometD streaming with replay. See emulator/README.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("atom emulator: unexpected argument %q (want flags only)", fs.Arg(0))
	}
	log, err := emulatorLogger(*logFormat, *logLevel, os.Stderr)
	if err != nil {
		return err
	}
	cfg := emulator.DefaultConfig()
	if *events != "" {
		if cfg, err = emulator.LoadConfig(*events); err != nil {
			return err
		}
	}
	addr := cfg.Listen
	if *listen != "" {
		addr = *listen
	}
	if addr == "" {
		addr = defaultEmulatorListen
	}
	if *persist != "" {
		cfg.Persistence = *persist
	}
	cfg.Logger = &log
	emu, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	if err := emu.Listen(addr); err != nil {
		_ = emu.Close()
		return err
	}
	printEmulatorBanner(stdout, emu)
	<-ctx.Done()
	if err := emu.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "emulator stopped")
	return nil
}

// emulatorLogger builds the emulator's logger; this file stands alone so
// that the command wiring can change without touching it.
func emulatorLogger(format, level string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("atom emulator: --log-level %q: want debug, info, warn or error", level)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Logger{}, fmt.Errorf("atom emulator: --log-format %q: want console or json", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// printEmulatorBanner tells a developer where the org is and how to use it.
func printEmulatorBanner(w io.Writer, emu *emulator.Emulator) {
	cfg := emu.Config()
	url, v := emu.URL(), cfg.APIVersion
	fmt.Fprintf(w, "Salesforce org emulator listening on %s\n\n", url)
	fmt.Fprintf(w, "  login and instance URL  %s\n", url)
	fmt.Fprintf(w, "  token endpoint          %s/services/oauth2/token\n", url)
	fmt.Fprintf(w, "  REST                    %s/services/data/v%s\n", url, v)
	fmt.Fprintf(w, "  Streaming API (CometD)  %s/cometd/%s\n", url, v)
	fmt.Fprintf(w, "  admin and faults        %s/__emulator/state\n\n", url)
	fmt.Fprintln(w, "Users (password grant: password followed by the security token):")
	for _, u := range cfg.Users {
		fmt.Fprintf(w, "  %s  password %s", u.Username, u.Password)
		if u.SecurityToken != "" {
			fmt.Fprintf(w, "  security token %s", u.SecurityToken)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Connected apps:")
	for _, a := range cfg.Apps {
		fmt.Fprintf(w, "  client id %s  secret %s", a.ClientID, a.ClientSecret)
		if a.RunAs != "" {
			fmt.Fprintf(w, "  (client credentials run as %s)", a.RunAs)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Platform events:")
	for _, ev := range cfg.Events {
		var fields []string
		for _, f := range ev.Fields {
			s := f.Name + " " + f.Type
			if f.Required {
				s += "!"
			}
			fields = append(fields, s)
		}
		fmt.Fprintf(w, "  /event/%s  %s\n", ev.Name, strings.Join(fields, ", "))
	}
	if len(cfg.Apps) == 0 || len(cfg.Events) == 0 {
		return
	}
	app, ev := cfg.Apps[0], cfg.Events[0]
	fmt.Fprintf(w, "\nTry it:\n")
	fmt.Fprintf(w, "  TOKEN=$(curl -s %s/services/oauth2/token -d grant_type=client_credentials -d client_id=%s -d client_secret=%s | jq -r .access_token)\n",
		url, app.ClientID, app.ClientSecret)
	fmt.Fprintf(w, "  curl -s %s/services/data/v%s/sobjects/%s/ -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d '%s'\n",
		url, v, ev.Name, sampleEvent(ev))
	fmt.Fprintf(w, "  curl -s %s/__emulator/events/%s\n\n", url, ev.Name)
}

// sampleEvent is a JSON body with a value for each required field.
func sampleEvent(ev emulator.EventDef) string {
	body := map[string]any{}
	for _, f := range ev.Fields {
		if !f.Required {
			continue
		}
		switch f.Type {
		case "double":
			body[f.Name] = 42.5
		case "int":
			body[f.Name] = 1
		case "boolean":
			body[f.Name] = true
		case "date":
			body[f.Name] = "2024-06-01"
		case "datetime":
			body[f.Name] = "2024-06-01T12:00:00.000Z"
		default:
			body[f.Name] = "A-1"
		}
	}
	b, _ := json.Marshal(body)
	return string(b)
}

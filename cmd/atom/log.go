package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

type logFlags struct{ format, level *string }

func addLogFlags(fs *flag.FlagSet) logFlags {
	return logFlags{
		format: fs.String("log-format", "json", "log format: json or console"),
		level:  fs.String("log-level", "info", "log level: debug, info, warn or error"),
	}
}

func (f logFlags) logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(*f.level)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: want debug, info, warn or error", *f.level)
	}
	switch *f.format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format %q: want json or console", *f.format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

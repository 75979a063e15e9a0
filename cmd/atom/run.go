package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
	"github.com/atomrt/atom/web"
)

// atomConfig is what `atom run` and `atom dev` both start.
type atomConfig struct {
	processes string // YAML to deploy at start; "" runs the stored deployment
	data      string
	listen    string
	token     string // configured API token; "" generates one when needed
	log       zerolog.Logger
	stdout    io.Writer
	// started, if set, is called once the atom serves, with its URL.
	started func(url string)
}

func runAtom(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("processes", "", "deploy the component YAML in this file or folder at start")
	data := fs.String("data", "data", "folder of the atom's store (positions, deployments, history, dead letters)")
	listen := fs.String("listen", "127.0.0.1:8080", "address of webhooks, API and console")
	token := fs.String("token", os.Getenv("ATOM_API_TOKEN"), "API token (default $ATOM_API_TOKEN; generated and stored in --data when needed)")
	logFlags := addLogFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logFlags.logger(stderr)
	if err != nil {
		return err
	}
	return serve(ctx, atomConfig{processes: *dir, data: *data, listen: *listen, token: *token, log: log, stdout: stdout})
}

// serve runs an atom until ctx ends, then drains runs in flight, commits
// and closes the store.
func serve(ctx context.Context, c atomConfig) error {
	reg, err := standard.Registry()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	store, err := persistence.Open(filepath.Join(c.data, "atom.db"), persistence.Options{Log: c.log})
	if err != nil {
		return err
	}
	defer store.Close()
	rt, err := atom.New(atom.Options{Registry: reg, Store: store, Log: c.log})
	if err != nil {
		return err
	}
	opts, err := webOptions(c)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listen, err)
	}
	srv := web.NewServer(c.listen, web.Handler(rt, opts))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error().Err(err).Msg("http server stopped")
		}
	}()
	url := "http://" + ln.Addr().String()
	c.log.Info().Str("addr", url).Str("console", url+"/console/").Msg("atom listening")
	if err := rt.Start(ctx); err != nil {
		return err
	}
	if c.processes != "" {
		files, err := processes.ReadPath(c.processes)
		if err != nil {
			return err
		}
		if _, err := rt.EnsureDeployed(files, "atom run", "deployed from "+c.processes); err != nil {
			return err
		}
	}
	if c.started != nil {
		c.started(url)
	}
	<-ctx.Done()
	c.log.Info().Msg("stopping: draining runs in flight")
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = rt.Stop(stopCtx)
	_ = srv.Shutdown(stopCtx)
	c.log.Info().Msg("stopped")
	return err
}

// webOptions decides whether the API needs a token: always off loopback,
// and whenever one was configured. A generated token is printed once.
func webOptions(c atomConfig) (web.Options, error) {
	opts := web.Options{Log: c.log, Addr: c.listen}
	if web.IsLoopback(c.listen) && c.token == "" {
		return opts, nil
	}
	token, created, err := web.LoadOrCreateToken(c.data, c.token)
	if err != nil {
		return opts, err
	}
	if created && c.stdout != nil {
		fmt.Fprintf(c.stdout, "API token (shown once; kept in %s): %s\n", filepath.Join(c.data, "api-token"), token)
	}
	opts.Token, opts.RequireAuth = token, true
	return opts, nil
}

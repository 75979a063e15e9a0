package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = dispatch(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestValidateAcceptsTheExamples(t *testing.T) {
	out, errOut, err := run(t, "validate", "../../examples")
	if err != nil {
		t.Fatalf("validate examples: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "../../examples: ok") {
		t.Errorf("stdout = %q", out)
	}
}

func TestValidateReportsEveryProblemWithPositions(t *testing.T) {
	_, errOut, err := run(t, "validate", "testdata/bad.yaml")
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	for _, want := range []string{
		`testdata/bad.yaml:3:7:`, `unknown connector type "htp"`, `did you mean "http"`,
		`testdata/bad.yaml:7:9:`, `order-hook`,
		`testdata/bad.yaml:9:5:`, `did you mean "route"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestTestRunsOneDocumentAsADryRun(t *testing.T) {
	out, errOut, err := run(t, "test", "orders-in", "--processes", "../../examples",
		"--input", "testdata/order.json", "--props", "http.header.x-request-id=r-1", "--json")
	if err != nil {
		t.Fatalf("atom test: %v\n%s", err, errOut)
	}
	var res struct {
		Status string
		Reply  struct{ Body map[string]any }
		Trace  struct {
			Steps []struct{ Kind, Status string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not the JSON result: %v\n%s", err, out)
	}
	if res.Status != "ok" || res.Reply.Body["priority"] != "high" {
		t.Errorf("result = %+v", res)
	}
	var kinds []string
	for _, s := range res.Trace.Steps {
		kinds = append(kinds, s.Kind)
	}
	if got := strings.Join(kinds, ","); got != "map,set,route,reply" {
		t.Errorf("trace steps = %s, want map,set,route,reply", got)
	}
	if !strings.Contains(out, "dry") {
		t.Errorf("the send was not marked as a dry run:\n%s", out)
	}
}

func TestTestPrintsAReadableTrace(t *testing.T) {
	out, errOut, err := run(t, "test", "orders-in", "--processes", "../../examples", "--input", "testdata/order.json")
	if err != nil {
		t.Fatalf("atom test: %v\n%s", err, errOut)
	}
	for _, want := range []string{"process orders-in", "steps[0] map", "steps[2] route", "status: ok", `reply: {"orderId":"o-9","priority":"high"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
}

func TestTestFailsOnAPoisonDocument(t *testing.T) {
	in := t.TempDir() + "/poison.json"
	if err := os.WriteFile(in, []byte(`{"id":"o-0","customer":{"name":"X"},"lines":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "test", "orders-in", "--processes", "../../examples", "--input", in)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if !strings.Contains(out, "order o-0 has no lines") || !strings.Contains(out, "status: failed") {
		t.Errorf("output does not explain the failure:\n%s", out)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, err := run(t, "frobnicate")
	if err == nil || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("err = %v, stderr = %q", err, errOut)
	}
}

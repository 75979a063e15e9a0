package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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

func TestTestRunsTheExampleTests(t *testing.T) {
	out, errOut, err := run(t, "test", "--processes", "../../examples")
	if err != nil {
		t.Fatalf("atom test: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{
		"ok   gold-order-goes-priority (orders-in) ",
		"ok   order-without-lines-fails (orders-in) ",
		"ok   stock-above-the-reorder-point-is-filtered (stock-levels) ",
		"ok   printer-at-4-percent-orders-a-cartridge (printer-reorder) ",
		" tests passed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a test failed:\n%s", out)
	}
}

// examplesWith copies examples/ to a temporary folder and adds a file.
func examplesWith(t *testing.T, name, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join("../../examples", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTestFailsAWrongExpectation(t *testing.T) {
	dir := examplesWith(t, "wrong.yaml", `kind: Test
name: gold-order-goes-normal
process: orders-in
input:
  body: {id: o-1, customer: {name: Ada, tier: gold}, lines: [{sku: A-1, qty: 2, price: 40}]}
expect:
  reply: {orderId: o-1, priority: normal}
  sent: {fulfil-standard: [{orderId: o-1}]}
`)
	out, _, err := run(t, "test", "orders-in", "--processes", dir)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("err = %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		"ok   gold-order-goes-priority (orders-in) ",
		"FAIL gold-order-goes-normal (orders-in) ",
		`wrong.yaml:7:3: tests.gold-order-goes-normal.expect.reply: priority: want "normal", got "high" (got {"orderId":"o-1","priority":"high"})`,
		`wrong.yaml:8:10: tests.gold-order-goes-normal.expect.sent.fulfil-standard: want 1 send, got 0 sends`,
		"FAIL: 1 of 5 tests failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stock-levels") {
		t.Errorf("atom test orders-in ran the tests of other processes:\n%s", out)
	}
}

func TestTestByNameAsJSON(t *testing.T) {
	out, errOut, err := run(t, "test", "--processes", "../../examples", "--run", "low-stock-reorders", "--json")
	if err != nil {
		t.Fatalf("atom test: %v\n%s", err, errOut)
	}
	var results []struct {
		Name     string
		Passed   bool
		Failures []any
		Status   string
		Trace    struct {
			Steps []struct{ Kind, Operation string }
		}
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(results) != 1 || results[0].Name != "low-stock-reorders" || !results[0].Passed || results[0].Status != "ok" {
		t.Fatalf("results = %+v", results)
	}
	if steps := results[0].Trace.Steps; len(steps) != 3 || steps[2].Operation != "reorder" {
		t.Errorf("trace steps = %+v, want the send through reorder last", steps)
	}

	_, errOut, err = run(t, "test", "--processes", "../../examples", "--run", "low-stock-reorder")
	if err == nil || !strings.Contains(err.Error(), `unknown test "low-stock-reorder" (did you mean "low-stock-reorders"?)`) {
		t.Errorf("unknown test: err = %v, stderr %q", err, errOut)
	}
}

func TestTestWithoutTests(t *testing.T) {
	dir := t.TempDir()
	yaml := "kind: Process\nname: p\nsteps: [{log: '\"hi\"'}]\n"
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := run(t, "test", "--processes", dir)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 || !strings.Contains(errOut, "no Test components in "+dir) {
		t.Errorf("err = %v, stderr %q; want exit 1 saying there are no tests", err, errOut)
	}
	_, errOut, err = run(t, "test", "--processes", dir, "--live")
	if !errors.As(err, &exit) || exit != 2 || !strings.Contains(errOut, "--live and --props go with --input") {
		t.Errorf("--live without --input: err = %v, stderr %q", err, errOut)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, err := run(t, "frobnicate")
	if err == nil || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("err = %v, stderr = %q", err, errOut)
	}
}

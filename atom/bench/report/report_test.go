package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/atomrt/atom/mapping
cpu: Intel(R) Xeon(R) Processor
BenchmarkJQ-2           	  137934	      8203 ns/op	    9416 B/op	      77 allocs/op
BenchmarkExpr-2         	  174979	      8586 ns/op	    4976 B/op	      73 allocs/op
PASS
ok  	github.com/atomrt/atom/mapping	9.066s
pkg: github.com/atomrt/atom/atom/bench
BenchmarkBaseline/concurrency=8-2         	       3	 528745577 ns/op	     30000 events/s	40.5 cpu-us/event	193327104 B/op	 1848063 allocs/op
BenchmarkEndToEnd/concurrency=8-2         	       3	 843365717 ns/op	     24000 events/s	         0.2114 p50-ms	         1.458 p99-ms	537187424 B/op	 5425278 allocs/op
BenchmarkEndToEnd/concurrency=1-2         	       1	1696337792 ns/op	     11790 events/s	         0.2121 p50-ms	         1.405 p99-ms	581376264 B/op	 5486932 allocs/op
BenchmarkBaseline/concurrency=1-2         	       1	 817346763 ns/op	     24469 events/s	193379632 B/op	 1852629 allocs/op
BenchmarkCatchUp-2                        	       1	6021610212 ns/op	        19.44 atom-live-MB	     16607 events/s	       148.1 peak-heap-MB	       166.2 peak-sys-MB	         6.022 s/catch-up	2883834056 B/op	29681326 allocs/op
PASS
`

func TestReport(t *testing.T) {
	rs, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.all) != 7 {
		t.Fatalf("parsed %d results, want 7", len(rs.all))
	}
	doc := render(rs, machine{cpu: "Test CPU", cores: 2, goVer: "go1.26", goOS: "linux", goArch: "amd64", threads: 2}, time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC))
	for _, want := range []string{
		"| CPU | Test CPU |",
		"| cores | 2 |",
		"2026-01-02 03:04 UTC",
		"| 8 | 24,000 | 0.21 | 1.46 |",
		"| 1 | 11,790 | 0.21 | 1.41 |",
		"at concurrency 8 — met.",
		"| 100,000 | 6.02 | 16,607 | 148.1 | 166.2 | 19.4 |",
		"| jq | 8,203 | 9,416 | 77 |",
		"| field map | — | — | — |",
		"| 8 | 30,000 | 24,000 | 80% | 40.5 | — |",
		"| 1 | 24,469 | 11,790 | 48% |",
		"not met at concurrency 1.",
		"| github.com/atomrt/atom/mapping | `BenchmarkJQ` | 137934 | 8203 ns/op, 9416 B/op, 77 allocs/op |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
}

func TestReportRefusesFailures(t *testing.T) {
	for name, input := range map[string]string{
		"failed benchmark": sample + "--- FAIL: BenchmarkCatchUp-2\n    endtoend_test.go:1: catch-up: only 5 of 100000\nFAIL\n",
		"failed package":   "FAIL\tgithub.com/atomrt/atom/atom/bench [build failed]\n",
		"panic":            sample + "panic: runtime error\n",
		"nothing":          "PASS\nok  \tgithub.com/atomrt/atom/mapping\t0.1s\n",
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			in := filepath.Join(t.TempDir(), "bench.txt")
			if err := os.WriteFile(in, []byte(input), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := run(in, out); err == nil {
				t.Fatal("run succeeded, want an error")
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a report was written (%v), want none", err)
			}
		})
	}
}

func TestCPUInfo(t *testing.T) {
	model, n := parseCPUInfo("processor\t: 0\nmodel name\t: Xeon\n\nprocessor\t: 1\nmodel name\t: Xeon\n")
	if model != "Xeon" || n != 2 {
		t.Fatalf("got %q, %d; want Xeon, 2", model, n)
	}
}

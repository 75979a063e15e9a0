package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// result is one benchmark line: BenchmarkName-procs  N  value unit ...
type result struct {
	pkg     string // import path, from the preceding "pkg:" line
	name    string // BenchmarkX/sub, without the -procs suffix
	n       int
	units   []string // in the order printed
	metrics map[string]float64
}

// results holds every benchmark line of a run, the last one winning when
// a benchmark appears twice.
type results struct {
	all   []*result
	byKey map[string]*result // pkg suffix-free key: last path element + " " + name
	cpu   string             // from go test's "cpu:" line
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)
	failLine  = regexp.MustCompile(`^(--- FAIL|FAIL\b|panic:)`)
)

// parse reads go test -bench output. A failure anywhere is an error: a
// report from a broken run would mislead.
func parse(r io.Reader) (*results, error) {
	res := &results{byKey: map[string]*result{}}
	var (
		pkg   string
		fails []string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "cpu: "):
			res.cpu = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case failLine.MatchString(line):
			fails = append(fails, line)
		default:
			if m := benchLine.FindStringSubmatch(line); m != nil {
				if r, ok := parseResult(pkg, m); ok {
					res.add(r)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(fails) > 0 {
		return nil, fmt.Errorf("the benchmark run failed, so no report was written:\n  %s", strings.Join(fails, "\n  "))
	}
	if len(res.all) == 0 {
		return nil, errors.New("no benchmark results (want the output of go test -bench . -benchmem)")
	}
	return res, nil
}

func parseResult(pkg string, m []string) (*result, bool) {
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return nil, false
	}
	fields := strings.Fields(m[3])
	if len(fields)%2 != 0 {
		return nil, false
	}
	r := &result{pkg: pkg, name: m[1], n: n, metrics: map[string]float64{}}
	for i := 0; i < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return nil, false
		}
		unit := fields[i+1]
		if _, dup := r.metrics[unit]; !dup {
			r.units = append(r.units, unit)
		}
		r.metrics[unit] = v
	}
	return r, true
}

func (rs *results) add(r *result) {
	key := pkgBase(r.pkg) + " " + r.name
	if old, ok := rs.byKey[key]; ok {
		*old = *r
		return
	}
	rs.byKey[key] = r
	rs.all = append(rs.all, r)
}

func pkgBase(pkg string) string {
	return pkg[strings.LastIndex(pkg, "/")+1:]
}

// get returns a metric of a benchmark, by the last element of its package
// path and its name.
func (rs *results) get(pkg, name, unit string) (float64, bool) {
	r, ok := rs.byKey[pkg+" "+name]
	if !ok {
		return 0, false
	}
	v, ok := r.metrics[unit]
	return v, ok
}

// machine describes where the benchmarks ran.
type machine struct {
	cpu     string
	cores   int
	goVer   string
	goOS    string
	goArch  string
	threads int // logical CPUs the Go runtime sees
}

func machineInfo(rs *results) machine {
	m := machine{cpu: rs.cpu, goVer: runtime.Version(), goOS: runtime.GOOS, goArch: runtime.GOARCH, threads: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpu, cores := parseCPUInfo(string(data))
		if cpu != "" {
			m.cpu = cpu
		}
		m.cores = cores
	}
	return m
}

// parseCPUInfo returns the first model name and the number of processors.
func parseCPUInfo(text string) (model string, processors int) {
	for line := range strings.SplitSeq(text, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "processor":
			processors++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(value)
			}
		}
	}
	return model, processors
}

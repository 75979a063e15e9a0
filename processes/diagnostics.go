package processes

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic is one problem found while loading components: where it was
// written, the dotted path of the component part
// (processes.orders.steps[2].route.cases[0].when), what is wrong and, when
// there is one, how to fix it. A Diagnostic never quotes a secret's value.
type Diagnostic struct {
	Pos  Pos    `json:"pos"`
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg"`
	Hint string `json:"hint,omitempty"`
}

// Error formats the diagnostic as
// `orders.yaml:14:7: processes.orders.steps[2]: unknown step "rout" (did you mean "route"?)`.
func (d Diagnostic) Error() string {
	var b strings.Builder
	if where := d.where(); where != "" {
		b.WriteString(where)
		b.WriteString(": ")
	}
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	if d.Hint != "" {
		b.WriteString(" (")
		b.WriteString(d.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// where is Pos without the parts that are unknown: a YAML syntax error
// knows its line but not its column.
func (d Diagnostic) where() string {
	switch {
	case d.Pos.Line == 0:
		return d.Pos.File
	case d.Pos.Col == 0 && d.Pos.File != "":
		return fmt.Sprintf("%s:%d", d.Pos.File, d.Pos.Line)
	case d.Pos.Col == 0:
		return fmt.Sprintf("%d", d.Pos.Line)
	}
	return d.Pos.String()
}

// Diagnostics is every problem found in one load, sorted by position. It is
// the error Load returns when the components are not valid; use errors.As
// to get at the list.
type Diagnostics []Diagnostic

// Error lists the diagnostics, one a line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted returns the diagnostics in file, line and column order, without
// duplicates (a reference checked from two places reports once).
func (ds Diagnostics) sorted() Diagnostics {
	out := append(Diagnostics(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	uniq := out[:0]
	for i, d := range out {
		if i > 0 && d == out[i-1] {
			continue
		}
		uniq = append(uniq, d)
	}
	return uniq
}

// didYouMean returns `did you mean "x"?` for the candidate closest to
// word, or "" when none is close enough to be a likely typo.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

// suggest returns the candidate closest to word by edit distance
// (insertions, deletions, substitutions and swaps of neighbours), ignoring
// case, or "" when the closest is too far to be a typo. Ties go to the
// first candidate, so sorted candidates give stable answers.
func suggest(word string, candidates []string) string {
	if word == "" {
		return ""
	}
	lw := strings.ToLower(word)
	best, bestDist := "", -1
	for _, c := range candidates {
		if c == word {
			continue
		}
		d := editDistance(lw, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// One edit in four characters, at least one and at most three: "rout"
	// finds "route", "setings" finds "settings", "jq" does not find "if".
	limit := min(max(len([]rune(word))/4, 1), 3)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// counted in runes: Levenshtein plus the swap of two neighbours, the most
// common typo ("rotue").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows are enough: the swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// orList renders names as `a, b or c`, for hints that list what is allowed.
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

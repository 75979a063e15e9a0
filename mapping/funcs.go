package mapping

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// layoutNames are the date layouts that formatDate and parseDate accept
// by name; any other layout is a Go layout ("2006-01-02 15:04").
var layoutNames = map[string]string{
	"ANSIC":       time.ANSIC,
	"UnixDate":    time.UnixDate,
	"RubyDate":    time.RubyDate,
	"RFC822":      time.RFC822,
	"RFC822Z":     time.RFC822Z,
	"RFC850":      time.RFC850,
	"RFC1123":     time.RFC1123,
	"RFC1123Z":    time.RFC1123Z,
	"RFC3339":     time.RFC3339,
	"RFC3339Nano": time.RFC3339Nano,
	"ISO8601":     time.RFC3339,
	"Kitchen":     time.Kitchen,
	"Stamp":       time.Stamp,
	"StampMilli":  time.StampMilli,
	"StampMicro":  time.StampMicro,
	"StampNano":   time.StampNano,
	"DateTime":    time.DateTime,
	"DateOnly":    time.DateOnly,
	"TimeOnly":    time.TimeOnly,
	// Salesforce's REST date-time, "2024-05-01T09:30:00.000+0000".
	"Salesforce": "2006-01-02T15:04:05.000-0700",
}

// layout resolves a layout name; other strings are Go layouts.
func layout(name string) string {
	if l, ok := layoutNames[name]; ok {
		return l
	}
	return name
}

// autoLayouts are tried, in order, when a date is read without a layout:
// the forms Salesforce and most JSON producers write.
var autoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	time.DateOnly,
}

// offsetFirst is autoLayouts for text ending in "+0000" (Salesforce's
// form), tried first so that a common date costs one parse, not two.
var offsetFirst = append([]string{autoLayouts[1]}, autoLayouts[0])

func autoLayoutsFor(s string) []string {
	n := len(s)
	if n > 20 && (s[n-5] == '+' || s[n-5] == '-') && s[n-3] != ':' {
		return offsetFirst
	}
	return autoLayouts
}

// locations caches time zones, since time.LoadLocation reads the zone
// database on every call.
var locations sync.Map // string → *time.Location

func location(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as \"Europe/Paris\", or \"UTC\")", name)
	}
	locations.Store(name, l)
	return l, nil
}

// toTime reads a time.Time, a date string in one of autoLayouts, or a
// number of milliseconds since 1970 (as Salesforce's Pub/Sub API and
// JavaScript write dates).
func toTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		return parseDate(t, "", "")
	case nil:
		return time.Time{}, fmt.Errorf("%w: got null, want a date (use default(x, ...) for a fallback)", ErrType)
	}
	if ms, ok := toFloat(v); ok {
		return time.UnixMilli(int64(ms)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: got %s, want a date", ErrType, typeName(v))
}

// parseDate reads s with a layout (a name or a Go layout) in the time zone
// tz (for layouts without a zone; UTC when empty). An empty layout tries
// the common forms in autoLayouts.
func parseDate(s, layoutName, tz string) (time.Time, error) {
	loc, err := location(tz)
	if err != nil {
		return time.Time{}, err
	}
	if layoutName != "" {
		t, err := time.ParseInLocation(layout(layoutName), s, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("date %q does not match layout %q", s, layoutName)
		}
		return t, nil
	}
	for _, l := range autoLayoutsFor(s) {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a date (give a layout, such as parseDate(s, \"02/01/2006\"))", s)
}

// formatDate writes a date with a layout, in the time zone tz when given.
func formatDate(v any, layoutName, tz string) (string, error) {
	t, err := toTime(v)
	if err != nil {
		return "", err
	}
	if tz != "" {
		loc, err := location(tz)
		if err != nil {
			return "", err
		}
		t = t.In(loc)
	}
	return t.Format(layout(layoutName)), nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string { return uuid.NewString() }

// substr returns length runes of s from start; a negative start counts
// from the end. It clamps to the string rather than failing, as a mapping
// usually wants "at most the first 40 characters".
func substr(s string, start, length int) string {
	n := utf8.RuneCountInString(s)
	if start < 0 {
		start = max(n+start, 0)
	}
	if start >= n || length <= 0 {
		return ""
	}
	end := min(start+length, n)
	if n == len(s) { // ASCII: byte offsets are rune offsets
		return s[start:end]
	}
	r := []rune(s)
	return string(r[start:end])
}

// pad pads s to width runes with pad (one character), on the left or right.
func pad(s string, width int, with string, left bool) (string, error) {
	if utf8.RuneCountInString(with) != 1 {
		return "", fmt.Errorf("%w: pad must be one character, got %q", ErrType, with)
	}
	n := width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s, nil
	}
	if n > 1<<16 {
		return "", fmt.Errorf("%w: width %d is too large", ErrType, width)
	}
	fill := strings.Repeat(with, n)
	if left {
		return fill + s, nil
	}
	return s + fill, nil
}

// round rounds x to places decimals, halves away from zero; negative
// places round to tens, hundreds and so on.
func round(x float64, places int) (float64, error) {
	if places < -15 || places > 15 {
		return 0, fmt.Errorf("%w: places %d out of range -15..15", ErrType, places)
	}
	p := math.Pow10(places)
	r := math.Round(x*p) / p
	if math.IsInf(r, 0) || math.IsNaN(r) { // x*p overflowed: x has no such decimals anyway
		return x, nil
	}
	return r, nil
}

// toNumber reads a number, or a string holding one.
func toNumber(v any) (float64, error) {
	if f, ok := toFloat(v); ok {
		return f, nil
	}
	switch t := v.(type) {
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("%w: %q is not a number", ErrType, t)
		}
		return f, nil
	case nil:
		return 0, fmt.Errorf("%w: got null, want a number (use default(x, 0) for a fallback)", ErrType)
	}
	return 0, fmt.Errorf("%w: got %s, want a number", ErrType, typeName(v))
}

// isEmpty says whether default should replace v: null or "".
func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// numberFormat is a parsed formatNumber pattern such as "$#,##0.00".
type numberFormat struct {
	prefix, suffix string
	minInt         int  // digits always written before the point ("0" count)
	minFrac        int  // decimals always written
	maxFrac        int  // decimals written at most
	group          bool // thousands separators
}

// parseNumberFormat reads a pattern made of '#' (optional digit), '0'
// (required digit), ',' (group thousands) and '.' (decimal point), with
// any literal text before and after ("$#,##0.00", "0.0 %").
func parseNumberFormat(p string) (numberFormat, error) {
	first := strings.IndexAny(p, "#0,.")
	last := strings.LastIndexAny(p, "#0,.")
	if first < 0 {
		return numberFormat{}, fmt.Errorf("%w: number pattern %q has no digits (want one like \"#,##0.00\")", ErrType, p)
	}
	f := numberFormat{prefix: p[:first], suffix: p[last+1:]}
	core := p[first : last+1]
	intPart, frac, hasPoint := strings.Cut(core, ".")
	if hasPoint && strings.ContainsAny(frac, ".,") {
		return numberFormat{}, fmt.Errorf("%w: number pattern %q is malformed (want one like \"#,##0.00\")", ErrType, p)
	}
	for _, c := range intPart {
		switch c {
		case '0':
			f.minInt++
		case ',':
			f.group = true
		case '#':
		default:
			return numberFormat{}, fmt.Errorf("%w: number pattern %q has %q among its digits", ErrType, p, c)
		}
	}
	for _, c := range frac {
		switch c {
		case '0':
			f.minFrac++
			f.maxFrac++
		case '#':
			f.maxFrac++
		default:
			return numberFormat{}, fmt.Errorf("%w: number pattern %q has %q among its decimals", ErrType, p, c)
		}
	}
	return f, nil
}

// formatNumber writes x after a pattern (see parseNumberFormat).
func formatNumber(x float64, pattern string) (string, error) {
	f, err := parseNumberFormat(pattern)
	if err != nil {
		return "", err
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "", fmt.Errorf("%w: %v is not a number", ErrType, x)
	}
	r, _ := round(x, f.maxFrac)
	s := strconv.FormatFloat(math.Abs(r), 'f', f.maxFrac, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	for len(frac) > f.minFrac && strings.HasSuffix(frac, "0") {
		frac = frac[:len(frac)-1]
	}
	if intPart == "0" && f.minInt == 0 && frac != "" {
		intPart = ""
	}
	if len(intPart) < f.minInt {
		intPart = strings.Repeat("0", f.minInt-len(intPart)) + intPart
	}
	if f.group {
		intPart = groupThousands(intPart)
	}
	var b strings.Builder
	b.WriteString(f.prefix)
	if r < 0 {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	b.WriteString(f.suffix)
	return b.String(), nil
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// tables holds a mapping's lookup tables, normalized to JSON values once.
type tables map[string]map[string]any

// newTables normalizes lookup tables (YAML gives ints, jq wants JSON
// values) into a copy the mapping owns.
func newTables(in map[string]map[string]any) (tables, error) {
	t := make(tables, len(in))
	for name, table := range in {
		m := make(map[string]any, len(table))
		for k, v := range table {
			n, err := normalize(v)
			if err != nil {
				return nil, fmt.Errorf("lookup table %q: key %q: %w", name, k, err)
			}
			m[k] = cloneValue(n)
		}
		t[name] = m
	}
	return t, nil
}

// asMap returns the tables as the map[string]any that jq's $lookups wants.
func (t tables) asMap() map[string]any {
	m := make(map[string]any, len(t))
	for name, table := range t {
		m[name] = map[string]any(table)
	}
	return m
}

// lookup finds key (as text) in a table. With a fallback (hasFallback),
// a missing key gives the fallback; without, it is an error, so that an
// unexpected code fails loudly instead of mapping to null.
func (t tables) lookup(table string, key any, fallback any, hasFallback bool) (any, error) {
	m, ok := t[table]
	if !ok {
		return nil, fmt.Errorf("%w: no lookup table %q%s", ErrLookup, table, t.have())
	}
	k, err := toText(key)
	if err != nil {
		return nil, err
	}
	v, ok := m[k]
	if !ok {
		if hasFallback {
			return fallback, nil
		}
		return nil, fmt.Errorf("%w: no key %q in lookup table %q (add it, or give a default: lookup(%q, key, default))", ErrLookup, k, table, table)
	}
	return v, nil
}

func (t tables) has(name string) bool {
	_, ok := t[name]
	return ok
}

// have lists the table names for an error message.
func (t tables) have() string {
	if len(t) == 0 {
		return " (the mapping defines no lookups)"
	}
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, strconv.Quote(n))
	}
	slices.Sort(names)
	return " (have " + strings.Join(names, ", ") + ")"
}

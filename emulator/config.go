package emulator

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

// Config describes an emulated org: its platform events, users, connected
// apps, timeouts and limits. Zero fields take the defaults documented on
// each field; sections left empty (events, users, apps) take the built-in
// ones from DefaultConfig.
type Config struct {
	// OrgID is the 15- or 18-character organization ID (00D...); it appears
	// in access tokens and in the identity URL. Default 00DAT0000000001.
	OrgID string `yaml:"org_id"`
	// APIVersion is the newest REST and Streaming API version served, e.g.
	// "62.0". Default 62.0; versions from 31.0 (REST) and 37.0 (CometD) up to
	// it are accepted.
	APIVersion string `yaml:"api_version"`
	// Listen is the address Start listens on. Default 127.0.0.1:0.
	Listen string `yaml:"listen"`
	// SessionTimeout is how long an access token stays valid after its last
	// use. Default 2h.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Retention is how long the bus keeps an event. Default 72h.
	Retention time.Duration `yaml:"retention"`
	// Persistence is a file that keeps the bus across restarts of the
	// emulator; empty keeps it in memory only.
	Persistence string `yaml:"persistence"`
	// CometD tunes the Streaming API.
	CometD CometDConfig `yaml:"cometd"`
	// Limits sets the org's allocations reported by /limits.
	Limits LimitsConfig `yaml:"limits"`
	// Events are the platform event definitions.
	Events []EventDef `yaml:"events"`
	// Users can log in with the password grant and own sessions.
	Users []User `yaml:"users"`
	// Apps are connected apps: OAuth clients.
	Apps []App `yaml:"apps"`
	// Logger receives the emulator's logs; nil discards them.
	Logger *zerolog.Logger `yaml:"-"`

	// file is where the configuration was loaded from, for relative paths.
	file string
}

// CometDConfig tunes the Streaming API endpoint.
type CometDConfig struct {
	// Timeout is advice.timeout: how long a /meta/connect is held when no
	// event arrives. Default 110s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxInterval is how long the server remembers a client between two
	// requests before it answers 403::Unknown client. Default 40s.
	MaxInterval time.Duration `yaml:"max_interval"`
	// MaxBatch caps the events in one connect response. Default 500.
	MaxBatch int `yaml:"max_batch"`
	// MaxResponseBytes caps the size of one connect response (one event
	// always fits). Default 1 MiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
}

// LimitsConfig sets the allocations reported by /limits; each counts down as
// it is used and resets at the end of its window.
type LimitsConfig struct {
	// DailyAPIRequests is DailyApiRequests: REST calls per 24 hours.
	// Default 15000. At zero remaining, REST answers 403 REQUEST_LIMIT_EXCEEDED.
	DailyAPIRequests int `yaml:"daily_api_requests"`
	// HourlyPublishedEvents is HourlyPublishedPlatformEvents. Default 50000.
	// At zero remaining, a publish fails with LIMIT_EXCEEDED.
	HourlyPublishedEvents int `yaml:"hourly_published_events"`
	// DailyDeliveredEvents is DailyDeliveredPlatformEvents: events delivered
	// to CometD clients per 24 hours. Default 50000. Counted, not enforced.
	DailyDeliveredEvents int `yaml:"daily_delivered_events"`
	// ConcurrentClients is DurableStreamingApiConcurrentClients. Default 2000.
	// Counted, not enforced.
	ConcurrentClients int `yaml:"concurrent_clients"`
}

// EventDef defines a platform event.
type EventDef struct {
	// Name is the API name, ending in __e.
	Name string `yaml:"name"`
	// Label is shown by describe; default derived from Name.
	Label string `yaml:"label"`
	// Description is free text, shown nowhere but the YAML.
	Description string `yaml:"description"`
	// Fields are the custom fields, in the order subscribers see them.
	Fields []FieldDef `yaml:"fields"`
}

// FieldDef defines one custom field of a platform event.
type FieldDef struct {
	// Name is the API name, ending in __c.
	Name string `yaml:"name"`
	// Type is one of string (or text, textarea), double (or number), int,
	// boolean, date, datetime.
	Type string `yaml:"type"`
	// Required makes a publish without the field fail with
	// REQUIRED_FIELD_MISSING.
	Required bool `yaml:"required"`
	// Length is the maximum length of a string field. Default 255.
	Length int `yaml:"length"`
	// Label is shown by describe; default derived from Name.
	Label string `yaml:"label"`
	// Description is free text.
	Description string `yaml:"description"`
}

// User is an org user.
type User struct {
	// Username looks like an email address; matched case-insensitively.
	Username string `yaml:"username"`
	// Password is the user's password.
	Password string `yaml:"password"`
	// SecurityToken, when set, must be appended to the password in the
	// password grant (as Salesforce requires outside trusted IP ranges).
	SecurityToken string `yaml:"security_token"`
	// Name is the display name.
	Name string `yaml:"name"`
	// ID is the 18-character user ID (005...); generated when empty.
	ID string `yaml:"id"`
}

// App is a connected app, an OAuth client.
type App struct {
	// Name is the app's label.
	Name string `yaml:"name"`
	// ClientID is the consumer key.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the consumer secret.
	ClientSecret string `yaml:"client_secret"`
	// Certificate is a PEM certificate or public key (RSA) that verifies
	// JWT bearer assertions.
	Certificate string `yaml:"certificate"`
	// CertificateFile is a file holding Certificate, relative to the
	// configuration file.
	CertificateFile string `yaml:"certificate_file"`
	// RunAs is the username the client-credentials grant runs as; without
	// it that grant fails with "no client credentials user enabled".
	RunAs string `yaml:"run_as"`
	// RefreshTokens are refresh tokens issued out of band (as by the web
	// server flow), usable with the refresh_token grant.
	RefreshTokens []RefreshToken `yaml:"refresh_tokens"`
}

// RefreshToken is a refresh token a user granted an app.
type RefreshToken struct {
	// Username is the user the token logs in as.
	Username string `yaml:"username"`
	// Token is the refresh token itself.
	Token string `yaml:"token"`
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultConfig returns the built-in configuration: demo events
// (Order_Placed__e, Printer_Low_Ink__e, Opportunity_Won__e), one user and
// one connected app. See default.yaml in this package.
func DefaultConfig() Config {
	cfg, err := parseConfig("default.yaml", defaultYAML)
	if err != nil {
		// default.yaml is part of the package and a test parses it, so
		// this cannot happen in a released build.
		return Config{}
	}
	return cfg
}

// LoadConfig reads and validates an emulator configuration file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read emulator config: %w", err)
	}
	return parseConfig(path, data)
}

// ParseConfig parses and validates an emulator configuration; relative
// file paths in it are taken from the working directory.
func ParseConfig(data []byte) (Config, error) {
	return parseConfig("", data)
}

func parseConfig(name string, data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalidConfig, prefixed(name, err.Error()))
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	cfg.file = name
	if problems := validate(&cfg, &root); len(problems) > 0 {
		for i, p := range problems {
			problems[i] = prefixed(name, p)
		}
		return Config{}, fmt.Errorf("%w:\n%s", ErrInvalidConfig, strings.Join(problems, "\n"))
	}
	return cfg, nil
}

func prefixed(file, msg string) string {
	if file == "" {
		return msg
	}
	return file + ":" + msg
}

// Field types as describe reports them.
const (
	typeString   = "string"
	typeDouble   = "double"
	typeInt      = "int"
	typeBoolean  = "boolean"
	typeDate     = "date"
	typeDatetime = "datetime"
)

var typeAliases = map[string]string{
	"string": typeString, "text": typeString, "textarea": typeString,
	"double": typeDouble, "number": typeDouble, "decimal": typeDouble, "currency": typeDouble, "percent": typeDouble,
	"int": typeInt, "integer": typeInt,
	"boolean": typeBoolean, "bool": typeBoolean, "checkbox": typeBoolean,
	"date":     typeDate,
	"datetime": typeDatetime, "date_time": typeDatetime,
}

var (
	eventNameRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__)?[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__e$`)
	fieldNameRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__)?[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$`)
	versionRE   = regexp.MustCompile(`^[0-9]{2}\.0$`)
)

// validate checks everything and normalizes field types; it returns every
// problem, each starting with line:column and the dotted path.
func validate(cfg *Config, root *yaml.Node) []string {
	var problems []string
	add := collector(&problems, root)
	if cfg.OrgID != "" && (!strings.HasPrefix(cfg.OrgID, "00D") || (len(cfg.OrgID) != 15 && len(cfg.OrgID) != 18)) {
		add(fmt.Sprintf("%q is not an organization ID (want 15 or 18 characters starting with 00D)", cfg.OrgID), "org_id")
	}
	if cfg.APIVersion != "" {
		if v, err := strconv.ParseFloat(cfg.APIVersion, 64); err != nil || !versionRE.MatchString(cfg.APIVersion) || v < minCometDVersion {
			add(fmt.Sprintf("%q is not an API version (want one like 62.0, at least 37.0)", cfg.APIVersion), "api_version")
		}
	}
	for _, d := range []struct {
		v    time.Duration
		path string
	}{{cfg.SessionTimeout, "session_timeout"}, {cfg.Retention, "retention"}, {cfg.CometD.Timeout, "cometd.timeout"}, {cfg.CometD.MaxInterval, "cometd.max_interval"}} {
		if d.v < 0 {
			add(fmt.Sprintf("negative duration %s (want a positive one like 90s, or leave it out for the default)", d.v), splitPath(d.path)...)
		}
	}
	for _, n := range []struct {
		v    int
		path string
	}{{cfg.CometD.MaxBatch, "cometd.max_batch"}, {cfg.CometD.MaxResponseBytes, "cometd.max_response_bytes"}, {cfg.Limits.DailyAPIRequests, "limits.daily_api_requests"}, {cfg.Limits.HourlyPublishedEvents, "limits.hourly_published_events"}, {cfg.Limits.DailyDeliveredEvents, "limits.daily_delivered_events"}, {cfg.Limits.ConcurrentClients, "limits.concurrent_clients"}} {
		if n.v < 0 {
			add(fmt.Sprintf("negative number %d (want a positive one, or leave it out for the default)", n.v), splitPath(n.path)...)
		}
	}
	problems = append(problems, validateEvents(cfg, root)...)
	problems = append(problems, validateUsers(cfg, root)...)
	problems = append(problems, validateApps(cfg, root)...)
	return problems
}

func validateEvents(cfg *Config, root *yaml.Node) []string {
	var problems []string
	add := collector(&problems, root)
	seen := map[string]bool{}
	for i := range cfg.Events {
		ev := &cfg.Events[i]
		switch {
		case ev.Name == "":
			add("missing name (want an API name ending in __e, like Order_Placed__e)", "events", i, "name")
		case !eventNameRE.MatchString(ev.Name):
			add(fmt.Sprintf("%q is not a platform event API name (want letters, digits and single underscores, ending in __e)", ev.Name), "events", i, "name")
		case seen[strings.ToLower(ev.Name)]:
			add(fmt.Sprintf("event %q defined twice", ev.Name), "events", i, "name")
		}
		seen[strings.ToLower(ev.Name)] = true
		fields := map[string]bool{}
		for j := range ev.Fields {
			f := &ev.Fields[j]
			switch {
			case f.Name == "":
				add("missing name (want an API name ending in __c)", "events", i, "fields", j, "name")
			case !fieldNameRE.MatchString(f.Name):
				add(fmt.Sprintf("%q is not a custom field API name (want letters, digits and single underscores, ending in __c)", f.Name), "events", i, "fields", j, "name")
			case fields[strings.ToLower(f.Name)]:
				add(fmt.Sprintf("field %q defined twice", f.Name), "events", i, "fields", j, "name")
			}
			fields[strings.ToLower(f.Name)] = true
			canonical, ok := typeAliases[strings.ToLower(f.Type)]
			if !ok {
				add(fmt.Sprintf("unknown type %q (want string, text, number, double, int, boolean, date or datetime)", f.Type), "events", i, "fields", j, "type")
				continue
			}
			f.Type = canonical
			if f.Length < 0 || f.Length > 131072 {
				add(fmt.Sprintf("length %d out of range (want 1 to 131072)", f.Length), "events", i, "fields", j, "length")
			}
		}
	}
	return problems
}

func validateUsers(cfg *Config, root *yaml.Node) []string {
	var problems []string
	add := collector(&problems, root)
	seen := map[string]bool{}
	for i, u := range cfg.Users {
		switch {
		case !strings.Contains(u.Username, "@"):
			add(fmt.Sprintf("%q is not a username (want one shaped like an email address)", u.Username), "users", i, "username")
		case seen[strings.ToLower(u.Username)]:
			add(fmt.Sprintf("user %q defined twice", u.Username), "users", i, "username")
		}
		seen[strings.ToLower(u.Username)] = true
		if u.Password == "" {
			add("missing password", "users", i, "password")
		}
		if u.ID != "" && (!strings.HasPrefix(u.ID, "005") || len(u.ID) != 18) {
			add(fmt.Sprintf("%q is not a user ID (want 18 characters starting with 005, or leave it out)", u.ID), "users", i, "id")
		}
	}
	return problems
}

func validateApps(cfg *Config, root *yaml.Node) []string {
	var problems []string
	add := collector(&problems, root)
	users := map[string]bool{}
	for _, u := range cfg.Users {
		users[strings.ToLower(u.Username)] = true
	}
	if len(cfg.Users) == 0 {
		for _, u := range DefaultConfig().Users {
			users[strings.ToLower(u.Username)] = true
		}
	}
	seen := map[string]bool{}
	for i := range cfg.Apps {
		app := &cfg.Apps[i]
		switch {
		case app.ClientID == "":
			add("missing client_id (the consumer key)", "apps", i, "client_id")
		case seen[app.ClientID]:
			add(fmt.Sprintf("client_id %q used by two apps", app.ClientID), "apps", i, "client_id")
		}
		seen[app.ClientID] = true
		if app.ClientSecret == "" {
			add("missing client_secret (the consumer secret)", "apps", i, "client_secret")
		}
		if app.RunAs != "" && !users[strings.ToLower(app.RunAs)] {
			add(fmt.Sprintf("run_as user %q is not among users", app.RunAs), "apps", i, "run_as")
		}
		if app.CertificateFile != "" {
			path := app.CertificateFile
			if !filepath.IsAbs(path) && cfg.file != "" {
				path = filepath.Join(filepath.Dir(cfg.file), path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				add(fmt.Sprintf("cannot read certificate: %v", err), "apps", i, "certificate_file")
			} else {
				app.Certificate = string(data)
			}
		}
		if app.Certificate != "" {
			if _, err := parsePublicKey(app.Certificate); err != nil {
				add(err.Error(), "apps", i, "certificate")
			}
		}
		for j, rt := range app.RefreshTokens {
			if rt.Token == "" {
				add("missing token", "apps", i, "refresh_tokens", j, "token")
			}
			if !users[strings.ToLower(rt.Username)] {
				add(fmt.Sprintf("user %q is not among users", rt.Username), "apps", i, "refresh_tokens", j, "username")
			}
		}
	}
	return problems
}

// parsePublicKey reads an RSA public key from a PEM certificate or public key.
func parsePublicKey(pemText string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("not PEM (want a -----BEGIN CERTIFICATE----- or -----BEGIN PUBLIC KEY----- block)")
	}
	var key any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		key = cert.PublicKey
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		key = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		key = k
	default:
		return nil, fmt.Errorf("PEM block %q is neither a certificate nor a public key", block.Type)
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key (JWT bearer assertions are RS256)")
	}
	return rsaKey, nil
}

// collector returns a function that records a problem at a path, prefixed
// with its line and column when the configuration came from YAML.
func collector(problems *[]string, root *yaml.Node) func(msg string, path ...any) {
	return func(msg string, path ...any) {
		if root == nil {
			*problems = append(*problems, fmt.Sprintf("%s: %s", dotted(path...), msg))
			return
		}
		*problems = append(*problems, fmt.Sprintf("%s: %s: %s", position(root, path...), dotted(path...), msg))
	}
}

func splitPath(p string) []any {
	parts := strings.Split(p, ".")
	out := make([]any, len(parts))
	for i, s := range parts {
		out[i] = s
	}
	return out
}

// dotted renders a path like events[0].fields[2].type.
func dotted(path ...any) string {
	var b strings.Builder
	for _, p := range path {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// position finds the line and column of path in the YAML tree, or of the
// deepest part of it that exists.
func position(root *yaml.Node, path ...any) string {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil || n.Kind == 0 {
		return "1:1"
	}
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			break
		}
		n = next
	}
	return fmt.Sprintf("%d:%d", n.Line, n.Column)
}

func child(n *yaml.Node, p any) *yaml.Node {
	switch v := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == v {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && v < len(n.Content) {
			return n.Content[v]
		}
	}
	return nil
}

// withDefaults fills zero fields with their defaults and empty sections
// with the built-in definitions.
func withDefaults(cfg Config) Config {
	if cfg.OrgID == "" {
		cfg.OrgID = defaultOrgID
	}
	if len(cfg.OrgID) == 15 {
		cfg.OrgID = salesforceID(cfg.OrgID)
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = defaultAPIVersion
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 2 * time.Hour
	}
	if cfg.Retention == 0 {
		cfg.Retention = 72 * time.Hour
	}
	if cfg.CometD.Timeout == 0 {
		cfg.CometD.Timeout = 110 * time.Second
	}
	if cfg.CometD.MaxInterval == 0 {
		cfg.CometD.MaxInterval = 40 * time.Second
	}
	if cfg.CometD.MaxBatch == 0 {
		cfg.CometD.MaxBatch = 500
	}
	if cfg.CometD.MaxResponseBytes == 0 {
		cfg.CometD.MaxResponseBytes = 1 << 20
	}
	if cfg.Limits.DailyAPIRequests == 0 {
		cfg.Limits.DailyAPIRequests = 15000
	}
	if cfg.Limits.HourlyPublishedEvents == 0 {
		cfg.Limits.HourlyPublishedEvents = 50000
	}
	if cfg.Limits.DailyDeliveredEvents == 0 {
		cfg.Limits.DailyDeliveredEvents = 50000
	}
	if cfg.Limits.ConcurrentClients == 0 {
		cfg.Limits.ConcurrentClients = 2000
	}
	if len(cfg.Events) == 0 || len(cfg.Users) == 0 || len(cfg.Apps) == 0 {
		def := DefaultConfig()
		if len(cfg.Events) == 0 {
			cfg.Events = def.Events
		}
		if len(cfg.Users) == 0 {
			cfg.Users = def.Users
		}
		if len(cfg.Apps) == 0 {
			cfg.Apps = def.Apps
		}
	}
	return cfg
}

const (
	defaultOrgID      = "00DAT0000000001"
	defaultAPIVersion = "62.0"
	minRESTVersion    = 31.0
	minCometDVersion  = 37.0
)

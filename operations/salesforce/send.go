package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// maxGather bounds how long a batch gathers requests, with linger 0,
// while other batches are in flight.
const maxGather = 50 * time.Millisecond

// maxInFlight is how many batches one sender has in flight at once: enough
// to keep publishing while a batch waits for its answer, few enough to stay
// polite with the org's API limits.
const maxInFlight = 4

// errClosed is returned by sends still waiting when the connection closes.
var errClosed = errors.New("salesforce connection closed")

// sendConfig is a Send operation's validated settings.
type sendConfig struct {
	event        string
	batch        int
	linger       time.Duration
	maxRetry     time.Duration
	retryInitial time.Duration
	retryMax     time.Duration
}

func parseSendConfig(s operations.Settings) (sendConfig, error) {
	cfg := sendConfig{
		event:        s.String("event"),
		batch:        int(s.Int("batchSize")),
		linger:       s.Duration("linger"),
		maxRetry:     s.Duration("maxRetryTime"),
		retryInitial: s.Duration("retryInitial"),
		retryMax:     s.Duration("retryMax"),
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !eventPattern.MatchString(cfg.event) {
		bad("event %q is not a platform event API name (want e.g. Order__e)", cfg.event)
	}
	if cfg.batch < 1 || cfg.batch > maxBatch {
		bad("batchSize %d must be between 1 and %d", cfg.batch, maxBatch)
	}
	if cfg.linger < 0 {
		bad("linger %s must not be negative", cfg.linger)
	}
	if cfg.maxRetry < 0 {
		bad("maxRetryTime %s must not be negative", cfg.maxRetry)
	}
	if cfg.retryInitial <= 0 || cfg.retryMax < cfg.retryInitial {
		bad("retryInitial (%s) must be positive and at most retryMax (%s)", cfg.retryInitial, cfg.retryMax)
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("%w: %s", ErrSettings, strings.Join(problems, "; "))
	}
	return cfg, nil
}

// PublishError is a publish Salesforce refused for good. It wraps
// operations.ErrPermanent, so the runtime dead-letters the document with
// Salesforce's codes and messages.
type PublishError struct {
	Event  string
	Status int // the HTTP status of the request; 200 for a record refused within a batch
	Errors []RecordError
}

// RecordError is one of Salesforce's reasons for refusing a record.
type RecordError struct {
	Code    string   `json:"code"` // statusCode or errorCode, such as INVALID_FIELD
	Message string   `json:"message"`
	Fields  []string `json:"fields,omitempty"`
}

// Error implements error.
func (e *PublishError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, re := range e.Errors {
		p := re.Code + ": " + re.Message
		if len(re.Fields) > 0 {
			p += " (fields " + strings.Join(re.Fields, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("publish %s: salesforce refused it (HTTP %d): %s", e.Event, e.Status, strings.Join(parts, "; "))
}

// Unwrap implements errors.Unwrap: a PublishError is permanent.
func (e *PublishError) Unwrap() error { return operations.ErrPermanent }

func newPublishError(event string, status int, errs []restError) *PublishError {
	pe := &PublishError{Event: event, Status: status}
	for _, e := range errs {
		pe.Errors = append(pe.Errors, RecordError{Code: e.code(), Message: e.Message, Fields: e.Fields})
	}
	return pe
}

// sender is a Send operation.
type sender struct {
	c     *conn
	op    string
	cfg   sendConfig
	log   zerolog.Logger
	reqs  chan *pending
	slots chan struct{} // batches in flight
	freed chan struct{} // a batch finished: signalled, never blocking
	start sync.Once
}

func newSender(c *conn, op string, cfg sendConfig) *sender {
	return &sender{
		c:     c,
		op:    op,
		cfg:   cfg,
		log:   c.log.With().Str("operation", op).Str("event", cfg.event).Logger(),
		reqs:  make(chan *pending, cfg.batch),
		slots: make(chan struct{}, maxInFlight),
		freed: make(chan struct{}, 1),
	}
}

// pending is one Send call waiting for its record's result.
type pending struct {
	ctx    context.Context
	fields []byte // the record's custom fields, as a JSON object
	done   chan result
}

type result struct {
	doc operations.Document
	err error
}

func (p *pending) finish(doc operations.Document, err error) { p.done <- result{doc, err} }

// Send implements operations.Sender.
func (s *sender) Send(ctx context.Context, doc operations.Document) (operations.Document, error) {
	fields, _, err := customFields(s.cfg.event, doc.Body)
	if err != nil {
		return operations.Document{}, err
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return operations.Document{}, fmt.Errorf("publish %s: encode the record: %v: %w", s.cfg.event, err, operations.ErrPermanent)
	}
	p := &pending{ctx: ctx, fields: raw, done: make(chan result, 1)}
	if s.cfg.batch == 1 {
		s.flush(ctx, []*pending{p})
		select {
		case r := <-p.done:
			return r.doc, r.err
		default: // flush gave up on the record because ctx ended
			return operations.Document{}, ctx.Err()
		}
	}
	s.start.Do(func() { go s.batcher(s.c.ctx) })
	select {
	case s.reqs <- p:
	case <-ctx.Done():
		return operations.Document{}, ctx.Err()
	case <-s.c.ctx.Done():
		return operations.Document{}, errClosed
	}
	select {
	case r := <-p.done:
		return r.doc, r.err
	case <-ctx.Done():
		// The record may still be published; the caller gave up on it.
		return operations.Document{}, ctx.Err()
	case <-s.c.ctx.Done():
		return operations.Document{}, errClosed
	}
}

// customFields returns the body's custom fields (names ending in __c) and
// the names of the fields left out.
func customFields(event string, body any) (map[string]any, []string, error) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("publish %s: the document body must be a JSON object of the event's fields, not %T: %w", event, body, operations.ErrPermanent)
	}
	fields := make(map[string]any, len(m))
	var dropped []string
	for k, v := range m {
		if len(k) > 3 && strings.EqualFold(k[len(k)-3:], "__c") {
			fields[k] = v
		} else {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	if len(fields) == 0 && len(dropped) > 0 {
		return nil, nil, fmt.Errorf("publish %s: the body has no custom fields (names ending in __c), only %s; map the document to the event's fields: %w",
			event, strings.Join(dropped, ", "), operations.ErrPermanent)
	}
	return fields, dropped, nil
}

// batcher gathers concurrent sends into batches of up to batchSize,
// waiting at most linger for one to fill, and keeps up to maxInFlight
// batches in flight.
func (s *sender) batcher(ctx context.Context) {
	for {
		var first *pending
		select {
		case first = <-s.reqs:
		case <-ctx.Done():
			return
		}
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			first.finish(operations.Document{}, errClosed)
			return
		}
		batch := s.collect(ctx, first)
		go func() {
			defer func() {
				<-s.slots
				select {
				case s.freed <- struct{}{}:
				default:
				}
			}()
			s.flush(ctx, batch)
		}()
	}
}

// collect fills a batch that starts with first.
//
// With linger 0 (the default) it works like Nagle's algorithm: when no
// other batch is in flight the batch goes at once with whatever is
// waiting, so a lone caller never waits; while batches are in flight,
// requests gather until one of them finishes or the batch is full. Low
// concurrency gets low latency, high concurrency gets full batches. With
// a linger, the batch waits up to that long to fill, for the fewest calls.
func (s *sender) collect(ctx context.Context, first *pending) []*pending {
	batch := make([]*pending, 1, s.cfg.batch)
	batch[0] = first
	nagle := s.cfg.linger <= 0
	wait := s.cfg.linger
	if nagle {
		// A batch in flight may be retrying for minutes: never wait on it
		// longer than this.
		wait = maxGather
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	expired := timer.C
	for len(batch) < s.cfg.batch {
		if nagle && len(s.slots) <= 1 { // only this batch's own slot is taken
			return drain(s.reqs, batch, s.cfg.batch)
		}
		select {
		case p := <-s.reqs:
			batch = append(batch, p)
		case <-s.freed:
		case <-expired:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// drain adds the requests already waiting, up to size.
func drain(reqs chan *pending, batch []*pending, size int) []*pending {
	for len(batch) < size {
		select {
		case p := <-reqs:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// saveResult is Salesforce's answer for one record.
type saveResult struct {
	ID      string      `json:"id"`
	Success bool        `json:"success"`
	Errors  []restError `json:"errors"`
}

// flush publishes a batch, retrying what is worth retrying until
// maxRetryTime, and gives each caller its own record's result.
func (s *sender) flush(ctx context.Context, batch []*pending) {
	s.flushFrom(ctx, batch, time.Now())
}

func (s *sender) flushFrom(ctx context.Context, batch []*pending, start time.Time) {
	bo := backoff{initial: s.cfg.retryInitial, max: s.cfg.retryMax}
	todo := batch
	for attempt := 1; ; attempt++ {
		todo = waiting(todo)
		if len(todo) == 0 {
			return
		}
		if attempt == 1 {
			s.c.meter.Observe("batch_size", float64(len(todo)))
		}
		results, err := s.publish(ctx, todo)
		var refused *PublishError
		switch {
		case err == nil:
			todo, err = s.settle(todo, results)
			if len(todo) == 0 {
				return
			}
		case errors.As(err, &refused) && refused.Status == http.StatusBadRequest && len(todo) > 1:
			// Salesforce refused the whole request (one record's value of
			// the wrong JSON type fails them all): halve the batch until
			// the culprits stand alone, so that only they fail.
			s.log.Info().Err(err).Int("records", len(todo)).Msg("salesforce refused the whole batch; splitting it to find the records at fault")
			half := len(todo) / 2
			s.flushFrom(ctx, todo[:half], start)
			s.flushFrom(ctx, todo[half:], start)
			return
		case permanent(err):
			for _, p := range todo {
				p.finish(operations.Document{}, err)
			}
			return
		}
		wait := bo.next()
		if time.Since(start)+wait > s.cfg.maxRetry {
			err = fmt.Errorf("publish %s: gave up after %d attempts in %s (maxRetryTime %s): %w",
				s.cfg.event, attempt, time.Since(start).Round(time.Millisecond), s.cfg.maxRetry, err)
			for _, p := range todo {
				p.finish(operations.Document{}, err)
			}
			return
		}
		s.log.Warn().Err(err).Int("records", len(todo)).Int("attempt", attempt).Dur("retry_in", wait).Msg("salesforce publish failed; retrying")
		s.c.meter.Count("retries", 1)
		if !sleep(ctx, wait) {
			for _, p := range todo {
				p.finish(operations.Document{}, fmt.Errorf("publish %s: stopped retrying: %w (last error: %v)", s.cfg.event, ctx.Err(), err))
			}
			return
		}
	}
}

// waiting drops the callers that gave up (their context ended).
func waiting(todo []*pending) []*pending {
	kept := todo[:0:0]
	for _, p := range todo {
		if p.ctx.Err() == nil {
			kept = append(kept, p)
		}
	}
	return kept
}

// settle hands out each record's result and returns the records to try
// again, with the reason.
func (s *sender) settle(todo []*pending, results []saveResult) ([]*pending, error) {
	var retry []*pending
	var why error
	for i, p := range todo {
		r := results[i]
		switch {
		case r.Success:
			p.finish(s.answer(r), nil)
		case retryableRecord(r.Errors):
			retry = append(retry, p)
			why = fmt.Errorf("publish %s: %s", s.cfg.event, describe(r.Errors))
		default:
			p.finish(operations.Document{}, newPublishError(s.cfg.event, http.StatusOK, r.Errors))
		}
	}
	return retry, why
}

// answer is the document Send returns: {"id","success","eventUuid"}.
func (s *sender) answer(r saveResult) operations.Document {
	body := map[string]any{"id": r.ID, "success": true}
	props := map[string]string{"sf.id": r.ID}
	for _, e := range r.Errors {
		if e.code() == "OPERATION_ENQUEUED" && e.Message != "" {
			body["eventUuid"] = e.Message
			props["sf.eventUuid"] = e.Message
		}
	}
	return operations.Document{Body: body, Props: props}
}

// retryableRecord reports whether a record was refused for a reason that
// passes: limits and a publishing service that is briefly away.
func retryableRecord(errs []restError) bool {
	for _, e := range errs {
		switch e.code() {
		case "REQUEST_LIMIT_EXCEEDED", "LIMIT_EXCEEDED", "PLATFORM_EVENT_PUBLISHING_UNAVAILABLE",
			"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW":
			return true
		}
	}
	return false
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	return errors.Is(err, operations.ErrPermanent) || errors.Is(err, ErrAuth) || errors.Is(err, ErrSettings)
}

// publish makes one API call for todo: sobjects for a lone record of a
// single-record sender, composite/sobjects otherwise. A nil error means
// one result per record, in order.
func (s *sender) publish(ctx context.Context, todo []*pending) ([]saveResult, error) {
	single := s.cfg.batch == 1
	path, body := "/composite/sobjects", s.compositeBody(todo)
	if single {
		path, body = "/sobjects/"+s.cfg.event+"/", todo[0].fields
	}
	status, answer, err := s.c.callREST(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", s.cfg.event, err)
	}
	if status >= 300 {
		errs := restErrors(status, answer)
		if retryableStatus(status, errs) {
			return nil, fmt.Errorf("publish %s: HTTP %d %s", s.cfg.event, status, describe(errs))
		}
		return nil, newPublishError(s.cfg.event, status, errs)
	}
	if single {
		var r saveResult
		if err := json.Unmarshal(answer, &r); err != nil {
			return nil, fmt.Errorf("publish %s: decode the answer: %w", s.cfg.event, err)
		}
		return []saveResult{r}, nil
	}
	var results []saveResult
	if err := json.Unmarshal(answer, &results); err != nil {
		return nil, fmt.Errorf("publish %s: decode the answer: %w", s.cfg.event, err)
	}
	if len(results) != len(todo) {
		return nil, fmt.Errorf("publish %s: salesforce answered %d results for %d records", s.cfg.event, len(results), len(todo))
	}
	return results, nil
}

// retryableStatus: 401 (a new token was tried already), 429, 5xx, and
// limits (403 REQUEST_LIMIT_EXCEEDED, 400 LIMIT_EXCEEDED).
func retryableStatus(status int, errs []restError) bool {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusTooManyRequests, status >= 500:
		return true
	}
	return retryableRecord(errs)
}

// compositeBody is {"allOrNone":false,"records":[{"attributes":{"type":E},...fields}]},
// spliced from the records' encoded fields.
func (s *sender) compositeBody(todo []*pending) []byte {
	attr := `{"attributes":{"type":"` + s.cfg.event + `"}`
	size := 40
	for _, p := range todo {
		size += len(attr) + len(p.fields) + 1
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"allOrNone":false,"records":[`)
	for i, p := range todo {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(attr)
		if len(p.fields) > 2 { // not "{}"
			b.WriteByte(',')
			b.Write(p.fields[1:])
		} else {
			b.WriteByte('}')
		}
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// DryRun implements operations.DryRunner: it describes the request a send
// would make, without making it.
func (s *sender) DryRun(doc operations.Document) (operations.Document, error) {
	fields, dropped, err := customFields(s.cfg.event, doc.Body)
	if err != nil {
		return operations.Document{}, err
	}
	path := "/services/data/v" + s.c.cfg.apiVersion + "/composite/sobjects"
	if s.cfg.batch == 1 {
		path = "/services/data/v" + s.c.cfg.apiVersion + "/sobjects/" + s.cfg.event + "/"
	}
	body := map[string]any{
		"method": http.MethodPost,
		"path":   path,
		"event":  s.cfg.event,
		"record": fields,
	}
	if len(dropped) > 0 {
		names := make([]any, len(dropped))
		for i, d := range dropped {
			names[i] = d
		}
		body["dropped"] = names
	}
	return operations.Document{Body: body, Props: map[string]string{"sf.dryRun": "true"}}, nil
}

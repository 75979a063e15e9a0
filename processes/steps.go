package processes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/atomrt/atom/operations"
)

// do runs one step's own work. An error that is not already a *StepError
// (or errStop) is the step's own failure; step wraps it.
func (r *runner) do(ctx context.Context, p *program, s *step, doc operations.Document, depth int, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	switch s.kind {
	case StepMap:
		body, err := s.mapping.Run(ctx, doc.Body, doc.Props)
		if err != nil {
			return doc, nil, false, err
		}
		doc.Body = body
		return doc, nil, true, nil
	case StepSet:
		return r.set(s, doc)
	case StepFilter:
		ok, err := s.cond.Bool(doc.Body, doc.Props)
		if err != nil {
			return doc, nil, false, fmt.Errorf("filter: %w", err)
		}
		return doc, nil, ok, nil
	case StepRoute:
		return r.route(ctx, p, s, doc, depth, st)
	case StepBranch:
		return r.branch(ctx, p, s, doc, depth, st)
	case StepCall:
		return r.call(ctx, p, s, doc, depth, st)
	case StepSend:
		return r.send(ctx, s, doc, st)
	case StepLog:
		r.logStep(p, s, doc, st)
		return doc, nil, true, nil
	case StepStop:
		return doc, nil, false, r.stop(s, doc)
	case StepTry:
		return r.try(ctx, p, s, doc, depth, st)
	case StepReply:
		return r.replyStep(ctx, s, doc, st)
	}
	// Compile rejects unknown kinds; this guards a hand-built program.
	return doc, nil, false, fmt.Errorf("unknown step kind %q", s.kind)
}

// continueWith turns the documents that left a nested block into what the
// step hands on: none ends the path, one continues, several fan out.
func continueWith(outs []operations.Document) (operations.Document, []operations.Document, bool) {
	switch len(outs) {
	case 0:
		return operations.Document{}, nil, false
	case 1:
		return outs[0], nil, true
	}
	return operations.Document{}, outs, true
}

// copyFor gives the i-th of n paths its document: a deep copy for all but
// the last, which takes the original (nothing else uses it after), so that
// no path can change what another sees.
func copyFor(doc operations.Document, i, n int) operations.Document {
	if i == n-1 {
		return doc
	}
	return doc.Clone()
}

func (r *runner) set(s *step, doc operations.Document) (operations.Document, []operations.Document, bool, error) {
	if doc.Props == nil {
		doc.Props = make(map[string]string, len(s.assigns))
	}
	for _, a := range s.assigns {
		v, err := a.expr.Eval(doc.Body, doc.Props)
		if err != nil {
			return doc, nil, false, fmt.Errorf("property %q: %w", a.prop, err)
		}
		if v == nil {
			delete(doc.Props, a.prop)
			continue
		}
		doc.Props[a.prop] = propText(v)
	}
	return doc, nil, true, nil
}

// propText writes a JSON value as a property: strings as they are, numbers
// without a trailing ".0" or an exponent below 1e21, objects and arrays as
// JSON.
func propText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case float64:
		if math.Abs(t) < 1e21 {
			return strconv.FormatFloat(t, 'f', -1, 64)
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case time.Time:
		return t.Format(time.RFC3339Nano)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

func (r *runner) route(ctx context.Context, p *program, s *step, doc operations.Document, depth int, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	rt := s.route
	if !rt.all {
		for i := range rt.cases {
			c := &rt.cases[i]
			ok, err := c.when.Bool(doc.Body, doc.Props)
			if err != nil {
				return doc, nil, false, fmt.Errorf("cases[%d].when: %w", i, err)
			}
			if ok {
				st.Note = c.note
				outs, err := r.block(ctx, p, c.steps, doc, depth, &st.Steps, nil)
				next, many, keep := continueWith(outs)
				return next, many, keep, err
			}
		}
		return r.otherwise(ctx, p, s, doc, depth, st)
	}
	// Every condition sees the document as it came in, before any case
	// ran.
	var matched []int
	for i := range rt.cases {
		ok, err := rt.cases[i].when.Bool(doc.Body, doc.Props)
		if err != nil {
			return doc, nil, false, fmt.Errorf("cases[%d].when: %w", i, err)
		}
		if ok {
			matched = append(matched, i)
		}
	}
	if len(matched) == 0 {
		return r.otherwise(ctx, p, s, doc, depth, st)
	}
	st.Note = "cases " + joinInts(matched)
	var outs []operations.Document
	for n, i := range matched {
		var err error
		outs, err = r.block(ctx, p, rt.cases[i].steps, copyFor(doc, n, len(matched)), depth, &st.Steps, outs)
		if err != nil {
			return doc, nil, false, err
		}
	}
	next, many, keep := continueWith(outs)
	return next, many, keep, nil
}

// otherwise runs a route's otherwise steps; with none, the document
// continues unchanged after the route.
func (r *runner) otherwise(ctx context.Context, p *program, s *step, doc operations.Document, depth int, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	if len(s.route.otherwise) == 0 {
		st.Note = "no case matched"
		return doc, nil, true, nil
	}
	st.Note = "otherwise"
	outs, err := r.block(ctx, p, s.route.otherwise, doc, depth, &st.Steps, nil)
	next, many, keep := continueWith(outs)
	return next, many, keep, err
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ", ")
}

func (r *runner) branch(ctx context.Context, p *program, s *step, doc operations.Document, depth int, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	var outs []operations.Document
	for i, b := range s.branches {
		var err error
		outs, err = r.block(ctx, p, b, copyFor(doc, i, len(s.branches)), depth, &st.Steps, outs)
		if err != nil {
			return doc, nil, false, err
		}
	}
	next, many, keep := continueWith(outs)
	return next, many, keep, nil
}

// call runs each sub-process in turn to completion, each on its own copy
// when there are several. The documents that reach a sub-process's end
// continue in the caller.
func (r *runner) call(ctx context.Context, p *program, s *step, doc operations.Document, depth int, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	if depth+1 > MaxCallDepth {
		return doc, nil, false, fmt.Errorf("%w (more than %d)", ErrCallDepth, MaxCallDepth)
	}
	var outs []operations.Document
	for i, callee := range s.calls {
		d := copyFor(doc, i, len(s.calls))
		sub := StepTrace{Path: s.callPath[i], Kind: "process", Label: callee.name, Pos: callee.pos}
		if r.opt.Trace {
			sub.Input = d.Body
		}
		start := time.Now()
		before := len(outs)
		var err error
		outs, err = r.block(ctx, callee, callee.steps, d, depth+1, &sub.Steps, outs)
		sub.Duration = time.Since(start)
		switch {
		case err == errStop:
			sub.Status = StatusStopped
		case err != nil:
			sub.Status, sub.Error = StatusFailed, err.Error()
		case len(outs) == before:
			sub.Status = StatusFiltered
		default:
			sub.Status = StatusOK
		}
		st.Steps = append(st.Steps, sub)
		if err == errStop {
			return doc, nil, false, err
		}
		if err != nil {
			return doc, nil, false, s.fail(p, err)
		}
	}
	next, many, keep := continueWith(outs)
	return next, many, keep, nil
}

func (r *runner) send(ctx context.Context, s *step, doc operations.Document, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	snd := s.send
	st.Operation = snd.op
	if r.opt.DryRun {
		if snd.dry == nil {
			st.Note = "dry run: operation " + strconv.Quote(snd.op) + " not sent"
			return doc, nil, true, nil
		}
		desc, err := snd.dry.DryRun(doc)
		if err != nil {
			return doc, nil, false, fmt.Errorf("dry run of operation %q: %w", snd.op, err)
		}
		st.Note = "dry run: operation " + strconv.Quote(snd.op) + " described, not sent"
		if r.opt.Trace {
			st.Sent = redactDoc(desc)
		}
		return doc, nil, true, nil
	}
	ans, err := snd.sender.Send(ctx, doc)
	if err != nil {
		return doc, nil, false, fmt.Errorf("send through operation %q: %w", snd.op, err)
	}
	if doc.Props == nil && len(ans.Props) > 0 {
		doc.Props = make(map[string]string, len(ans.Props))
	}
	maps.Copy(doc.Props, ans.Props)
	if snd.response {
		doc.Body = ans.Body
	}
	return doc, nil, true, nil
}

func (r *runner) logStep(p *program, s *step, doc operations.Document, st *StepTrace) {
	ev := r.log.WithLevel(s.level)
	if ev == nil && !r.opt.Trace {
		return // the level is off: do not even build the message
	}
	msg := ""
	if s.message != nil {
		var err error
		if msg, err = s.message.String(doc.Body, doc.Props); err != nil {
			// A log line is not worth a dead letter: say what went wrong
			// instead of what was asked.
			msg = "log message failed: " + err.Error()
		}
	}
	if r.opt.Trace {
		st.Note = msg
	}
	if ev == nil {
		return
	}
	ev = ev.Str("process", p.name).Str("step", s.path)
	if s.label != "" {
		ev = ev.Str("step_name", s.label)
	}
	ev = ev.Interface("props", doc.Props)
	if s.message == nil {
		ev.Interface("body", doc.Body).Msg("document")
		return
	}
	ev.Msg(msg)
}

func (r *runner) stop(s *step, doc operations.Document) error {
	if s.message == nil {
		return errStop
	}
	msg, err := s.message.String(doc.Body, doc.Props)
	if err != nil {
		return fmt.Errorf("fail message: %w", err)
	}
	if msg == "" {
		msg = "failed by a stop step"
	}
	return &failError{msg: msg}
}

// try runs its steps; when one fails, it runs catch on the document as it
// was when try began, with the properties "error" (what went wrong) and
// "errorStep" (the path of the step that failed). A reply set inside the
// failed try is forgotten.
func (r *runner) try(ctx context.Context, p *program, s *step, doc operations.Document, depth int, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	saved := doc.Clone()
	reply := r.reply
	outs, err := r.block(ctx, p, s.try, doc, depth, &st.Steps, nil)
	if err == nil || err == errStop {
		next, many, keep := continueWith(outs)
		return next, many, keep, err
	}
	r.reply = reply
	msg, at := err.Error(), ""
	var se *StepError
	if errors.As(err, &se) {
		msg, at = causeText(se.Err), se.Path
	}
	saved.SetProp("error", msg)
	saved.SetProp("errorStep", at)
	st.Status = StepCaught
	st.Note = "caught: " + err.Error()
	outs, err = r.block(ctx, p, s.catch, saved, depth, &st.Steps, nil)
	next, many, keep := continueWith(outs)
	return next, many, keep, err
}

func (r *runner) replyStep(ctx context.Context, s *step, doc operations.Document, st *StepTrace) (operations.Document, []operations.Document, bool, error) {
	body := doc.Body
	if s.mapping != nil {
		var err error
		if body, err = s.mapping.Run(ctx, doc.Body, doc.Props); err != nil {
			return doc, nil, false, err
		}
	}
	r.reply = &operations.Document{Body: body, Props: maps.Clone(doc.Props)}
	st.Note = "reply set"
	if r.opt.Trace {
		st.Reply = body
	}
	return doc, nil, true, nil
}

// redactDoc hides, in a dry run's description, values under names that
// carry credentials (Authorization headers, tokens, passwords), in case a
// sender describes them: secrets never appear in traces.
func redactDoc(d operations.Document) operations.Document {
	d = d.Clone()
	d.Body = redactValue(d.Body)
	for k := range d.Props {
		if secretName(k) {
			d.Props[k] = redacted
		}
	}
	return d
}

const redacted = "[redacted]"

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if secretName(k) {
				t[k] = redacted
				continue
			}
			t[k] = redactValue(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = redactValue(x)
		}
		return t
	case string:
		if l := strings.ToLower(t); strings.HasPrefix(l, "bearer ") || strings.HasPrefix(l, "basic ") {
			return redacted
		}
	}
	return v
}

func secretName(name string) bool {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(name))
	switch n {
	case "authorization", "proxyauthorization", "cookie", "setcookie", "apikey", "xapikey", "sessionid", "privatekey", "signature":
		return true
	}
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}

package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// restError is one element of a REST error body.
type restError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// saveError is one error of a SaveResult.
type saveError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

// saveResult is the result of one published record.
type saveResult struct {
	ID      string      `json:"id,omitempty"`
	Success bool        `json:"success"`
	Errors  []saveError `json:"errors"`
}

// publishedID is what Salesforce returns as a published event's id: it is
// not delivered to subscribers and not unique.
const publishedID = "e00xx0000000001AAA"

const maxRESTBody = 10 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`[{"message":"encode response","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeREST(w http.ResponseWriter, status int, errs ...restError) {
	writeJSON(w, status, errs)
}

func notFound() restError {
	return restError{Message: "The requested resource does not exist", ErrorCode: "NOT_FOUND"}
}

func invalidSession() restError {
	return restError{Message: "Session expired or invalid", ErrorCode: "INVALID_SESSION_ID"}
}

func fromAPIError(e *apiError) restError {
	return restError{Message: e.message, ErrorCode: e.code, Fields: e.fields}
}

// restVersion reads "v62.0" and checks it is served.
func (e *Emulator) restVersion(seg string) (float64, bool) {
	if len(seg) < 2 || seg[0] != 'v' || !versionRE.MatchString(seg[1:]) {
		return 0, false
	}
	v, _ := strconv.ParseFloat(seg[1:], 64)
	return v, v >= minRESTVersion && v <= e.maxVersion
}

// restKind names a REST request for Calls().
func restKind(r *http.Request) string {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/services/data"), "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "":
		return "versions"
	case len(parts) == 1:
		return "resources"
	case len(parts) == 2 && parts[1] == "limits":
		return "limits"
	case len(parts) == 2 && parts[1] == "sobjects":
		return "global_describe"
	case len(parts) == 3 && parts[1] == "sobjects" && r.Method == http.MethodPost:
		return "publish"
	case len(parts) == 3 && parts[1] == "sobjects":
		return "sobject"
	case len(parts) == 4 && parts[1] == "sobjects" && parts[3] == "describe":
		return "describe"
	case len(parts) == 3 && parts[1] == "composite" && parts[2] == "sobjects":
		return "composite"
	}
	return "rest_other"
}

// handleData serves /services/data and everything under it.
func (e *Emulator) handleData(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, restKind(r), rest503) {
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/services/data"), "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		e.versions(w, r)
		return
	}
	version, ok := e.restVersion(parts[0])
	if !ok {
		writeREST(w, http.StatusNotFound, notFound())
		return
	}
	sess := e.auth.check(r)
	if sess == nil {
		writeREST(w, http.StatusUnauthorized, invalidSession())
		return
	}
	if !e.limits.takeAPIRequest() {
		writeREST(w, http.StatusForbidden, restError{Message: "TotalRequests Limit exceeded.", ErrorCode: "REQUEST_LIMIT_EXCEEDED"})
		return
	}
	route := parts[1:]
	switch {
	case len(route) == 0:
		e.only(w, r, http.MethodGet, func() { e.resources(w, parts[0]) })
	case len(route) == 1 && route[0] == "limits":
		e.only(w, r, http.MethodGet, func() { writeJSON(w, http.StatusOK, e.limits.report(e.comet.count())) })
	case len(route) == 1 && route[0] == "sobjects":
		e.only(w, r, http.MethodGet, func() { e.globalDescribe(w, parts[0]) })
	case len(route) == 2 && route[0] == "sobjects":
		et := e.eventType(route[1])
		if et == nil {
			writeREST(w, http.StatusNotFound, notFound())
			return
		}
		switch r.Method {
		case http.MethodPost:
			e.publishOne(w, r, et, sess, version)
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": e.describeShort(et, parts[0]), "recentItems": []any{}})
		default:
			methodNotAllowed(w, r, "GET,HEAD,POST")
		}
	case len(route) == 3 && route[0] == "sobjects" && route[2] == "describe":
		et := e.eventType(route[1])
		if et == nil {
			writeREST(w, http.StatusNotFound, notFound())
			return
		}
		e.only(w, r, http.MethodGet, func() { writeJSON(w, http.StatusOK, e.describe(et, parts[0])) })
	case len(route) == 2 && route[0] == "composite" && route[1] == "sobjects":
		e.only(w, r, http.MethodPost, func() { e.publishMany(w, r, sess, version) })
	default:
		writeREST(w, http.StatusNotFound, notFound())
	}
}

func (e *Emulator) only(w http.ResponseWriter, r *http.Request, method string, serve func()) {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		serve()
		return
	}
	allowed := method
	if method == http.MethodGet {
		allowed = "GET,HEAD"
	}
	methodNotAllowed(w, r, allowed)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed string) {
	w.Header().Set("Allow", allowed)
	writeREST(w, http.StatusMethodNotAllowed, restError{
		Message:   fmt.Sprintf("HTTP Method '%s' not allowed. Allowed are %s", r.Method, allowed),
		ErrorCode: "METHOD_NOT_ALLOWED",
	})
}

// versions lists the served API versions; it needs no session.
func (e *Emulator) versions(w http.ResponseWriter, r *http.Request) {
	type version struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	var out []version
	for v := int(minRESTVersion); v <= int(e.maxVersion); v++ {
		n := v - 31 // 31.0 was Summer '14; three releases a year
		season, year := []string{"Summer", "Winter", "Spring"}[n%3], 14+n/3
		if n%3 != 0 {
			year++
		}
		s := fmt.Sprintf("%d.0", v)
		out = append(out, version{Label: fmt.Sprintf("%s '%02d", season, year), URL: "/services/data/v" + s, Version: s})
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) resources(w http.ResponseWriter, v string) {
	base := "/services/data/" + v
	writeJSON(w, http.StatusOK, map[string]string{
		"sobjects":  base + "/sobjects",
		"limits":    base + "/limits",
		"composite": base + "/composite",
	})
}

func (e *Emulator) globalDescribe(w http.ResponseWriter, v string) {
	list := make([]map[string]any, 0, len(e.order))
	for _, et := range e.order {
		list = append(list, e.describeShort(et, v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list})
}

func (e *Emulator) describeShort(et *eventType, v string) map[string]any {
	base := "/services/data/" + v + "/sobjects/" + et.name
	return map[string]any{
		"name": et.name, "label": et.label, "labelPlural": et.label, "keyPrefix": "e00",
		"custom": true, "createable": true, "queryable": false, "updateable": false, "deletable": false,
		"urls": map[string]string{"sobject": base, "describe": base + "/describe", "eventSchema": base + "/eventSchema"},
	}
}

// describe is the sObject describe of a platform event.
func (e *Emulator) describe(et *eventType, v string) map[string]any {
	d := e.describeShort(et, v)
	fields := []map[string]any{
		systemField("ReplayId", "Replay ID", "string", "xsd:string"),
		systemField("CreatedDate", "Created Date", "datetime", "xsd:dateTime"),
		systemField("CreatedById", "Created By ID", "reference", "tns:ID"),
		systemField("EventUuid", "Event UUID", "string", "xsd:string"),
	}
	fields[2]["referenceTo"] = []string{"User"}
	for _, f := range et.fields {
		soap := map[string]string{typeString: "xsd:string", typeDouble: "xsd:double", typeInt: "xsd:int",
			typeBoolean: "xsd:boolean", typeDate: "xsd:date", typeDatetime: "xsd:dateTime"}[f.typ]
		typ := f.typ
		if typ == typeString && f.length > 255 {
			typ = "textarea"
		}
		field := map[string]any{
			"name": f.name, "label": f.label, "type": typ, "soapType": soap,
			"custom": true, "createable": true, "updateable": false,
			"nillable": !f.required && f.typ != typeBoolean, "defaultedOnCreate": f.typ == typeBoolean,
			"length": 0, "precision": 0, "scale": 0, "digits": 0,
		}
		switch f.typ {
		case typeString:
			field["length"] = f.length
		case typeDouble:
			field["precision"], field["scale"] = 18, 2
		case typeInt:
			field["digits"] = 9
		case typeBoolean:
			field["defaultValue"] = false
		}
		fields = append(fields, field)
	}
	d["fields"] = fields
	d["childRelationships"] = []any{}
	d["recordTypeInfos"] = []any{}
	return d
}

func systemField(name, label, typ, soap string) map[string]any {
	return map[string]any{
		"name": name, "label": label, "type": typ, "soapType": soap, "custom": false,
		"createable": false, "updateable": false, "nillable": true, "defaultedOnCreate": true,
		"length": 0, "precision": 0, "scale": 0, "digits": 0,
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRESTBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeREST(w, http.StatusRequestEntityTooLarge, restError{Message: "Request body too large", ErrorCode: "JSON_PARSER_ERROR"})
		}
		return nil, false
	}
	return body, true
}

// enqueued is the success SaveResult; from API 52.0 on it carries the
// EventUuid in an OPERATION_ENQUEUED "error".
func enqueued(version float64, uuid string) saveResult {
	res := saveResult{ID: publishedID, Success: true, Errors: []saveError{}}
	if version >= 52.0 {
		res.Errors = append(res.Errors, saveError{StatusCode: "OPERATION_ENQUEUED", Message: uuid, Fields: []string{}})
	}
	return res
}

var errLimitExceeded = &apiError{status: 400, code: "LIMIT_EXCEEDED", message: "The number of published platform event messages exceeded the hourly publishing limit."}

// publishOne serves POST sobjects/{Name__e}/.
func (e *Emulator) publishOne(w http.ResponseWriter, r *http.Request, et *eventType, sess *session, version float64) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	fields, apiErr := decodeRecord(body, et.name)
	if apiErr != nil {
		writeREST(w, apiErr.status, fromAPIError(apiErr))
		return
	}
	values, apiErr := et.validateRecord(fields, body)
	if apiErr != nil {
		writeREST(w, apiErr.status, fromAPIError(apiErr))
		return
	}
	if e.limits.takePublished(1) == 0 {
		writeREST(w, errLimitExceeded.status, fromAPIError(errLimitExceeded))
		return
	}
	res, err := e.bus.publish(et, []recordValues{values}, sess.user.id)
	if err != nil {
		e.log.Error().Err(err).Str("event", et.name).Msg("publish failed")
		writeREST(w, http.StatusInternalServerError, restError{Message: err.Error(), ErrorCode: "UNKNOWN_EXCEPTION"})
		return
	}
	writeJSON(w, http.StatusCreated, enqueued(version, res[0].uuid))
}

// collectionRequest is the body of POST composite/sobjects.
type collectionRequest struct {
	AllOrNone bool              `json:"allOrNone"`
	Records   []json.RawMessage `json:"records"`
}

// pendingRecord is one record of a collection on its way to the bus.
type pendingRecord struct {
	et     *eventType
	values recordValues
	err    *apiError
}

// maxCollection is the most records an sObject Collection takes.
const maxCollection = 200

// publishMany serves POST composite/sobjects: up to 200 records, one
// SaveResult each in request order; allOrNone publishes all or nothing.
func (e *Emulator) publishMany(w http.ResponseWriter, r *http.Request, sess *session, version float64) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req collectionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeREST(w, http.StatusBadRequest, fromAPIError(parserError(body, err)))
		return
	}
	if req.Records == nil {
		writeREST(w, http.StatusBadRequest, restError{Message: "Required field 'records' is missing", ErrorCode: "JSON_PARSER_ERROR"})
		return
	}
	if len(req.Records) > maxCollection {
		writeREST(w, http.StatusBadRequest, restError{Message: "Record limit reached. cannot submit more than 200 records into this call", ErrorCode: "EXCEEDED_ID_LIMIT"})
		return
	}
	pending := make([]pendingRecord, len(req.Records))
	failed := 0
	for i, raw := range req.Records {
		p, fatal := e.prepare(raw)
		if fatal != nil {
			// A value of the wrong JSON type fails deserialization of the
			// whole request, as in Salesforce.
			writeREST(w, fatal.status, fromAPIError(fatal))
			return
		}
		pending[i] = p
		if p.err != nil {
			failed++
		}
	}
	valid := len(pending) - failed
	granted := e.limits.takePublished(valid)
	for i := range pending {
		if pending[i].err == nil {
			if granted == 0 {
				pending[i].err = errLimitExceeded
				failed++
			} else {
				granted--
			}
		}
	}
	results := make([]saveResult, len(pending))
	if req.AllOrNone && failed > 0 {
		e.limits.refundPublished(len(pending) - failed)
		for i, p := range pending {
			if p.err != nil {
				results[i] = saveResult{Errors: []saveError{toSaveError(p.err)}}
			} else {
				results[i] = saveResult{Errors: []saveError{{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
					Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}}}
			}
		}
		writeJSON(w, http.StatusOK, results)
		return
	}
	// Publish runs of consecutive records of one type, keeping request order.
	for start := 0; start < len(pending); {
		if pending[start].err != nil {
			results[start] = saveResult{Errors: []saveError{toSaveError(pending[start].err)}}
			start++
			continue
		}
		end := start
		var run []recordValues
		for end < len(pending) && pending[end].err == nil && pending[end].et == pending[start].et {
			run = append(run, pending[end].values)
			end++
		}
		res, err := e.bus.publish(pending[start].et, run, sess.user.id)
		for i := start; i < end; i++ {
			if err != nil {
				results[i] = saveResult{Errors: []saveError{{StatusCode: "UNKNOWN_EXCEPTION", Message: err.Error(), Fields: []string{}}}}
			} else {
				results[i] = enqueued(version, res[i-start].uuid)
			}
		}
		start = end
	}
	writeJSON(w, http.StatusOK, results)
}

// prepare validates one collection record. A JSON_PARSER_ERROR is fatal to
// the whole request; other problems fail the record alone.
func (e *Emulator) prepare(raw json.RawMessage) (pendingRecord, *apiError) {
	fields, apiErr := decodeRecord(raw, "SObject")
	if apiErr != nil {
		return pendingRecord{}, apiErr
	}
	typeName := ""
	for _, f := range fields {
		if strings.EqualFold(f.name, "attributes") {
			var attrs struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(f.value, &attrs)
			typeName = attrs.Type
		}
	}
	if typeName == "" {
		return pendingRecord{err: &apiError{status: 400, code: "INVALID_TYPE", message: "Must send a concrete entity type."}}, nil
	}
	et := e.eventType(typeName)
	if et == nil {
		return pendingRecord{err: &apiError{status: 400, code: "INVALID_TYPE", message: fmt.Sprintf("sObject type '%s' is not supported.", typeName)}}, nil
	}
	values, apiErr := et.validateRecord(fields, raw)
	if apiErr != nil {
		if apiErr.code == "JSON_PARSER_ERROR" {
			return pendingRecord{}, apiErr
		}
		return pendingRecord{et: et, err: apiErr}, nil
	}
	return pendingRecord{et: et, values: values}, nil
}

func toSaveError(e *apiError) saveError {
	fields := e.fields
	if fields == nil {
		fields = []string{}
	}
	return saveError{StatusCode: e.code, Message: e.message, Fields: fields}
}

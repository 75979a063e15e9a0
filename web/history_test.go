package web_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/atomrt/atom/web"
)

type execution struct {
	ID, Process, Listener, Status, Error string
	Tracked                              map[string]string
	Trace                                json.RawMessage
	DurationMs                           float64
}

type execPage struct {
	Items []execution
	Next  string
}

type deadLetter struct {
	ID, Process, Listener, Error, Step string
	Attempts                           int
	Doc                                struct {
		Body  map[string]any
		Props map[string]string
	}
}

type dlPage struct {
	Items []deadLetter
	Next  string
}

func TestExecutionsFilteredByTrackedProperty(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	e.tp.Publish(1, 13, 2)
	eventually(t, "three runs", func() bool {
		var st listenerStatus
		e.must("GET", listenerPath(busListener, ""), nil, 200, &st)
		return st.Processed+st.Failed == 3
	})

	var page execPage
	e.must("GET", "/api/executions?process=from-bus", nil, 200, &page)
	if len(page.Items) != 3 || page.Next != "" {
		t.Fatalf("executions = %+v", page)
	}
	if got := page.Items[0].Tracked["eventUuid"]; got != "uuid-2" {
		t.Errorf("newest execution tracked %q, want uuid-2", got)
	}
	for _, ex := range page.Items {
		if ex.Trace != nil {
			t.Errorf("a listed execution carries its trace: %s", ex.ID)
		}
	}

	e.must("GET", "/api/executions?prop=eventUuid&value=uuid-13", nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].Status != "failed" || page.Items[0].Listener != busListener {
		t.Fatalf("executions of uuid-13 = %+v", page)
	}
	var ex execution
	e.must("GET", "/api/executions/"+page.Items[0].ID, nil, 200, &ex)
	if ex.Status != "failed" || len(ex.Trace) == 0 || ex.Error == "" {
		t.Fatalf("failed execution = %+v", ex)
	}
	e.must("GET", "/api/executions?status=ok&process=from-bus", nil, 200, &page)
	if len(page.Items) != 2 {
		t.Fatalf("ok executions = %+v", page)
	}

	// Pages.
	e.must("GET", "/api/executions?limit=2", nil, 200, &page)
	if len(page.Items) != 2 || page.Next != page.Items[1].ID {
		t.Fatalf("first page = %+v", page)
	}
	e.must("GET", "/api/executions?limit=2&before="+page.Next, nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].Tracked["eventUuid"] != "uuid-1" || page.Next != "" {
		t.Fatalf("second page = %+v", page)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	e.must("GET", "/api/executions?since="+future, nil, 200, &page)
	if len(page.Items) != 0 {
		t.Fatalf("executions since the future = %+v", page)
	}
	e.must("GET", "/api/executions?until="+future, nil, 200, &page)
	if len(page.Items) != 3 {
		t.Fatalf("executions until the future = %+v", page)
	}

	e.apiErr("GET", "/api/executions?since=yesterday", nil, 400, "bad_request")
	e.apiErr("GET", "/api/executions?limit=0", nil, 400, "bad_request")
	e.apiErr("GET", "/api/executions?value=x", nil, 400, "bad_request")
	e.apiErr("GET", "/api/executions?before=zz", nil, 400, "bad_request")
	e.apiErr("GET", "/api/executions/0000000000000001", nil, 404, "not_found")
	e.apiErr("GET", "/api/executions/nope", nil, 404, "not_found")
}

func TestDeadLettersRetryAndDiscard(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	e.tp.Publish(13)
	var page dlPage
	eventually(t, "13 dead-lettered", func() bool {
		e.must("GET", "/api/dead-letters", nil, 200, &page)
		return len(page.Items) == 1
	})
	dl := page.Items[0]
	if dl.Process != "from-bus" || dl.Attempts != 1 || dl.Doc.Body["n"] != float64(13) || dl.Error == "" {
		t.Fatalf("dead letter = %+v", dl)
	}
	var got deadLetter
	e.must("GET", "/api/dead-letters/"+dl.ID, nil, 200, &got)
	if got.ID != dl.ID {
		t.Fatalf("dead letter by id = %+v", got)
	}

	// A retry that fails again keeps it, one attempt more.
	var retry struct {
		Status, Error string
		DeadLetter    *deadLetter
	}
	e.must("POST", "/api/dead-letters/"+dl.ID+"/retry", nil, 200, &retry)
	if retry.Status != "failed" || retry.Error == "" || retry.DeadLetter == nil || retry.DeadLetter.Attempts != 2 {
		t.Fatalf("failed retry = %+v", retry)
	}

	// The sink refuses 20, 21 and 22; once it takes them again a retry
	// delivers them and removes their dead letters.
	e.sink.SetRefuse(true)
	e.tp.Publish(20, 21, 22)
	eventually(t, "four dead letters", func() bool {
		e.must("GET", "/api/dead-letters", nil, 200, &page)
		return len(page.Items) == 4
	})
	e.sink.SetRefuse(false)
	e.must("GET", "/api/dead-letters?process=from-bus&limit=1", nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].Doc.Body["n"] != float64(22) || page.Next == "" {
		t.Fatalf("newest dead letter page = %+v", page)
	}
	e.must("POST", "/api/dead-letters/"+page.Items[0].ID+"/retry", nil, 200, &retry)
	if retry.Status != "ok" || !equalInts(e.sink.NS("/a"), []int{22}) {
		t.Fatalf("retry = %+v; sink has %v", retry, e.sink.NS("/a"))
	}
	e.apiErr("GET", "/api/dead-letters/"+page.Items[0].ID, nil, 404, "not_found")

	var all struct{ OK, Failed int }
	e.must("POST", "/api/dead-letters/retry?process=from-bus", nil, 200, &all)
	if all.OK != 2 || all.Failed != 1 || !equalInts(e.sink.NS("/a"), []int{22, 21, 20}) {
		t.Fatalf("retry all = %+v; sink has %v", all, e.sink.NS("/a"))
	}

	if st, body := e.call("DELETE", "/api/dead-letters/"+dl.ID, nil); st != 204 {
		t.Fatalf("discard: %d %s", st, body)
	}
	e.must("GET", "/api/dead-letters", nil, 200, &page)
	if len(page.Items) != 0 {
		t.Fatalf("dead letters after discard = %+v", page)
	}
	e.apiErr("DELETE", "/api/dead-letters/"+dl.ID, nil, 404, "not_found")
	e.apiErr("GET", "/api/dead-letters/nope", nil, 404, "not_found")
	e.apiErr("POST", "/api/dead-letters/0000000000000001/retry", nil, 404, "not_found")
	e.apiErr("GET", "/api/dead-letters?limit=x", nil, 400, "bad_request")

	// With nothing deployed there is no process to retry through.
	e.sink.SetRefuse(true)
	e.tp.Publish(30)
	eventually(t, "30 dead-lettered", func() bool {
		e.must("GET", "/api/dead-letters", nil, 200, &page)
		return len(page.Items) == 1
	})
	e.must("DELETE", "/api/deployments/active", nil, 204, nil)
	e.apiErr("POST", "/api/dead-letters/"+page.Items[0].ID+"/retry", nil, 409, "conflict")
	e.must("GET", "/api/dead-letters/"+page.Items[0].ID, nil, 200, &got)
}

package examples

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atomrt/atom/persistence"
)

// waitFor polls until the sink has n documents at path.
func waitFor(t *testing.T, rcv *received, path string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got := rcv.at(path); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s got %d documents, want %d", path, len(rcv.at(path)), n)
	return nil
}

// waitRunning waits until every listener has subscribed, so that events
// published next are seen by listeners that start at the latest event.
func waitRunning(t *testing.T, a *atomUnderTest) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if ok, _ := a.rt.Ready(); ok && len(a.rt.Listeners()) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("listeners not running: %+v", a.rt.Listeners())
}

// waitProcessed waits until a listener has finished n runs without failure.
func waitProcessed(t *testing.T, a *atomUnderTest, listener string, n int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := a.rt.Listener(listener); err == nil && st.Processed+st.Failed >= n && st.InFlight == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _ := a.rt.Listener(listener)
	t.Fatalf("listener %s did not finish %d runs: %+v", listener, n, st)
}

func TestOpportunityWonNotifiesBySMSAndEmail(t *testing.T) {
	rcv, sink := newReceiver(t)
	t.Setenv("ATOM_SINK_URL", sink.URL)
	a := runAtom(t, t.TempDir())
	waitRunning(t, a)
	if _, err := a.org.Publish("Opportunity_Won__e", map[string]any{
		"Opportunity_Id__c": "006AT0000000001", "Account_Name__c": "Globex",
		"Amount__c": 125000.5, "Close_Date__c": "2026-11-20", "Owner_Email__c": "hank@globex.test",
	}); err != nil {
		t.Fatal(err)
	}
	sms := waitFor(t, rcv, "/notify/sms", 1)
	email := waitFor(t, rcv, "/notify/email", 1)
	want := "You closed Globex for 125,000.50 on 20 Nov 2026."
	if sms[0]["text"] != want || email[0]["text"] != want || sms[0]["to"] != "hank@globex.test" {
		t.Errorf("sms %v, email %v; want text %q", sms[0], email[0], want)
	}
	uuid := a.org.Events("Opportunity_Won__e")[0].EventUUID
	if key := rcv.hdr["/notify/sms"][0].Get("Idempotency-Key"); key != uuid+"-sms" {
		t.Errorf("idempotency key %q, want the event UUID %s-sms", key, uuid)
	}
}

func TestPrinterLowInkReordersOnlyUnderTenPercent(t *testing.T) {
	rcv, sink := newReceiver(t)
	t.Setenv("ATOM_SINK_URL", sink.URL)
	a := runAtom(t, t.TempDir())
	waitRunning(t, a)
	for _, level := range []float64{4, 35, 9} {
		if _, err := a.org.Publish("Printer_Low_Ink__e", map[string]any{
			"Printer_Serial__c": fmt.Sprintf("PRN-%02.0f", level), "Ink_Color__c": "cyan",
			"Level_Percent__c": level, "Location__c": "Berlin Lab",
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitProcessed(t, a, "org:/event/Printer_Low_Ink__e", 3)
	if got := rcv.at("/supplier/orders"); len(got) != 2 || got[0]["printer"] != "PRN-04" || got[1]["printer"] != "PRN-09" {
		t.Fatalf("reorders = %v, want PRN-04 and PRN-09 only", got)
	}
	got := rcv.at("/supplier/orders")
	if got[0]["sku"] != "INK-CYAN" || got[0]["shipTo"] != "Berlin Lab" || got[0]["reference"] == "" {
		t.Errorf("reorder = %v", got[0])
	}
}

func TestOrderFansOutToThreeSubProcessesAndPoisonIsKept(t *testing.T) {
	rcv, sink := newReceiver(t)
	t.Setenv("ATOM_SINK_URL", sink.URL)
	a := runAtom(t, t.TempDir())
	for i := 1; i <= 5; i++ {
		fields := map[string]any{"Order_Number__c": fmt.Sprintf("ORD-%d", i), "Customer_Id__c": "acme-1",
			"Amount__c": float64(i * 10), "Item_Count__c": i, "Express__c": i == 2}
		if i == 3 {
			delete(fields, "Customer_Id__c")
		}
		if _, err := a.org.Publish("Order_Placed__e", fields); err != nil {
			t.Fatal(err)
		}
	}
	crm := waitFor(t, rcv, "/crm/orders", 5)
	picks := waitFor(t, rcv, "/warehouse/picks", 4)
	analytics := waitFor(t, rcv, "/analytics/events", 3)
	if len(picks) != 4 || picks[1]["priority"] != "express" || picks[0]["customer"] != "ACME-1" {
		t.Errorf("warehouse got %v, want 4 picks (not ORD-3), ORD-2 express", picks)
	}
	if crm[2]["orderNumber"] != "ORD-3" {
		t.Errorf("crm got %v; the CRM sync runs before the warehouse fails", crm)
	}
	// The fan-out stops at the failing warehouse step: analytics never sees ORD-3.
	waitProcessed(t, a, "org:/event/Order_Placed__e", 5)
	var orders []string
	for _, e := range rcv.at("/analytics/events") {
		orders = append(orders, e["order"].(string))
	}
	if strings.Join(orders, ",") != "ORD-1,ORD-2,ORD-4,ORD-5" {
		t.Errorf("analytics got %v (first batch %d), want ORD-1,2,4,5", orders, len(analytics))
	}
	dls, err := a.store.DeadLetters(persistence.DeadLetterQuery{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters = %v, %v; want the order without a customer", dls, err)
	}
	if dls[0].Doc.Body.(map[string]any)["Order_Number__c"] != "ORD-3" || dls[0].Doc.Prop("replayId") == "" {
		t.Errorf("dead letter = %+v", dls[0])
	}
	if !strings.Contains(dls[0].Error, "Customer_Id__c") {
		t.Errorf("dead letter error %q does not name the field", dls[0].Error)
	}
}

func TestShopWebhookPublishesAPlatformEvent(t *testing.T) {
	_, sink := newReceiver(t)
	t.Setenv("ATOM_SINK_URL", sink.URL)
	a := runAtom(t, t.TempDir())
	code, reply := post(t, a.url+"/hooks/shop-orders", `{"number":"W-1001","customer":"ACME-001","total":129.5,"items":3}`)
	if code != 200 || reply["success"] != true {
		t.Fatalf("webhook answered %d %v, want 200 with the publish result", code, reply)
	}
	evs := a.org.Events("Order_Placed__e")
	if len(evs) != 1 {
		t.Fatalf("%d events published, want 1", len(evs))
	}
	p := evs[0].Payload
	if p["Order_Number__c"] != "W-1001" || p["Amount__c"] != 129.5 || p["Currency__c"] != "EUR" || p["Express__c"] != false {
		t.Errorf("published payload = %v", p)
	}
}

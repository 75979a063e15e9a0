// Package devkit holds what `atom dev` runs beside an atom so that a
// newcomer sees events flow with one command: a generator that publishes
// realistic platform events to the emulator at a steady rate, and a sink
// that receives what the atom sends and shows it.
//
// It is for demos and development only, never for production traffic.
package devkit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/emulator"
)

// Generate publishes a mix of the demo org's events to em, rate events a
// second, until ctx ends. A small share of orders are poison (no customer),
// so the dead-letter store has something to show.
func Generate(ctx context.Context, em *emulator.Emulator, rate float64, log zerolog.Logger) {
	if rate <= 0 {
		return
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		name, fields := sample(n)
		if _, err := em.Publish(name, fields); err != nil {
			log.Warn().Err(err).Str("event", name).Msg("generator could not publish")
		}
	}
}

var (
	customers = []string{"ACME-001", "GLOBEX-17", "INITECH-4", "UMBRELLA-9", "STARK-2"}
	colors    = []string{"black", "cyan", "magenta", "yellow"}
	sites     = []string{"Amsterdam HQ", "Berlin Lab", "New York 5th floor"}
	accounts  = []string{"Acme Corp", "Globex", "Initech", "Umbrella", "Stark Industries"}
)

// sample returns the n-th generated event: mostly orders, some low-ink
// printers and won opportunities.
func sample(n int) (string, map[string]any) {
	now := time.Now().UTC()
	switch {
	case n%5 == 0:
		return "Printer_Low_Ink__e", map[string]any{
			"Printer_Serial__c": fmt.Sprintf("PRN-%04d", rand.IntN(40)),
			"Ink_Color__c":      colors[rand.IntN(len(colors))],
			"Level_Percent__c":  float64(rand.IntN(15)),
			"Location__c":       sites[rand.IntN(len(sites))],
			"Reported_At__c":    now.Format(time.RFC3339),
		}
	case n%7 == 0:
		return "Opportunity_Won__e", map[string]any{
			"Opportunity_Id__c": fmt.Sprintf("006AT%013d", n),
			"Account_Name__c":   accounts[rand.IntN(len(accounts))],
			"Amount__c":         float64(5000 + rand.IntN(95000)),
			"Close_Date__c":     now.Format(time.DateOnly),
			"Owner_Email__c":    "owner@example.com",
		}
	}
	order := map[string]any{
		"Order_Number__c": fmt.Sprintf("ORD-%06d", n),
		"Customer_Id__c":  customers[rand.IntN(len(customers))],
		"Amount__c":       float64(rand.IntN(200000)) / 100,
		"Currency__c":     "EUR",
		"Item_Count__c":   1 + rand.IntN(9),
		"Express__c":      rand.IntN(4) == 0,
		"Ship_By__c":      now.AddDate(0, 0, 2).Format(time.DateOnly),
		"Placed_At__c":    now.Format(time.RFC3339),
	}
	if n%23 == 0 {
		delete(order, "Customer_Id__c") // poison: the examples need a customer
	}
	return "Order_Placed__e", order
}

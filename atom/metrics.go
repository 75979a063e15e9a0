package atom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/processes"
)

// metrics are the runtime's Prometheus metrics, on a registry it owns.
// Listener figures are read from the listeners when scraped, so the hot
// path pays only for the per-process counters and histograms.
type metrics struct {
	reg      *prometheus.Registry
	runs     *prometheus.CounterVec
	runTime  *prometheus.HistogramVec
	sendTime *prometheus.HistogramVec
	sends    *prometheus.CounterVec
	stepTime *prometheus.HistogramVec
	connEvts *prometheus.CounterVec
	connVals *prometheus.HistogramVec
}

func newMetrics(rt *Runtime) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atom_process_runs_total", Help: "Process runs by process and status (ok, failed, filtered, stopped, dead_lettered).",
		}, []string{"process", "status"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atom_process_run_seconds", Help: "Duration of process runs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"process"}),
		sendTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atom_send_seconds", Help: "Duration of sends, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"operation"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atom_sends_total", Help: "Sends by operation and result (ok, failed).",
		}, []string{"operation", "result"}),
	}
	m.stepTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "atom_step_seconds", Help: "Duration of the top-level steps of process runs, by process and step kind.",
		Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
	}, []string{"process", "kind"})
	m.connEvts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "atom_connector_events_total", Help: "Connector counters by connection, such as retries.",
	}, []string{"connection", "name"})
	m.connVals = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "atom_connector_values", Help: "Connector observations by connection, such as batch_size.",
		Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 200, 500},
	}, []string{"connection", "name"})
	m.reg.MustRegister(m.runs, m.runTime, m.sendTime, m.sends, m.stepTime, m.connEvts, m.connVals, listenerCollector{rt})
	return m
}

// Metrics returns the runtime's Prometheus registry, for /metrics.
func (rt *Runtime) Metrics() *prometheus.Registry { return rt.metrics.reg }

func (m *metrics) run(process string, res *processes.Result) {
	m.runs.WithLabelValues(process, res.Status).Inc()
	m.runTime.WithLabelValues(process).Observe(res.Duration.Seconds())
	for _, st := range res.Trace.Steps {
		m.stepTime.WithLabelValues(process, st.Kind).Observe(st.Duration.Seconds())
	}
}

// connMeter is the operations.Meter of one connection.
type connMeter struct {
	m    *metrics
	conn string
}

func (c connMeter) Count(name string, n float64) {
	c.m.connEvts.WithLabelValues(c.conn, name).Add(n)
}

func (c connMeter) Observe(name string, v float64) {
	c.m.connVals.WithLabelValues(c.conn, name).Observe(v)
}

// timedSender measures a Send operation.
type timedSender struct {
	operations.Sender
	op string
	m  *metrics
}

func (s timedSender) Send(ctx context.Context, doc operations.Document) (operations.Document, error) {
	start := time.Now()
	out, err := s.Sender.Send(ctx, doc)
	s.m.sendTime.WithLabelValues(s.op).Observe(time.Since(start).Seconds())
	result := "ok"
	if err != nil {
		result = "failed"
	}
	s.m.sends.WithLabelValues(s.op, result).Inc()
	return out, err
}

// timedDryRunSender is a timedSender whose sender can describe a dry run;
// a sender that cannot must not seem to, or test runs would show the
// document as what it "would send".
type timedDryRunSender struct {
	timedSender
	operations.DryRunner
}

// timed wraps s so that its sends are measured, keeping what it can do.
func (m *metrics) timed(op string, s operations.Sender) operations.Sender {
	t := timedSender{Sender: s, op: op, m: m}
	if d, ok := s.(operations.DryRunner); ok {
		return timedDryRunSender{timedSender: t, DryRunner: d}
	}
	return t
}

var (
	descReceived = prometheus.NewDesc("atom_listener_events_received_total", "Events a listener received.", []string{"listener"}, nil)
	descRuns     = prometheus.NewDesc("atom_listener_runs_total", "Process runs of a listener's events, by result (processed, failed, dead_lettered).", []string{"listener", "result"}, nil)
	descInFlight = prometheus.NewDesc("atom_listener_in_flight", "Events received but not yet finished (the replay lag inside the atom).", []string{"listener"}, nil)
	descState    = prometheus.NewDesc("atom_listener_state", "1 for the listener's current state.", []string{"listener", "state"}, nil)
	descCounter  = prometheus.NewDesc("atom_listener_events_total", "Connector counters of a listener, such as invalid_replay or reconnects.", []string{"listener", "counter"}, nil)
	descLag      = prometheus.NewDesc("atom_listener_lag_seconds", "How long the oldest event in flight has waited (0 when none): the replay lag inside the atom.", []string{"listener"}, nil)
	descAge      = prometheus.NewDesc("atom_listener_last_event_age_seconds", "Seconds since the listener's last event.", []string{"listener"}, nil)
)

// listenerCollector reads listener status at scrape time.
type listenerCollector struct{ rt *Runtime }

func (listenerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReceived, descRuns, descInFlight, descLag, descState, descCounter, descAge} {
		ch <- d
	}
}

func (c listenerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.rt.Listeners() {
		ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(st.Received), st.Name)
		ch <- prometheus.MustNewConstMetric(descRuns, prometheus.CounterValue, float64(st.Processed), st.Name, "processed")
		ch <- prometheus.MustNewConstMetric(descRuns, prometheus.CounterValue, float64(st.Failed), st.Name, "failed")
		ch <- prometheus.MustNewConstMetric(descRuns, prometheus.CounterValue, float64(st.DeadLettered), st.Name, "dead_lettered")
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight), st.Name)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, st.LagSeconds, st.Name)
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, st.Name, string(st.State))
		for k, v := range st.Counters {
			ch <- prometheus.MustNewConstMetric(descCounter, prometheus.CounterValue, float64(v), st.Name, k)
		}
		if st.LastEventAt != nil {
			ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, time.Since(*st.LastEventAt).Seconds(), st.Name)
		}
	}
}

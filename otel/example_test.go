package otel_test

import (
	"context"
	"fmt"
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/otel"
	"github.com/agenttrust/agenttrust/store/memory"
)

// A client instrumented with OpenTelemetry: a span per check, and the
// check counters by effect.
func Example() {
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	obs, err := otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithObserver(obs))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	d, _ := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "mail.send"})
	fmt.Println("decision:", d.Effect)
	fmt.Println("span:", spans.GetSpans()[0].Name)

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "agenttrust.checks" {
			dp := m.Data.(metricdata.Sum[int64]).DataPoints[0]
			effect, _ := dp.Attributes.Value("effect")
			fmt.Println(m.Name, effect.AsString(), dp.Value)
		}
	}
	// Output:
	// decision: deny
	// span: agenttrust.check
	// agenttrust.checks deny 1
}

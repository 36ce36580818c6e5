package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	atotel "github.com/agenttrust/agenttrust/otel"
)

// telemetry is what serve exports: the Prometheus exposition at /metrics
// (OpenTelemetry metrics, Go runtime, process and build_info series) and,
// when the standard OTEL_EXPORTER_OTLP_* variables name an endpoint,
// spans and metrics over OTLP/HTTP.
type telemetry struct {
	observer *atotel.Observer
	metrics  http.Handler
	shutdown func(context.Context) error
}

// newTelemetry sets up the exporters from the process environment, as
// the OpenTelemetry SDK reads it: OTEL_EXPORTER_OTLP_ENDPOINT (or the
// per-signal _TRACES_ and _METRICS_ endpoints) turns OTLP export on, and
// the exporters honour the other OTEL_EXPORTER_OTLP_* variables (headers,
// timeout, compression, TLS), OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_* and
// OTEL_METRIC_EXPORT_INTERVAL. OTEL_SDK_DISABLED=true, or
// OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER set to none, turn OTLP
// export off. Only the http/protobuf protocol is built in.
func newTelemetry(ctx context.Context, log *slog.Logger) (*telemetry, error) {
	getenv := os.Getenv
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "agenttrust"), attribute.String("service.version", buildVersion())),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: telemetry resource: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		buildInfo(),
	)
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("agenttrust: prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExp)}

	var tp trace.TracerProvider = noop.NewTracerProvider()
	var sdkTP *sdktrace.TracerProvider
	disabled := strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true")
	if !disabled && otlpWanted(getenv, "TRACES") {
		if err := otlpProtocol(getenv, "TRACES"); err != nil {
			return nil, err
		}
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("agenttrust: OTLP trace exporter: %w", err)
		}
		sdkTP = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
		tp = sdkTP
		log.Info("agenttrust: exporting traces over OTLP/HTTP")
	}
	if !disabled && otlpWanted(getenv, "METRICS") {
		if err := otlpProtocol(getenv, "METRICS"); err != nil {
			return nil, err
		}
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("agenttrust: OTLP metric exporter: %w", err)
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		log.Info("agenttrust: exporting metrics over OTLP/HTTP")
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	obs, err := atotel.New(atotel.WithTracerProvider(tp), atotel.WithMeterProvider(mp))
	if err != nil {
		mp.Shutdown(ctx)
		return nil, fmt.Errorf("agenttrust: instruments: %w", err)
	}
	return &telemetry{
		observer: obs,
		metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}),
		shutdown: func(ctx context.Context) error {
			// Spans first: the last metrics export counts their drops.
			var errs []error
			if sdkTP != nil {
				errs = append(errs, sdkTP.Shutdown(ctx))
			}
			errs = append(errs, mp.Shutdown(ctx))
			return errors.Join(errs...)
		},
	}, nil
}

// otlpWanted reports whether the environment names an OTLP endpoint for
// signal (TRACES or METRICS) and does not turn its exporter off.
func otlpWanted(getenv func(string) string, signal string) bool {
	if v := strings.TrimSpace(getenv("OTEL_" + signal + "_EXPORTER")); v != "" && !strings.Contains(v, "otlp") {
		return false // "none", or an exporter serve does not build in
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// otlpProtocol refuses an OTLP protocol other than http/protobuf, the one
// built in: better than exporting to a gRPC port that never answers.
func otlpProtocol(getenv func(string) string, signal string) error {
	p := getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL")
	if p == "" {
		p = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if p != "" && p != "http/protobuf" {
		return fmt.Errorf("agenttrust: OTEL_EXPORTER_OTLP_PROTOCOL %q: serve exports OTLP over http/protobuf only", p)
	}
	return nil
}

// buildVersion is the main module's version, "(devel)" for a build from
// a work tree.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// buildInfo is agenttrust_build_info: 1, with the version, Go version and
// VCS revision of the binary as labels.
func buildInfo() prometheus.Collector {
	labels := prometheus.Labels{"version": buildVersion(), "goversion": "", "revision": ""}
	if bi, ok := debug.ReadBuildInfo(); ok {
		labels["goversion"] = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				labels["revision"] = s.Value
			}
		}
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "agenttrust_build_info", Help: "The agenttrust binary: version, Go version and VCS revision as labels; always 1.",
		ConstLabels: labels,
	}, func() float64 { return 1 })
}

package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestServeAuditConfigErrors(t *testing.T) {
	var notice bytes.Buffer
	for name, cfg := range map[string]ServeConfig{
		"unknown audit mode":   {Listen: DefaultListen, SQLite: "x.db", Audit: "sometimes", Notice: &notice},
		"audit mode in caps":   {Listen: DefaultListen, SQLite: "x.db", Audit: "DURABLE", Notice: &notice},
		"negative audit drain": {Listen: DefaultListen, SQLite: "x.db", AuditDrainTimeout: -1, Notice: &notice},
	} {
		if err := Serve(context.Background(), cfg); err == nil || !strings.HasPrefix(err.Error(), "agenttrust: serve:") {
			t.Errorf("%s: %v; want a configuration error", name, err)
		}
	}
	cfg := ServeConfig{Listen: DefaultListen, SQLite: "x.db", Notice: &notice}
	if err := cfg.validate(); err != nil || cfg.Audit != "durable" || cfg.AuditDrainTimeout != DefaultAuditDrainTimeout {
		t.Fatalf("defaults: audit %q, drain %s, %v; want durable, %s", cfg.Audit, cfg.AuditDrainTimeout, err, DefaultAuditDrainTimeout)
	}
}

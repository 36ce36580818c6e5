package remote_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/remote"
)

// TestAttackRemoteClientPrinted: a remote Client holds its API key (for
// NewStore, the nodes' system admin key) and promised to redact it when
// printed, but only String, GoString and LogValue did: fmt's verbs that
// a string does not take (%d, %o, %b, %c, %U) skip String and print the
// struct's fields, the key among them as %!d(string=atk_...), and so
// does any of them on a map or slice holding the Client. Every rendering
// must leave the key out, and its start too.
func TestAttackRemoteClientPrinted(t *testing.T) {
	key, err := apikey.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.New("http://127.0.0.1:9", key)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secret := key[len("atk_"):][:12]
	render := map[string]func(v any) string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%08d", "%t", "%e"} {
		render[verb] = func(v any) string { return fmt.Sprintf(verb, v) }
	}
	for _, j := range []bool{false, true} {
		render[fmt.Sprintf("slog json=%v", j)] = func(v any) string {
			var out bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&out, nil)
			if j {
				h = slog.NewJSONHandler(&out, nil)
			}
			slog.New(h).Info("client", "v", v)
			return out.String()
		}
	}
	render["json"] = func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for vname, v := range map[string]any{"client": c, "client in a map": map[string]any{"api": c}, "client in a slice": []*remote.Client{c}} {
		for rname, r := range render {
			t.Run(vname+" "+rname, func(t *testing.T) {
				out := r(v)
				if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), strings.ToLower(fmt.Sprintf("%x", secret))) {
					t.Errorf("the rendering shows the API key: %s", out)
				}
			})
		}
	}
}

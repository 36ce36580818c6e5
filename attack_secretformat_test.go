package agenttrust_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackSecretKeyPrinted: SecretKey promises to redact its secret
// when printed, logged or marshalled, but only String, GoString,
// LogValue and MarshalJSON did: fmt's verbs that a string does not take
// (%d, %o, %b, %c, %U) skip String and print the struct's fields, the
// secret byte by byte, and so does any of them on a value holding
// SecretKeys (a TokenConfig), and encoding/xml (or a YAML encoder, which
// looks for MarshalText) wrote it out whole. A master key so printed
// mints any token; a signing seed signs any JWT. Each rendering must be
// the same whatever the secret.
func TestAttackSecretKeyPrinted(t *testing.T) {
	key := func(fill byte) agenttrust.SecretKey {
		return agenttrust.SecretKey{ID: "mk1", Secret: bytes.Repeat([]byte{fill}, 32)}
	}
	config := func(fill byte) agenttrust.TokenConfig {
		return agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{key(fill)}, SigningKeys: []agenttrust.SecretKey{key(fill)}}
	}
	xmlOf := func(v any) string {
		b, err := xml.Marshal(v)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	cases := map[string]func(fill byte) string{}
	for _, verb := range []string{"%d", "%o", "%b", "%c", "%U", "%08d", "%v", "%+v", "%#v", "%s", "%x", "%q"} {
		cases["key "+verb] = func(fill byte) string { return fmt.Sprintf(verb, key(fill)) }
		cases["config "+verb] = func(fill byte) string { return fmt.Sprintf(verb, config(fill)) }
	}
	cases["key xml"] = func(fill byte) string { return xmlOf(key(fill)) }
	cases["config xml"] = func(fill byte) string { return xmlOf(config(fill)) }
	cases["key json"] = func(fill byte) string { b, _ := json.Marshal(key(fill)); return string(b) }
	cases["config json"] = func(fill byte) string { b, _ := json.Marshal(config(fill)); return string(b) }
	logged := func(json bool, v any) string {
		var out bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: dropTime})
		if json {
			h = slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: dropTime})
		}
		slog.New(h).Info("loaded", "v", v)
		return out.String()
	}
	for _, j := range []bool{false, true} {
		cases[fmt.Sprintf("key slog json=%v", j)] = func(fill byte) string { return logged(j, key(fill)) }
		cases[fmt.Sprintf("config slog json=%v", j)] = func(fill byte) string { return logged(j, config(fill)) }
	}
	for name, render := range cases {
		t.Run(name, func(t *testing.T) {
			a, b := render('A'), render('B')
			if a != b {
				t.Errorf("the rendering shows the secret:\n%s\n%s", a, b)
			}
		})
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

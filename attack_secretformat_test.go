package agenttrust_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
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
	for name, render := range cases {
		t.Run(name, func(t *testing.T) {
			a, b := render('A'), render('B')
			if a != b {
				t.Errorf("the rendering shows the secret:\n%s\n%s", a, b)
			}
		})
	}
}

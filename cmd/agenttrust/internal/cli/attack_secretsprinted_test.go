package cli

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackSecretsPrinted: Secrets redacts itself in String, GoString,
// LogValue and JSON, but fmt's verbs that a string does not take (%d,
// %o, %b, %c, %U) skip String and print the fields, the audit secret
// (and, before SecretKey redacted itself under every verb, the master
// and signing keys) byte by byte; encoding/xml wrote all of them out.
// Each rendering must be the same whatever the secrets.
func TestAttackSecretsPrinted(t *testing.T) {
	secrets := func(fill byte) Secrets {
		b := bytes.Repeat([]byte{fill}, 32)
		return Secrets{
			MasterKeys:  []agenttrust.SecretKey{{ID: "mk1", Secret: b}},
			SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: b}},
			AuditSecret: b,
		}
	}
	cases := map[string]func(fill byte) string{
		"xml": func(fill byte) string {
			b, err := xml.Marshal(secrets(fill))
			if err != nil {
				return "error: " + err.Error()
			}
			return string(b)
		},
	}
	for _, verb := range []string{"%d", "%o", "%b", "%c", "%U", "%v", "%+v", "%#v", "%s", "%x"} {
		cases[verb] = func(fill byte) string { return fmt.Sprintf(verb, secrets(fill)) }
	}
	for name, render := range cases {
		t.Run(name, func(t *testing.T) {
			if a, b := render('A'), render('B'); a != b {
				t.Errorf("the rendering shows the secrets:\n%s\n%s", a, b)
			}
		})
	}
}

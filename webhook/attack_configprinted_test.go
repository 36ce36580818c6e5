package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackWebhookConfigPrinted: a Config and the Notifier made from it
// hold the HMAC secret that signs every notification and the receiver's
// URL, whose path a chat's incoming webhook uses as its credential. Both
// printed their fields as they are: a program that logged its webhook
// settings (slog.Any("webhook", cfg), fmt's %v or %+v, a JSON or XML
// dump of its configuration) wrote the secret byte by byte and the whole
// URL, with which anyone forges approval notifications or posts to the
// channel. Every rendering must show neither, and at most the URL's
// scheme and host.
func TestAttackWebhookConfigPrinted(t *testing.T) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(0x81 + 3*i) // each byte differs, none printable ASCII
	}
	const path = "/services/T0SECRET/B0SECRET/XYZSECRETPATH"
	cfg := webhook.Config{URL: "https://user:pw0SECRET@hooks.example" + path + "?token=Q0SECRET", Secret: secret}
	n, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())

	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%o", "%b", "%c", "%U", "%x", "%X", "%08d"}
	// What each verb makes of the secret alone, brackets aside: a field
	// holding it prints the same.
	var shown []string
	for _, verb := range verbs {
		s := fmt.Sprintf(verb, secret)
		if i := strings.IndexAny(s, "[{"); i >= 0 {
			s = s[i+1:]
		}
		shown = append(shown, strings.TrimRight(s, "]}"))
	}
	shown = append(shown, string(secret), hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret), strings.Trim(fmt.Sprint(secret[:8]), "[]"))
	leaked := func(out string) string {
		for _, s := range shown {
			if s != "" && strings.Contains(out, s) {
				return "the secret"
			}
		}
		for _, s := range []string{"0SECRET", "SECRETPATH", "token="} {
			if strings.Contains(out, s) {
				return "the URL"
			}
		}
		return ""
	}

	render := map[string]func(v any) string{}
	for _, verb := range verbs {
		render[verb] = func(v any) string { return fmt.Sprintf(verb, v) }
	}
	for _, j := range []bool{false, true} {
		render[fmt.Sprintf("slog json=%v", j)] = func(v any) string {
			var out bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&out, nil)
			if j {
				h = slog.NewJSONHandler(&out, nil)
			}
			slog.New(h).Info("webhook", "v", v)
			return out.String()
		}
	}
	render["json"] = func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	render["xml"] = func(v any) string {
		b, err := xml.Marshal(v)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	values := map[string]any{
		"config":          cfg,
		"config pointer":  &cfg,
		"notifier":        n,
		"config in a map": map[string]any{"webhook": cfg},
	}
	for vname, v := range values {
		for rname, r := range render {
			t.Run(vname+" "+rname, func(t *testing.T) {
				out := r(v)
				if what := leaked(out); what != "" {
					t.Errorf("the rendering shows %s:\n%s", what, out)
				}
				if strings.Contains(vname, "config") && !strings.Contains(out, "hooks.example") && !strings.HasPrefix(out, "error") {
					t.Errorf("the rendering does not name the host: %s", out)
				}
			})
		}
	}
}

package main

import (
	"strings"
	"testing"
)

// TestAttackServerURLQuotesSecret: --server refuses a URL with user
// information, a query or a fragment, and its usage error quoted the URL
// with only the password masked: a token given in the query string
// (?access_token=..., as auth proxies take one) or the fragment was
// printed on stderr, which CI jobs and runbooks log. The error must stay
// a usage error, naming the flag and the host, without the secret.
func TestAttackServerURLQuotesSecret(t *testing.T) {
	const secret = "S3cretTok3n"
	for _, url := range []string{
		"https://agenttrust.example/?access_token=" + secret,
		"https://agenttrust.example/v1?key=" + secret + "&x=1",
		"https://agenttrust.example/#" + secret,
		"https://agenttrust.example/#access_token=" + secret,
		"https://" + secret + "@agenttrust.example/",
		"https://u:pw@agenttrust.example/?token=" + secret,
	} {
		t.Run(strings.ReplaceAll(url, secret, "SECRET"), func(t *testing.T) {
			res := runCLI(t, map[string]string{"AGENTTRUST_KEY": "atk_x"}, "", "whoami", "--server", url)
			if res.code != exitUsage || !strings.Contains(res.stderr, "--server") || !strings.Contains(res.stderr, "agenttrust.example") {
				t.Errorf("exit %d, want a usage error naming --server and the host; stderr: %s", res.code, res.stderr)
			}
			if strings.Contains(res.stdout+res.stderr, secret[:6]) {
				t.Errorf("the secret is printed:\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
			}
		})
	}
}

package main

import (
	"strings"
	"testing"
)

// TestAttackUsageErrorQuotesDatabasePassword: the database password is
// the other secret this command is given on its command line (--postgres,
// --mysql, whose URL or DSN holds it; --approval-webhook, whose path a
// chat's incoming webhook uses as its credential), and usage errors quoted it back on
// stderr, which CI jobs, systemd and containers keep in a log: the value
// of a one-value flag given twice ("invalid value ... for flag -postgres:
// --postgres given twice"), an argument left over when a keyword DSN was
// not quoted ("--postgres host=db password=..."), a DSN where a command
// or flag was expected. Only agenttrust credentials were redacted. The
// error must stay a usage error, without the password.
func TestAttackUsageErrorQuotesDatabasePassword(t *testing.T) {
	const pw = "S3cretPw0rd"
	pgURL := "postgres://agenttrust:" + pw + "@db.internal:5432/agenttrust?sslmode=require"
	myDSN := "agenttrust:" + pw + "@tcp(db.internal:3306)/agenttrust"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"--postgres URL twice", []string{"serve", "--postgres", pgURL, "--postgres", pgURL}},
		{"--postgres URL twice, the second wins", []string{"serve", "--postgres", "postgres://x@h/db", "--postgres", pgURL}},
		{"--postgres= URL twice", []string{"serve", "--postgres=" + pgURL, "--postgres=" + pgURL}},
		{"--mysql DSN twice", []string{"serve", "--mysql", myDSN, "--mysql", myDSN}},
		{"--mysql DSN over a unix socket twice", []string{"serve", "--mysql", "x@/db", "--mysql", "agenttrust:" + pw + "@unix(/run/mysqld.sock)/agenttrust"}},
		{"--mysql DSN without a network twice", []string{"serve", "--mysql", "x@/db", "--mysql", "agenttrust:" + pw + "@/agenttrust"}},
		{"--postgres keyword DSN twice", []string{"serve", "--postgres", "x", "--postgres", "host=db.internal user=agenttrust password=" + pw + " dbname=agenttrust"}},
		{"--postgres keyword DSN, quoted password, twice", []string{"serve", "--postgres", "x", "--postgres", "host=db.internal password='" + pw + " and more' dbname=a"}},
		{"--postgres keyword DSN, spaced, twice", []string{"serve", "--postgres", "x", "--postgres", "host=db.internal password = " + pw + " dbname=a"}},
		{"--approval-webhook twice", []string{"serve", "--approval-webhook", "https://hooks.example/x", "--approval-webhook", "https://hooks.example/services/T0/B0/" + pw}},
		{"--postgres keyword DSN not quoted", []string{"serve", "--postgres", "host=db.internal", "password=" + pw, "dbname=agenttrust"}},
		{"--postgres keyword DSN not quoted, upper case", []string{"serve", "--postgres", "host=db.internal", "PASSWORD=" + pw}},
		{"URL as serve's argument", []string{"serve", pgURL}},
		{"DSN as serve's argument", []string{"serve", myDSN}},
		{"URL as whoami's argument", []string{"whoami", pgURL}},
		{"URL as the command", []string{pgURL, "serve"}},
		{"URL as a flag before any command", []string{"--postgres=" + pgURL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": "http://127.0.0.1:9", "AGENTTRUST_KEY": "atk_x"}, "", tc.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, "Run 'agenttrust") {
				t.Errorf("exit %d, want a usage error (%d); stderr: %s", res.code, exitUsage, res.stderr)
			}
			if strings.Contains(res.stdout+res.stderr, pw[:6]) {
				t.Errorf("the database password is printed:\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
			}
		})
	}
}

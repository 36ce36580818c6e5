package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"
)

// accessPair returns a Server writing access lines without slog and one
// writing them through slog's handler, each into its own buffer.
func accessPair(t testing.TB, json bool) (fast, ref *Server, fastOut, refOut *bytes.Buffer) {
	t.Helper()
	fastOut, refOut = new(bytes.Buffer), new(bytes.Buffer)
	fast, ref = &Server{}, &Server{}
	opt, h := WithAccessLogText(fastOut), slog.Handler(slog.NewTextHandler(refOut, nil))
	if json {
		opt, h = WithAccessLogJSON(fastOut), slog.NewJSONHandler(refOut, nil)
	}
	if err := opt(fast); err != nil {
		t.Fatal(err)
	}
	if err := WithAccessLog(slog.New(h))(ref); err != nil {
		t.Fatal(err)
	}
	return fast, ref, fastOut, refOut
}

// sameAccessLine fails unless both Servers write the same line for c at
// now, and reports whether the fast path wrote it.
func sameAccessLine(t testing.TB, json bool, c *call, now time.Time) bool {
	t.Helper()
	fast, ref, fastOut, refOut := accessPair(t, json)
	status := c.status
	if status == 0 {
		status = 200
	}
	took := fast.accessLines.write(c, now, status)
	if !took {
		fast.logAccess(c.r.Context(), c, now)
	}
	ref.logAccess(c.r.Context(), c, now)
	if fastOut.String() != refOut.String() {
		t.Fatalf("json=%v, fast path %v:\n got %q\nwant %q", json, took, fastOut, refOut)
	}
	return took
}

func accessCall(method string, rt *route, status int, start time.Time, reqID, tenant, decision string, bad bool) *call {
	c := &call{r: httptest.NewRequest("GET", "/", nil), rt: rt, status: status, start: start,
		reqID: reqID, decision: decision, badReqID: bad}
	c.r.Method = method
	c.p.Tenant = tenant
	return c
}

// The lines written without slog are slog's, byte for byte, in both
// formats; a field slog would escape goes through slog.
func TestAccessLinesMatchSlog(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 30, 1, 123456789, time.UTC)
	check := &route{method: "POST", path: "/v1/actions/check"}
	for _, tc := range []struct {
		name string
		c    *call
		now  time.Time
		fast bool
	}{
		{"check", accessCall("POST", check, 200, at, "req_1", "acme", "0190a5e0-0000-7000-8000-000000000000", false), at.Add(1234567), true},
		{"no tenant, no decision", accessCall("GET", &route{method: "GET", path: "/v1/health"}, 0, at, "r", "", "", false), at, true},
		{"any method", accessCall("PUT", &route{path: "/v1/x"}, 404, at, "r", "", "", true), at.Add(time.Second), true},
		{"unmatched", accessCall("BREW", nil, 404, at, "r", "t=1", "", false), at.Add(time.Hour), true},
		{"whole milliseconds, zone", accessCall("POST", check, 500, at, "r", "a b", "", false),
			time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+1800)), true},
		{"quote", accessCall("POST", check, 200, at, `r"1`, "acme", "", false), at, false},
		{"backslash", accessCall("POST", check, 200, at, `r\1`, "acme", "", false), at, false},
		{"newline", accessCall("POST", check, 200, at, "r", "ac\nme", "", false), at, false},
		{"not ASCII", accessCall("POST", check, 200, at, "r", "café", "", false), at, false},
		{"year out of range", accessCall("POST", check, 200, at, "r", "acme", "", false), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		for _, json := range []bool{false, true} {
			if took := sameAccessLine(t, json, tc.c, tc.now); took != tc.fast {
				t.Errorf("%s, json=%v: fast path %v, want %v", tc.name, json, took, tc.fast)
			}
		}
	}
}

func FuzzAccessLines(f *testing.F) {
	f.Add("POST", "POST", "/v1/actions/check", 200, int64(1234567), "req_1", "acme", "0190a5e0", false, int64(1765060201123456789))
	f.Add("GET", "", "/x y", 0, int64(-5), "", "a=b", "", true, int64(0))
	f.Fuzz(func(t *testing.T, method, rtMethod, path string, status int, latency int64, reqID, tenant, decision string, bad bool, unixNano int64) {
		now := time.Unix(0, unixNano).UTC()
		rt := &route{method: rtMethod, path: path}
		if path == "" {
			rt = nil
		}
		c := accessCall(method, rt, status, now.Add(-time.Duration(latency)), reqID, tenant, decision, bad)
		sameAccessLine(t, false, c, now)
		sameAccessLine(t, true, c, now)
	})
}

func TestAccessLogNilWriter(t *testing.T) {
	for _, opt := range []func(io.Writer) Option{WithAccessLogText, WithAccessLogJSON} {
		if err := opt(nil)(&Server{}); err == nil {
			t.Error("a nil writer was accepted")
		}
	}
}

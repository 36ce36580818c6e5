package agenttrust_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/store"
)

// mintCase is one way of minting a credential from another.
type mintCase struct {
	name string
	tool string // the record's Tool
	// mint makes a credential from f's key or from tok, a token of it,
	// and returns it with the id the record must name.
	mint func(ctx context.Context, f *fixture, key, tok string) (cred, id string, err error)
	jwt  bool
	hop  bool
}

var mintCases = []mintCase{
	{name: "exchange", tool: "agenttrust.exchange", mint: func(ctx context.Context, f *fixture, key, _ string) (string, string, error) {
		tok, err := f.c.Exchange(ctx, key, "tool in payments.charge")
		if err != nil {
			return "", "", err
		}
		info, _ := agenttrust.InspectTokenUnverified(tok)
		return tok, info.ID, nil
	}},
	{name: "exchange jwt", tool: "agenttrust.exchange_jwt", jwt: true, mint: func(ctx context.Context, f *fixture, key, _ string) (string, string, error) {
		s, err := f.c.ExchangeJWT(ctx, key, "https://mcp.example", "tool in payments.charge")
		if err != nil {
			return "", "", err
		}
		return s, jwtClaimsUnverified(s)["jti"].(string), nil
	}},
	{name: "delegate", tool: "agenttrust.delegate", hop: true, mint: func(ctx context.Context, f *fixture, _, tok string) (string, string, error) {
		out, h, err := f.c.Delegate(ctx, tok, time.Minute, "attr.amount <= 20")
		return out, h.ID, err
	}},
	{name: "narrow jwt from token", tool: "agenttrust.narrow_jwt", jwt: true, hop: true, mint: func(ctx context.Context, f *fixture, _, tok string) (string, string, error) {
		s, h, err := f.c.NarrowJWT(ctx, tok, "https://mcp.example", 0, "attr.amount <= 20")
		return s, h.ID, err
	}},
	{name: "narrow jwt from key", tool: "agenttrust.narrow_jwt", jwt: true, hop: true, mint: func(ctx context.Context, f *fixture, key, _ string) (string, string, error) {
		s, h, err := f.c.NarrowJWT(ctx, key, "https://mcp.example", 0, "attr.amount <= 20")
		return s, h.ID, err
	}},
}

// jwtClaimsUnverified decodes a JWT's claims without verifying it.
func jwtClaimsUnverified(s string) map[string]any {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

// caveatsOf returns the caveats a credential carries, as a reader of it
// sees them.
func caveatsOf(t *testing.T, cred string) []string {
	t.Helper()
	if strings.HasPrefix(cred, agenttrust.TokenPrefix) {
		info, err := agenttrust.InspectTokenUnverified(cred)
		if err != nil {
			t.Fatal(err)
		}
		return info.Caveats
	}
	var out []string
	for _, c := range jwtClaimsUnverified(cred)["caveats"].([]any) {
		out = append(out, c.(string))
	}
	return out
}

// digestOf is the caveats_sha256 a reader recomputes from a credential.
func digestOf(caveats []string) string {
	h := sha256.New()
	for _, c := range caveats {
		h.Write(binary.AppendUvarint(nil, uint64(len(c))))
		h.Write([]byte(c))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// mintRecords returns the records of recs whose Tool is tool.
func mintRecords(recs []agenttrust.AuditRecord, tool string) []agenttrust.AuditRecord {
	var out []agenttrust.AuditRecord
	for _, r := range recs {
		if r.Tool == tool {
			out = append(out, r)
		}
	}
	return out
}

// mintFixture is a fixture whose audit also goes to a JSON lines writer
// and a slog handler, with a key of billing-bot and a token of it,
// itself attenuated offline by its holder.
func mintFixture(t *testing.T, opts ...agenttrust.Option) (f *fixture, key, tok string, lines *bytes.Buffer) {
	t.Helper()
	lines = new(bytes.Buffer)
	mem := agenttrust.NewMemorySink(1000)
	sinks := []agenttrust.AuditSink{mem, audit.NewJSONSink(lines), audit.NewSlogSink(slog.New(slog.NewJSONHandler(lines, nil)))}
	f = newFixture(t, paymentsPolicy, append([]agenttrust.Option{agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: sinks})}, opts...)...)
	f.audit = mem
	ctx := context.Background()
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "bot", Caveats: []string{"resource in cust-*"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err = f.c.Exchange(ctx, key); err != nil {
		t.Fatal(err)
	}
	// Offline, by the holder: a caveat the record of a server-side mint
	// from this token must show although no server saw it added, and an
	// agent caveat naming someone else, which the record must not
	// believe.
	if tok, err = agenttrust.Attenuate(tok, "attr.amount <= 30", "agent = other-bot"); err != nil {
		t.Fatal(err)
	}
	return f, key, tok, lines
}

// Every mint of a credential by the client leaves one record in the
// chain, before the credential can be used, naming who minted it, for
// which agent, its id, its hops and exactly the caveats in force on it,
// never a secret: the minted credential, its signature, the key or
// token it was made from.
func TestAttackMintUnaudited(t *testing.T) {
	for _, tc := range mintCases {
		t.Run(tc.name, func(t *testing.T) {
			f, key, tok, lines := mintFixture(t)
			ctx := context.Background()
			before := len(mintRecords(f.records(t), tc.tool))
			cred, id, err := tc.mint(ctx, f, key, tok)
			if err != nil {
				t.Fatal(err)
			}
			// Used at once: its record must already precede the use.
			req := charge(10)
			req.Credential = cred
			req.AgentID = ""
			f.c.Check(ctx, req)
			recs := f.records(t)
			if err := f.c.VerifyChain(recs); err != nil {
				t.Fatal(err)
			}
			got := mintRecords(recs, tc.tool)[before:]
			if len(got) != 1 {
				t.Fatalf("%d %s records, want 1: %+v", len(got), tc.tool, got)
			}
			r := got[0]
			if r.Effect != agenttrust.Allow || r.Resource != id {
				t.Errorf("record %v for %q, want allow for %q", r.Effect, r.Resource, id)
			}
			if r.AgentID != "billing-bot" || !strings.HasPrefix(r.CredentialID, "key_") {
				t.Errorf("minted by %q/%q, want billing-bot and its key", r.AgentID, r.CredentialID)
			}
			if tc.hop && (len(r.HopIDs) == 0 || r.HopIDs[len(r.HopIDs)-1] != id) {
				t.Errorf("record hops %v, want them to end with %s", r.HopIDs, id)
			}
			var attrs struct {
				Agent   string   `json:"agent_id"`
				From    string   `json:"from"`
				Caveats []string `json:"caveats"`
				Digest  string   `json:"caveats_sha256"`
				Omitted int      `json:"caveats_omitted"`
			}
			if err := json.Unmarshal(r.Attributes, &attrs); err != nil {
				t.Fatalf("attributes %s: %v", r.Attributes, err)
			}
			want := caveatsOf(t, cred)
			if attrs.Agent != "billing-bot" || attrs.From == "" || !slices.Equal(attrs.Caveats, want) ||
				attrs.Digest != digestOf(want) || attrs.Omitted != 0 {
				t.Errorf("record attributes %s,\nwant agent billing-bot, caveats %q", r.Attributes, want)
			}
			// The record comes before the credential's first use.
			mintAt, useAt := -1, -1
			for i, rr := range recs {
				if rr.ID == r.ID {
					mintAt = i
				}
				if rr.Tool == "payments.charge" && useAt < 0 {
					useAt = i
				}
			}
			if useAt >= 0 && useAt < mintAt {
				t.Errorf("the credential was used (record %d) before its mint was recorded (record %d)", useAt, mintAt)
			}
			all, _ := json.Marshal(recs)
			all = append(all, lines.Bytes()...)
			secrets := map[string]string{"minted credential": cred, "source key": key, "source token": tok}
			if tc.jwt {
				secrets["JWT signature"] = cred[strings.LastIndexByte(cred, '.')+1:]
			}
			for name, s := range secrets {
				if bytes.Contains(all, []byte(s)) {
					t.Errorf("the %s is in the audit trail", name)
				}
			}
		})
	}
}

// A mint made through the server names the caller the server
// authenticated, as an operator action does, and still the agent the
// credential acts as.
func TestAttackMintNamesCaller(t *testing.T) {
	for _, tc := range mintCases {
		t.Run(tc.name, func(t *testing.T) {
			f, key, tok, _ := mintFixture(t)
			ctx := actor.With(context.Background(), actor.Actor{AgentID: "alice", KeyID: "key_alice"})
			before := len(mintRecords(f.records(t), tc.tool))
			if _, _, err := tc.mint(ctx, f, key, tok); err != nil {
				t.Fatal(err)
			}
			got := mintRecords(f.records(t), tc.tool)[before:]
			if len(got) != 1 || got[0].AgentID != "alice" || got[0].CredentialID != "key_alice" ||
				!strings.Contains(string(got[0].Attributes), `"agent_id":"billing-bot"`) {
				t.Fatalf("records %+v, want one by alice/key_alice for billing-bot", got)
			}
		})
	}
}

// While the audit is down (a sink stuck past its bound) nothing is
// minted: the mint is refused with ErrAuditUnavailable, no credential
// comes out and no hop is stored.
func TestAttackMintWhileAuditStuck(t *testing.T) {
	for _, tc := range mintCases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newBlockingSink()
				f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Second}))
				ctx := context.Background()
				key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "bot"})
				if err != nil {
					t.Fatal(err)
				}
				tok, err := f.c.Exchange(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				<-sink.entered
				time.Sleep(2 * time.Second)
				cred, _, err := tc.mint(ctx, f, key, tok)
				if !errors.Is(err, agenttrust.ErrAuditUnavailable) || cred != "" {
					t.Errorf("mint while the audit is stuck: %q, %v; want nothing and ErrAuditUnavailable", cred, err)
				}
				hops, _ := f.st.Hops(ctx, store.HopFilter{Tenant: agenttrust.DefaultTenant})
				if len(hops) != 0 {
					t.Errorf("a refused mint stored hops %+v", hops)
				}
				close(sink.release)
				f.c.SyncAudit(ctx)
			})
		})
	}
}

// In durable mode a credential leaves only once its record is written:
// a sink that never writes keeps it from being minted.
func TestAttackMintBeforeDurable(t *testing.T) {
	for _, tc := range mintCases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var hold atomic.Bool
				var held []agenttrust.AuditRecord
				sink := sinkFunc(func(ctx context.Context, recs []agenttrust.AuditRecord) error {
					if hold.Load() {
						<-ctx.Done()
						return ctx.Err()
					}
					held = append(held, recs...)
					return nil
				})
				f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Durable: true, StuckAfter: time.Second}))
				ctx := context.Background()
				key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "bot"})
				if err != nil {
					t.Fatal(err)
				}
				tok, err := f.c.Exchange(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				hold.Store(true)
				cred, _, err := tc.mint(ctx, f, key, tok)
				if !errors.Is(err, agenttrust.ErrAuditUnavailable) || cred != "" {
					t.Errorf("mint with its record not durable: %q, %v; want nothing and ErrAuditUnavailable", cred, err)
				}
				hops, _ := f.st.Hops(ctx, store.HopFilter{Tenant: agenttrust.DefaultTenant})
				if len(hops) != 0 {
					t.Errorf("a refused mint stored hops %+v", hops)
				}
			})
		})
	}
}

// A record cannot be cut to hide caveats: the largest credential the
// client mints, filled with caveats of backslashes (which JSON doubles),
// is recorded with every caveat, none omitted, and the attributes are
// not replaced by the truncation marker.
func TestAttackMintRecordOversized(t *testing.T) {
	for _, tc := range mintCases {
		t.Run(tc.name, func(t *testing.T) {
			f, key, tok, _ := mintFixture(t)
			ctx := context.Background()
			mint := func(cavs []string) (cred string, err error) {
				switch tc.tool {
				case "agenttrust.exchange":
					return f.c.Exchange(ctx, key, cavs...)
				case "agenttrust.exchange_jwt":
					return f.c.ExchangeJWT(ctx, key, "https://mcp.example", cavs...)
				case "agenttrust.delegate":
					cred, _, err = f.c.Delegate(ctx, tok, 0, cavs...)
					return cred, err
				}
				src := tok
				if strings.HasSuffix(tc.name, "key") {
					src = key
				}
				cred, _, err = f.c.NarrowJWT(ctx, src, "https://mcp.example", 0, cavs...)
				return cred, err
			}
			tooBig := func(err error) {
				t.Helper()
				if !errors.Is(err, agenttrust.ErrUnauthorized) && !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Fatal(err)
				}
			}
			// As many caveats as fit, then the longest last one that does.
			var cavs []string
			var cred string
			for i := 0; ; i++ {
				c := "attr.n" + strconv.Itoa(i) + ` = "` + strings.Repeat(`\\`, 300) + `"`
				got, err := mint(append(cavs, c))
				if err != nil {
					tooBig(err)
					break
				}
				cavs, cred = append(cavs, c), got
			}
			for n := 290; n > 0; n -= 10 {
				got, err := mint(append(cavs, `attr.last = "`+strings.Repeat(`\\`, n)+`"`))
				if err == nil {
					cred = got
					break
				}
				tooBig(err)
			}
			if cred == "" {
				t.Fatal("no large credential minted")
			}
			recs := mintRecords(f.records(t), tc.tool)
			last := recs[len(recs)-1]
			var attrs struct {
				Caveats   []string `json:"caveats"`
				Omitted   int      `json:"caveats_omitted"`
				Truncated bool     `json:"_truncated"`
			}
			json.Unmarshal(last.Attributes, &attrs)
			if want := caveatsOf(t, cred); attrs.Truncated || attrs.Omitted != 0 || !slices.Equal(attrs.Caveats, want) {
				t.Errorf("record of a %d-byte credential lists %d caveats (%d omitted, truncated %v), want %d",
					len(cred), len(attrs.Caveats), attrs.Omitted, attrs.Truncated, len(want))
			}
		})
	}
}

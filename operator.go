package agenttrust

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/redact"
)

// Operator actions in the audit trail. Every action of this client that
// changes who may do what (Approve, DenyApproval, Suspend, Resume,
// Revoke, CreateKey, SavePolicy) is recorded in the client's audit chain
// beside the decisions, through the same queue, chain and sinks: one
// record whose Tool names the action, Resource its target, Effect Allow,
// AgentID and CredentialID who acted (the agent and API key id of the
// caller the server authenticated; empty for a library caller) and
// Reason the note or reason given. Operator records are told from
// decisions by their Tool, which starts with "agenttrust." (opPrefix):
// Check refuses a request whose tool does, and records its tool behind
// "refused:", so no decision record can pass for an operator action.
//
// The record is made before the action, and the action runs only once
// the record is accepted, as a check's answer is given only once its
// record is: queued, or, in durable mode, written to every sink. When the
// audit is down (writes failing past AuditConfig.StuckAfter, the queue
// full) or the client is closed, the action is refused with an error
// matching ErrAuditUnavailable or ErrClosed, and nothing changes. When
// the action then fails, or its durable record is not written in time, a
// second record of the same Tool and Resource with Effect Deny says that
// the first did not take effect, naming its ID. So the trail never lacks
// an action that took effect, and an error always means the action was
// not applied or not fully recorded.
const (
	opPrefix       = "agenttrust."
	opApprove      = "agenttrust.approve"
	opDenyApproval = "agenttrust.deny_approval"
	// opWithdrawApproval: DenyApproval of an approval already approved.
	opWithdrawApproval = "agenttrust.withdraw_approval"
	opRemember         = "agenttrust.remember"
	opSuspend          = "agenttrust.suspend"
	opResume           = "agenttrust.resume"
	opRevoke           = "agenttrust.revoke"
	opCreateKey        = "agenttrust.create_key"
	opSavePolicy       = "agenttrust.save_policy"
)

// maxOpReason bounds the reason of an operator record: an approval's
// note may be this long.
const maxOpReason = 4096

// Credential mints in the audit trail. Every credential this client
// makes from another (Exchange and ExchangeJWT from an API key; Delegate
// and NarrowJWT, and so the server's token endpoint, from a key, token
// or JWT) is recorded as an operator action is, through audited: the
// record is made first and the credential is handed out only once the
// record is accepted (durable, in durable mode), so no credential acts
// before its record exists and none is minted while the audit is down.
// The record's Tool names the mint, its Resource the new credential's
// id (its token id, or for a delegation the id of its new hop, which
// HopIDs ends with), AgentID and CredentialID who minted it (the caller
// the server authenticated, else the agent and API key at the root of
// the credential shown), and its attributes the agent it acts as
// (agent_id), the id of the credential it was made from (from), its
// expiry, its audience for a JWT, and every caveat in force on it
// (caveats), as the credential itself carries them, with their SHA-256
// (caveats_sha256) so that a reader can match a credential to its
// record. The list is bounded (maxMintCaveatBytes): caveats past the
// bound are counted in caveats_omitted, never silently cut. The secret
// (the token's signature, the JWT's) is never recorded, and a credential
// written inside a caveat is redacted like any attribute. Attenuate, the
// holder's offline narrowing, involves no client and is not recorded.
const (
	opExchange    = "agenttrust.exchange"
	opExchangeJWT = "agenttrust.exchange_jwt"
	opDelegate    = "agenttrust.delegate"
	opNarrowJWT   = "agenttrust.narrow_jwt"
)

// maxMintCaveatBytes bounds the caveat list of one mint record, as JSON.
// A credential holds at most MaxCredentialSize bytes of base64, so at
// most 4.5 KiB of caveat text, which JSON at most doubles (canonical
// caveats escape everything else in ASCII, and only '\' and '"' are
// escaped again): the list of any credential fits whole, with room for
// its punctuation, and the record, with its other few short
// attributes, stays inside maxAuditAttrBytes (past which all its
// attributes would be replaced).
const maxMintCaveatBytes = 12 << 10

// mintRecord is what the audit record of a credential mint says.
type mintRecord struct {
	tool     string
	id       string // the new credential's id: its token id, or its new hop's
	agent    string // the agent it acts as
	from     string // the id of the credential it was made from
	by       actor.Actor
	hops     []string // its hops, the new one last
	caveats  []string // every caveat it carries, in its order
	expires  time.Time
	audience string // a JWT's
}

// operation returns the operator action that records m.
func (m *mintRecord) operation() operation {
	kvs := []attrKV{
		{Name: "agent_id", Value: m.agent},
		{Name: "from", Value: m.from},
	}
	kvs = appendCaveatKVs(kvs, m.caveats)
	if !m.expires.IsZero() {
		kvs = append(kvs, attrKV{Name: "expires", Value: m.expires.UTC().Format(time.RFC3339Nano)})
	}
	if m.audience != "" {
		kvs = append(kvs, attrKV{Name: "audience", Value: m.audience})
	}
	return operation{tool: m.tool, resource: m.id, reason: "minted for agent " + m.agent, by: m.by, hops: m.hops, kvs: kvs}
}

// appendCaveatKVs appends the attributes that show a credential's
// caveats in its record: the list (caveats), bounded by
// maxMintCaveatBytes with the number left out (caveats_omitted), and
// the SHA-256 of them all (caveats_sha256).
func appendCaveatKVs(kvs []attrKV, caveats []string) []attrKV {
	shown, omitted := caveats, 0
	n := 0
	var buf []byte
	for i, cv := range caveats {
		// Measured as encoded: escapes lengthen a caveat.
		buf = appendJSONText(buf[:0], cv, true)
		if n += len(buf) + 1; n > maxMintCaveatBytes {
			shown, omitted = caveats[:i], len(caveats)-i
			break
		}
	}
	if shown == nil {
		shown = []string{}
	}
	var list bytes.Buffer
	enc := json.NewEncoder(&list)
	enc.SetEscapeHTML(false) // "<" as it is in the caveat, not \u003c
	enc.Encode(shown)        // a []string always encodes
	kvs = append(kvs,
		attrKV{Name: "caveats", Value: json.RawMessage(bytes.TrimSuffix(list.Bytes(), []byte("\n")))},
		attrKV{Name: "caveats_sha256", Value: caveatsDigest(caveats)})
	if omitted > 0 {
		kvs = append(kvs, attrKV{Name: "caveats_omitted", Value: omitted})
	}
	return kvs
}

// caveatsDigest returns the hex SHA-256 of a credential's caveats, each
// preceded by its length, so that no two lists share a digest.
func caveatsDigest(caveats []string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, cv := range caveats {
		h.Write(binary.AppendUvarint(n[:0], uint64(len(cv))))
		h.Write([]byte(cv))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// operation is one operator action as its audit record holds it.
type operation struct {
	tool, resource, reason string
	approval               string // the approval decided, if any
	// by is who acted when the context names no one: for a mint, the
	// holder of the credential shown.
	by   actor.Actor
	hops []string
	kvs  []attrKV
}

// audited runs act, an operator action, under its audit record (see the
// comment on the op constants above): it refuses the action when the
// record cannot be made, and notes in the trail an action that failed.
func (c *Client) audited(ctx context.Context, op operation, act func() error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if !c.audit.healthy() {
		return fmt.Errorf("%w: audit writes failing for more than %s: %s not performed", ErrAuditUnavailable, c.audit.stuckAfter, op.tool)
	}
	who := actor.From(ctx)
	if who.IsZero() {
		who = op.by
	}
	now, err := c.now()
	if err != nil {
		return fmt.Errorf("%s not performed: %w", op.tool, err)
	}
	id := c.ids.next(now)
	// Under way until its notes are queued: a closing drain waits for it.
	c.audit.inflight.Add(1)
	defer c.audit.inflight.Add(-1)
	ticket, err := c.recordOp(id, now, who, &op, Allow, op.reason, false)
	if err != nil {
		return fmt.Errorf("%s not performed: %w", op.tool, err)
	}
	if c.audit.durable {
		if err := c.audit.await(ctx, ticket); err != nil {
			c.recordOp(c.ids.next(now), now, who, &op, Deny, "not performed: record "+id.String()+" was not durable in time", true)
			return fmt.Errorf("%s not performed: %w", op.tool, err)
		}
	}
	// A panic of the store (or clock) under the action is its failure:
	// noted, never a record of an action that did not take effect.
	if err := recovered(op.tool, act); err != nil {
		now, _ := c.now()
		c.recordOp(c.ids.next(now), now, who, &op, Deny, "not performed: record "+id.String()+": "+opFailure(err), true)
		return err
	}
	return nil
}

// opFailure is what the trail says of an action's error: its text, but
// without the text of any store error in it, which names the database's
// user, host and port and goes to the caller (the server's log) only.
func opFailure(err error) string {
	msg := err.Error()
	eachStoreError(err, func(se *storeError) {
		if t := se.err.Error(); t != "" {
			msg = strings.ReplaceAll(msg, t, storeErrorWithheld)
		}
	})
	return msg
}

// storeErrorWithheld stands for a store's error text in the audit trail.
const storeErrorWithheld = "[the store's error is in the log]"

// eachStoreError calls f with every storeError in err's tree.
func eachStoreError(err error, f func(*storeError)) {
	if se, ok := err.(*storeError); ok {
		f(se)
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			eachStoreError(w, f)
		}
	case interface{ Unwrap() []error }:
		for _, w := range u.Unwrap() {
			eachStoreError(w, f)
		}
	}
}

// recordOp queues the audit record of an operator action and returns its
// ticket (see auditor.end). A note says an action recorded before was not
// performed; one that cannot be queued is logged.
func (c *Client) recordOp(id DecisionID, now time.Time, who actor.Actor, op *operation, effect Effect, reason string, note bool) (uint64, error) {
	// The reason is free text a person typed (a note, a key's name) or
	// an error: any credential in it is redacted, as in a check's
	// attributes, before it is cut to size, which could split one.
	reason = storable(redact.Credentials(reason), maxOpReason)
	agent, cred := clip(who.AgentID), clip(who.KeyID)
	resource, approval := clip(op.resource), clip(op.approval)
	p, err := c.audit.begin(note)
	if err != nil {
		if note {
			c.log.Error("agenttrust: an action not performed could not be noted in the audit trail", "tool", op.tool, "reason", reason, "err", err)
		}
		return 0, err
	}
	*p = pending{
		id:       id,
		unixNano: now.UnixMicro() * 1000, // records keep microseconds
		agent:    agent,
		cred:     cred,
		tool:     op.tool,
		resource: resource,
		approval: approval,
		hops:     storableList(op.hops),
		effect:   effect,
		reason:   reason,
	}
	return c.audit.end(p, op.kvs, kvsText(op.kvs)), nil
}

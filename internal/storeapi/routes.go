package storeapi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// Requests and answers of the routes: an object whose fields are the
// method's arguments, and one whose fields are its results.

type (
	blockReq struct {
		Block wireBlock `json:"block"`
	}
	tenantIDReq struct {
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
	}
	blockedReq struct {
		Tenant string   `json:"tenant"`
		IDs    []string `json:"ids"`
	}
	blockedResp struct {
		Blocked bool       `json:"blocked"`
		Block   *wireBlock `json:"block,omitempty"` // present when blocked
	}
	tenantReq struct {
		Tenant string `json:"tenant"`
	}
	blocksResp struct {
		Blocks []wireBlock `json:"blocks"`
	}
	pruneReq struct {
		Now time.Time `json:"now"`
	}
	pruneResp struct {
		Removed int `json:"removed"`
	}
	approvalMsg struct {
		Approval wireApproval `json:"approval"`
	}
	approvalsReq struct {
		Filter wireApprovalFilter `json:"filter"`
	}
	approvalsResp struct {
		Approvals []wireApproval `json:"approvals"`
	}
	decideReq struct {
		Tenant   string       `json:"tenant"`
		ID       string       `json:"id"`
		Decision wireDecision `json:"decision"`
	}
	voidReq struct {
		Tenant string `json:"tenant"`
		ID     string `json:"id"`
		Note   string `json:"note,omitempty"`
	}
	fingerprintReq struct {
		Tenant      string    `json:"tenant"`
		Fingerprint string    `json:"fingerprint"`
		Now         time.Time `json:"now"`
	}
	policyMsg struct {
		Policy wirePolicy `json:"policy"`
	}
	putPolicyReq struct {
		Policy        wirePolicy `json:"policy"`
		ExpectVersion int64      `json:"expect_version"`
	}
	recordsMsg struct {
		Records []wireRecord `json:"records"`
	}
	chainReq struct {
		Chain string `json:"chain"`
	}
	recordResp struct {
		Record wireRecord `json:"record"`
	}
	queryAuditReq struct {
		Query wireAuditQuery `json:"query"`
	}
	keyMsg struct {
		Key wireKey `json:"key"`
	}
	hashReq struct {
		Hash store.Hash `json:"hash"`
	}
	keysResp struct {
		Keys []wireKey `json:"keys"`
	}
	hopReq struct {
		Hop wireHop `json:"hop"`
	}
	hopsReq struct {
		Filter wireHopFilter `json:"filter"`
	}
	hopsResp struct {
		Hops []wireHop `json:"hops"`
	}
	evaluateReq struct {
		Input wirePolicyInput `json:"input"`
	}
	evaluateResp struct {
		Result wirePolicyResult `json:"result"`
	}
	emptyMsg  struct{}
	errorBody struct {
		Error errorDetail `json:"error"`
	}
	errorDetail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
)

// backend is what the handler serves from.
type backend struct {
	st     store.Store
	engine agenttrust.PolicyEngine
}

// route is one POST route: its name (the last element of the path), its
// wire types and how the handler serves it.
type route struct {
	name string
	// idempotent: repeating the call leaves the same state and answer, so
	// the client may retry it after a transport failure or a 502/503/504.
	idempotent bool
	engine     bool // served by the policy engine rather than the store
	in, out    *schema
	newIn      func() any
	newOut     func() any
	serve      func(ctx context.Context, b *backend, in any) (any, error)
}

func op[In, Out any](name string, idempotent bool, serve func(ctx context.Context, st store.Store, in *In) (*Out, error)) *route {
	return &route{
		name: name, idempotent: idempotent,
		in: schemaOf(reflect.TypeFor[In]()), out: schemaOf(reflect.TypeFor[Out]()),
		newIn: func() any { return new(In) }, newOut: func() any { return new(Out) },
		serve: func(ctx context.Context, b *backend, in any) (any, error) {
			if b.st == nil {
				return nil, fmt.Errorf("%s no store is served here: %w", prefix, store.ErrUnavailable)
			}
			return serve(ctx, b.st, in.(*In))
		},
	}
}

// invalid wraps a conversion error of a well-formed request as ErrInvalid.
func invalid(err error) error { return fmt.Errorf("%s %w: %w", prefix, store.ErrInvalid, err) }

// routeTable returns every route by name. It is built by each Handler and
// Client, so the package holds no mutable state.
func routeTable() map[string]*route {
	rs := []*route{
		op("revoke", true, func(ctx context.Context, st store.Store, in *blockReq) (*emptyMsg, error) {
			b, err := in.Block.model()
			if err != nil {
				return nil, invalid(err)
			}
			return &emptyMsg{}, st.Revoke(ctx, b)
		}),
		op("suspend", true, func(ctx context.Context, st store.Store, in *blockReq) (*emptyMsg, error) {
			b, err := in.Block.model()
			if err != nil {
				return nil, invalid(err)
			}
			return &emptyMsg{}, st.Suspend(ctx, b)
		}),
		op("resume", false, func(ctx context.Context, st store.Store, in *tenantIDReq) (*emptyMsg, error) {
			return &emptyMsg{}, st.Resume(ctx, in.Tenant, in.ID)
		}),
		op("blocked", true, func(ctx context.Context, st store.Store, in *blockedReq) (*blockedResp, error) {
			b, blocked, err := st.Blocked(ctx, in.Tenant, in.IDs)
			if err != nil || !blocked {
				return &blockedResp{}, err
			}
			w := toWireBlock(b)
			return &blockedResp{Blocked: true, Block: &w}, nil
		}),
		op("blocks", true, func(ctx context.Context, st store.Store, in *tenantReq) (*blocksResp, error) {
			bs, err := st.Blocks(ctx, in.Tenant)
			out := &blocksResp{Blocks: make([]wireBlock, len(bs))}
			for i, b := range bs {
				out.Blocks[i] = toWireBlock(b)
			}
			return out, err
		}),
		op("prune_revocations", false, func(ctx context.Context, st store.Store, in *pruneReq) (*pruneResp, error) {
			n, err := st.PruneRevocations(ctx, in.Now)
			return &pruneResp{Removed: n}, err
		}),
		op("create_approval", false, func(ctx context.Context, st store.Store, in *approvalMsg) (*emptyMsg, error) {
			a, err := in.Approval.model()
			if err != nil {
				return nil, invalid(err)
			}
			return &emptyMsg{}, st.CreateApproval(ctx, a)
		}),
		op("approval", true, func(ctx context.Context, st store.Store, in *tenantIDReq) (*approvalMsg, error) {
			a, err := st.Approval(ctx, in.Tenant, in.ID)
			return &approvalMsg{Approval: toWireApproval(a)}, err
		}),
		op("approvals", true, func(ctx context.Context, st store.Store, in *approvalsReq) (*approvalsResp, error) {
			f := store.ApprovalFilter{Tenant: in.Filter.Tenant, AgentID: in.Filter.AgentID, Status: store.ApprovalStatus(in.Filter.Status), PendingAt: in.Filter.PendingAt, Limit: in.Filter.Limit}
			as, err := st.Approvals(ctx, f)
			out := &approvalsResp{Approvals: make([]wireApproval, len(as))}
			for i, a := range as {
				out.Approvals[i] = toWireApproval(a)
			}
			return out, err
		}),
		op("decide_approval", false, func(ctx context.Context, st store.Store, in *decideReq) (*approvalMsg, error) {
			a, err := st.DecideApproval(ctx, in.Tenant, in.ID, in.Decision.model())
			return &approvalMsg{Approval: toWireApproval(a)}, err
		}),
		// Not idempotent: repeated after a lost answer, a withdrawal
		// finds the approval denied (ErrConflict), and the caller reads
		// it back (agenttrust's decisionStands).
		op("withdraw_approval", false, func(ctx context.Context, st store.Store, in *decideReq) (*approvalMsg, error) {
			w, ok := st.(store.Withdrawer)
			if !ok {
				return nil, fmt.Errorf("%s the served store cannot withdraw an approval: %w", prefix, store.ErrConflict)
			}
			a, err := w.WithdrawApproval(ctx, in.Tenant, in.ID, in.Decision.model())
			return &approvalMsg{Approval: toWireApproval(a)}, err
		}),
		// Not idempotent: repeated after a lost answer, it finds the
		// approval denied (ErrConflict), which the client only logs.
		op("void_approval", false, func(ctx context.Context, st store.Store, in *voidReq) (*approvalMsg, error) {
			v, ok := st.(store.Voider)
			if !ok {
				return nil, fmt.Errorf("%s the served store cannot void an approval: %w", prefix, store.ErrConflict)
			}
			a, err := v.VoidApproval(ctx, in.Tenant, in.ID, in.Note)
			return &approvalMsg{Approval: toWireApproval(a)}, err
		}),
		op("consume_approval", false, func(ctx context.Context, st store.Store, in *fingerprintReq) (*approvalMsg, error) {
			a, err := st.ConsumeApproval(ctx, in.Tenant, in.Fingerprint, in.Now)
			return &approvalMsg{Approval: toWireApproval(a)}, err
		}),
		op("pending_approval", true, func(ctx context.Context, st store.Store, in *fingerprintReq) (*approvalMsg, error) {
			a, err := st.PendingApproval(ctx, in.Tenant, in.Fingerprint, in.Now)
			return &approvalMsg{Approval: toWireApproval(a)}, err
		}),
		op("policy", true, func(ctx context.Context, st store.Store, in *tenantReq) (*policyMsg, error) {
			d, err := st.Policy(ctx, in.Tenant)
			return &policyMsg{Policy: toWirePolicy(d)}, err
		}),
		op("put_policy", false, func(ctx context.Context, st store.Store, in *putPolicyReq) (*policyMsg, error) {
			d, err := st.PutPolicy(ctx, in.Policy.model(), in.ExpectVersion)
			return &policyMsg{Policy: toWirePolicy(d)}, err
		}),
		op("append_audit", false, func(ctx context.Context, st store.Store, in *recordsMsg) (*emptyMsg, error) {
			recs, err := modelRecords(in.Records)
			if err != nil {
				return nil, invalid(err)
			}
			return &emptyMsg{}, st.AppendAudit(ctx, recs)
		}),
		op("audit_head", true, func(ctx context.Context, st store.Store, in *chainReq) (*recordResp, error) {
			r, err := st.AuditHead(ctx, in.Chain)
			return &recordResp{Record: toWireRecord(r)}, err
		}),
		op("query_audit", true, func(ctx context.Context, st store.Store, in *queryAuditReq) (*recordsMsg, error) {
			recs, err := st.QueryAudit(ctx, in.Query.model())
			return &recordsMsg{Records: toWireRecords(recs)}, err
		}),
		op("create_key", false, func(ctx context.Context, st store.Store, in *keyMsg) (*emptyMsg, error) {
			return &emptyMsg{}, st.CreateKey(ctx, in.Key.model())
		}),
		op("key_by_hash", true, func(ctx context.Context, st store.Store, in *hashReq) (*keyMsg, error) {
			k, err := st.KeyByHash(ctx, [32]byte(in.Hash))
			return &keyMsg{Key: toWireKey(k)}, err
		}),
		op("key", true, func(ctx context.Context, st store.Store, in *tenantIDReq) (*keyMsg, error) {
			k, err := st.Key(ctx, in.Tenant, in.ID)
			return &keyMsg{Key: toWireKey(k)}, err
		}),
		op("keys", true, func(ctx context.Context, st store.Store, in *tenantReq) (*keysResp, error) {
			ks, err := st.Keys(ctx, in.Tenant)
			out := &keysResp{Keys: make([]wireKey, len(ks))}
			for i, k := range ks {
				out.Keys[i] = toWireKey(k)
			}
			return out, err
		}),
		op("create_hop", false, func(ctx context.Context, st store.Store, in *hopReq) (*emptyMsg, error) {
			return &emptyMsg{}, st.CreateHop(ctx, in.Hop.model())
		}),
		op("hops", true, func(ctx context.Context, st store.Store, in *hopsReq) (*hopsResp, error) {
			hs, err := st.Hops(ctx, store.HopFilter{Tenant: in.Filter.Tenant, TokenID: in.Filter.TokenID, KeyID: in.Filter.KeyID})
			out := &hopsResp{Hops: make([]wireHop, len(hs))}
			for i, h := range hs {
				out.Hops[i] = toWireHop(h)
			}
			return out, err
		}),
		evaluateRoute(),
	}
	rs = append(rs, rateRoutes()...)
	rs = append(rs, budgetRoutes()...)
	m := make(map[string]*route, len(rs))
	for _, r := range rs {
		m[r.name] = r
	}
	return m
}

// evaluateRoute asks a policy engine rather than the store.
func evaluateRoute() *route {
	return &route{
		name: "evaluate", idempotent: true, engine: true,
		in: schemaOf(reflect.TypeFor[evaluateReq]()), out: schemaOf(reflect.TypeFor[evaluateResp]()),
		newIn: func() any { return new(evaluateReq) }, newOut: func() any { return new(evaluateResp) },
		serve: func(ctx context.Context, b *backend, in any) (any, error) {
			if b.engine == nil {
				return nil, errNoEngine
			}
			res, err := b.engine.Evaluate(ctx, in.(*evaluateReq).Input.model())
			if err != nil {
				return nil, err
			}
			return &evaluateResp{Result: wirePolicyResult{Effect: res.Effect, Rule: res.Rule, Reason: res.Reason, Approvers: res.Approvers, ApprovalTimeout: res.ApprovalTimeout}}, nil
		},
	}
}

// errNoEngine answers evaluate on a handler given no policy engine.
var errNoEngine = errors.New(prefix + " no policy engine is served here")

package storeapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// StoredPolicies is an agenttrust.PolicyEngine for the evaluate route of
// a multi-tenant server: it decides with the built-in rule engine on the
// policy stored for PolicyInput.Tenant, as a Client that follows its
// stored policy does, and denies ("no rule allows this action") when the
// tenant has none. Each Evaluate reads the stored document, so a new
// version is used at once; a compiled version is kept per tenant, so an
// unchanged one is not parsed again. A stored document that does not
// parse fails Evaluate (the check denies). So does one holding rate
// limits: they are not part of evaluation, and the asking Client, whose
// policy engine this is (agenttrust.WithPolicyEngine), applies no policy
// limits, so its checks would pass every limit the tenant wrote. Such a
// tenant's processes decide with the stored policy itself: agenttrust.New
// over the store, without WithPolicyEngine.
//
// Use it when tenants' policies live in the store (SavePolicy, PUT
// /v1/policy); a server whose Clients are given their policy in code
// (agenttrust.WithPolicy) must hand evaluate that policy instead. Safe for
// concurrent use.
type StoredPolicies struct {
	st store.Policies

	mu       sync.Mutex
	compiled map[string]compiledPolicy // by tenant
	none     agenttrust.PolicyEngine   // the empty policy: default deny
}

type compiledPolicy struct {
	version int64
	engine  agenttrust.PolicyEngine
	err     error // the version is refused (it holds limits)
}

var _ agenttrust.PolicyEngine = (*StoredPolicies)(nil)

// NewStoredPolicies returns an engine over st's policies.
func NewStoredPolicies(st store.Policies) (*StoredPolicies, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", agenttrust.ErrInvalidConfig)
	}
	none, err := agenttrust.NewRuleEngine(&agenttrust.Policy{})
	if err != nil {
		return nil, err
	}
	return &StoredPolicies{st: st, compiled: map[string]compiledPolicy{}, none: none}, nil
}

// Evaluate implements agenttrust.PolicyEngine.
func (e *StoredPolicies) Evaluate(ctx context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
	eng, err := e.engine(ctx, in.Tenant)
	if err != nil {
		return agenttrust.PolicyResult{}, err
	}
	return eng.Evaluate(ctx, in)
}

func (e *StoredPolicies) engine(ctx context.Context, tenant string) (agenttrust.PolicyEngine, error) {
	doc, err := e.st.Policy(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		return e.none, nil
	}
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	c, ok := e.compiled[tenant]
	e.mu.Unlock()
	if ok && c.version == doc.Version {
		return c.engine, c.err
	}
	p, err := agenttrust.ParsePolicy(doc.Body, doc.Format)
	if err != nil {
		return nil, fmt.Errorf("stored policy of tenant %q, version %d: %w", tenant, doc.Version, err)
	}
	var cp compiledPolicy
	if len(p.Limits) > 0 {
		ids := make([]string, len(p.Limits))
		for i, l := range p.Limits {
			ids[i] = l.ID
		}
		cp.err = fmt.Errorf("%w: stored policy of tenant %q, version %d, holds rate limits (%s), which a client deciding through the evaluate route would not apply: decide with the stored policy itself, not a remote policy engine",
			agenttrust.ErrInvalidConfig, tenant, doc.Version, strings.Join(ids, ", "))
	} else if cp.engine, err = agenttrust.NewRuleEngine(p); err != nil {
		return nil, err
	}
	cp.version = doc.Version
	e.mu.Lock()
	if cur, ok := e.compiled[tenant]; !ok || cur.version < doc.Version {
		e.compiled[tenant] = cp
	}
	e.mu.Unlock()
	return cp.engine, cp.err
}

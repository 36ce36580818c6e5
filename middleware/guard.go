package middleware

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/agenttrust/agenttrust"
)

// GuardOption configures Guard.
type GuardOption func(*guardConfig)

type guardConfig struct {
	resource   func(any) string
	attributes func(any) map[string]any
	wait       bool
	// takes lists what each Resource and Attributes option takes, which
	// Guard holds to its own input type: GuardOption hides it from the
	// compiler.
	takes []optionInput
}

// optionInput is the input an option's function takes.
type optionInput struct {
	option  string
	typ     reflect.Type
	nilFunc bool
}

// fit refuses an option that could not take in, Guard's input type, on
// every call: a nil function, or a type in is not assignable to.
func (o optionInput) fit(tool string, in reflect.Type) error {
	switch {
	case o.nilFunc:
		return fmt.Errorf("%w: Guard of %q has a %s option of a nil function", agenttrust.ErrInvalidConfig, tool, o.option)
	case !in.AssignableTo(o.typ):
		return fmt.Errorf("%w: Guard of %q takes %s, which its %s option (for %s) cannot", agenttrust.ErrInvalidConfig, tool, in, o.option, o.typ)
	}
	return nil
}

// Resource derives the request's resource from the tool's input. f must
// take the tool's input type, or an interface it implements; otherwise
// (or when f is nil) the guarded tool refuses every call with
// agenttrust.ErrInvalidConfig.
func Resource[In any](f func(In) string) GuardOption {
	return func(c *guardConfig) {
		c.takes = append(c.takes, optionInput{"Resource", reflect.TypeFor[In](), f == nil})
		// Guard checked the type: only a nil interface fails the
		// assertion, and its zero In is that nil.
		c.resource = func(v any) string { in, _ := v.(In); return f(in) }
	}
}

// Attributes derives the request's attributes from the tool's input,
// replacing any taken from struct tags. f must take what Resource's
// does.
func Attributes[In any](f func(In) map[string]any) GuardOption {
	return func(c *guardConfig) {
		c.takes = append(c.takes, optionInput{"Attributes", reflect.TypeFor[In](), f == nil})
		c.attributes = func(v any) map[string]any { in, _ := v.(In); return f(in) }
	}
}

// WaitForApproval makes a guarded call that needs approval block until the
// approval is decided (then check again and, if allowed, run) or the
// context ends. The checker must implement ApprovalWaiter.
func WaitForApproval() GuardOption { return func(c *guardConfig) { c.wait = true } }

// Guard wraps a tool function so it runs only when c allows it. The agent,
// session and credential come from the context (agenttrust.WithAgent,
// WithCredential). Without Resource or Attributes options, an In struct's
// fields tagged `agenttrust:"resource"` or `agenttrust:"attr"` (or
// `agenttrust:"attr,NAME"`) supply them. A resource not in Unicode NFC
// is refused without asking c (a deny matching
// agenttrust.ErrInvalidRequest): c would judge its NFC form, and fn
// serve another.
//
// A deny returns an error matching ErrDenied (an
// *DeniedError carrying the Decision); needs-approval returns
// one matching ErrApprovalRequired, or waits with
// WaitForApproval. fn never runs unless the decision is Allow.
func Guard[In, Out any](c agenttrust.Checker, tool string, fn func(context.Context, In) (Out, error), opts ...GuardOption) func(context.Context, In) (Out, error) {
	var cfg guardConfig
	for _, o := range opts {
		o(&cfg)
	}
	tags, tagErr := planTags(reflect.TypeFor[In]())
	if tagErr == nil && c == nil {
		tagErr = fmt.Errorf("%w: Guard of %q has a nil checker", agenttrust.ErrInvalidConfig, tool)
	}
	for _, o := range cfg.takes {
		if tagErr == nil {
			tagErr = o.fit(tool, reflect.TypeFor[In]())
		}
	}
	return func(ctx context.Context, in In) (Out, error) {
		var zero Out
		if tagErr != nil {
			_, err := decide(agenttrust.Decision{Reason: "guard misconfigured"}, tagErr)
			return zero, err
		}
		req := callerRequest(ctx, tool)
		tags.fill(&req, in)
		if cfg.resource != nil {
			req.Resource = cfg.resource(in)
		}
		if cfg.attributes != nil {
			req.Attributes = cfg.attributes(in)
		}
		if err := resourceForm(req.Resource); err != nil {
			_, err = decide(agenttrust.Decision{Reason: reasonResourceForm}, err)
			return zero, err
		}
		d, err := c.Check(ctx, req)
		if err == nil && d.Effect == agenttrust.NeedsApproval && cfg.wait {
			d, err = waitAndRecheck(ctx, c, req, d)
		}
		if _, err := decide(d, err); err != nil {
			return zero, err
		}
		return fn(ctx, in)
	}
}

func waitAndRecheck(ctx context.Context, c agenttrust.Checker, req agenttrust.Request, d agenttrust.Decision) (agenttrust.Decision, error) {
	w, ok := c.(ApprovalWaiter)
	if !ok {
		return d, nil // cannot wait: report that approval is required
	}
	a, err := w.WaitApproval(ctx, d.ApprovalID)
	if err != nil {
		return agenttrust.Decision{ID: d.ID, Reason: "approval " + d.ApprovalID + " not granted"}, err
	}
	if a.Status != agenttrust.ApprovalApproved {
		return agenttrust.Decision{ID: d.ID, Reason: "approval " + d.ApprovalID + " " + string(a.Status) + " by " + a.DecidedBy}, nil
	}
	return c.Check(ctx, req)
}

// tagPlan records which struct fields feed the request.
type tagPlan struct {
	ptr      bool
	resource []int
	attrs    []attrField
}

type attrField struct {
	index []int
	name  string
}

func planTags(t reflect.Type) (*tagPlan, error) {
	p := &tagPlan{}
	if t == nil {
		return p, nil
	}
	if t.Kind() == reflect.Pointer {
		p.ptr, t = true, t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return p, nil
	}
	for _, f := range reflect.VisibleFields(t) {
		tag, ok := f.Tag.Lookup("agenttrust")
		if !ok || !f.IsExported() {
			continue
		}
		kind, name, _ := strings.Cut(tag, ",")
		switch kind {
		case "resource":
			if f.Type.Kind() != reflect.String {
				return nil, fmt.Errorf("%w: field %s tagged resource must be a string", agenttrust.ErrInvalidConfig, f.Name)
			}
			p.resource = f.Index
		case "attr":
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			p.attrs = append(p.attrs, attrField{f.Index, name})
		default:
			return nil, fmt.Errorf("%w: field %s: unknown agenttrust tag %q", agenttrust.ErrInvalidConfig, f.Name, tag)
		}
	}
	return p, nil
}

func (p *tagPlan) fill(req *agenttrust.Request, in any) {
	if p.resource == nil && p.attrs == nil {
		return
	}
	v := reflect.ValueOf(in)
	if p.ptr {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if p.resource != nil {
		if f, err := v.FieldByIndexErr(p.resource); err == nil {
			req.Resource = f.String()
		}
	}
	if len(p.attrs) > 0 {
		req.Attributes = make(map[string]any, len(p.attrs))
		for _, a := range p.attrs {
			if f, err := v.FieldByIndexErr(a.index); err == nil {
				req.Attributes[a.name] = f.Interface()
			}
		}
	}
}

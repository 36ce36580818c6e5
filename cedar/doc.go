// Package cedar is a second policy engine for agenttrust: an
// agenttrust.PolicyEngine that decides with a Cedar policy set, evaluated
// by github.com/cedar-policy/cedar-go.
//
//	engine, err := cedar.LoadFile("policy.cedar")
//	client, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(engine))
//
// # The request in Cedar
//
// Each check becomes one Cedar request (schema.cedarschema in this
// package declares it):
//
//	principal  Agent::"<agent id>", a member of Tenant::"<tenant>"
//	action     Action::"<tool>"
//	resource   Resource::"<resource>"
//	context    {
//	  agent, tool, resource, tenant, session, on_behalf_of: String,
//	  hops: Set<String>,       // delegation hop ids of the credential
//	  attr: { ... },           // the request's attributes
//	  ip?: ipaddr,             // the caller's address, when known (never one with a zone)
//	  time?: datetime,         // the check's time
//	}
//
// The request's attributes are in context.attr, not in the context
// itself: a has test on the context for another field than those above
// is always false, so a policy holding one (context has blocked, as a
// policy written for another Cedar deployment may) is refused when it
// loads.
//
// The names are also strings in the context, so that a policy can match
// them with like: context.tool like "payments.*" is the rule engine's
// tools: [payments.*]. A field the request lacks (session, on_behalf_of)
// is the empty string, as the rule engine sees it. No entity has
// attributes; the only hierarchy is the agent's tenant, so
// principal in Tenant::"acme" holds for acme's agents. A policy naming
// another entity type (agent::"x", Team::"ops"), testing an entity with
// has or hasTag, or testing principal, action or resource against a type
// it never is or is in (principal == Tenant::"acme", resource in
// Tenant::"acme", principal is Tenant) could never hold, so it is
// refused when it loads. Actions have no
// groups: action in Action::"payments" is false for payments.charge;
// write action in [Action::"payments.charge", Action::"payments.refund"]
// or context.tool like "payments.*".
//
// Attributes convert by type: a string is a String; a bool a Boolean; an
// integer within int64 (a Go integer, an integral float, a json.Number)
// is a Long; another finite number is a decimal when it has at most four
// fractional digits (compare it with .lessThan(decimal("50.25")), not <);
// a map[string]any is a record; a []any a set (order and duplicates are
// lost); a nil value is left out, as if absent, unless its name is one
// a policy reads (see below), when the check is refused: left out, it
// would make "has" false and skip a forbid, while the tool still gets the
// null (a JSON merge patch deletes the field). A json.Number is read
// exactly from its text, never through a float64: 5000.00000000000000001
// has more than four fractional digits. One a float64 cannot hold (an
// integer past 2^53 that is not a float64, like 9007199254740993; a
// fraction of more than 15 significant digits) is refused, since a tool
// reading it as a float64 would act on another number. A float converts only where no other Cedar value rounds onto
// it: an integral float64 below 2^53 in magnitude, a fractional one
// below 2^39 (for a float32, 2^24 and 2^10). Anything else (a string not
// valid UTF-8 in NFC or holding an invisible formatting character, a
// number beyond those ranges, NaN, another Go type, nesting deeper than
// 16, more than 10,000 values, a remote address with a zone such as
// fe80::1%eth0, which Cedar would judge as fe80::1) makes the check deny with a
// *RequestError: a value Cedar would compare differently from how it
// reads must not slip past a forbid.
//
// So does an attribute name, at any depth, that differs only in case
// from a name the policies read (AMOUNT, Amount, or a long s for s or a
// dotless i for i, when a policy reads context.attr.amount or has
// amount; the folding is agenttrust's, unicode.ToLower of
// unicode.ToUpper rune by rune), whatever its value and whether or not
// the exact name is sent too. For Cedar the policy's name would be
// missing, so context.attr has amount is false and a forbid guarded by
// it skipped, while a tool that decodes its arguments into a struct
// (encoding/json matches field names case-insensitively) reads the
// attribute as amount. The names a policy reads are those it accesses or
// tests with has on anything but principal, action, resource or context
// themselves, and the keys of its record literals, collected when the
// policies load; a name no policy reads may come in any case.
//
// The caller's address is unmapped (::ffff:10.0.0.1 is 10.0.0.1), as the
// rule engine and the server read it, so a policy's ip literal written
// as an IPv4-mapped IPv6 address or prefix, which would never match it,
// is refused when it loads: write ip("10.0.0.0/8"). Where a policy
// calls ip() on request text (ip(context.attr.host)), a request holding
// text that ip() reads as an IPv4-mapped address (::ffff:7f00:1) is
// refused with a *RequestError: Cedar judges it as IPv6, not loopback
// and in no IPv4 range, while a tool dialing it reaches 127.0.0.1.
//
// Text in a policy (a string, an entity id, a like pattern, an attribute
// name) must be valid UTF-8 in NFC without invisible formatting
// characters, as every request string reaching Cedar is: a policy naming
// a resource in NFD (as macOS writes file names) would never match it,
// since Check normalises the resource to NFC first. Such a policy is
// refused when it loads; the rule engine normalises its own to NFC.
//
// # Annotations
//
// A policy's id, the decision's Rule, is its @id("...") annotation, else
// cedar-go's id: "policy<n>", n counting the file's policies from 0. Ids
// follow the rule engine's rules (1-128 letters, digits, '.', '_', ':' or
// '-') and must be unique. @reason("...") is the decision's reason;
// without it the reason is the rule engine's default for the effect.
//
// A permit policy annotated @effect("needs_approval") makes the request
// need approval rather than allowing it; @approvers("finance-*,ops-lead")
// on such a policy lists who may grant it (globs, comma-separated; none:
// anyone but the requesting agent). A forbid policy cannot need approval.
// Any other annotation is refused, so that a misspelt @effect cannot
// quietly make a needs-approval policy a plain permit.
//
// # Decisions
//
// Precedence is the rule engine's: a satisfied forbid beats a satisfied
// needs-approval permit, which beats a satisfied permit; with none the
// request is denied ("no rule allows this action"). Among policies of one
// kind the first in the file names the decision.
//
// A policy whose condition errs on a request (Cedar's evaluation errors:
// an attribute the request lacks, a value of another type than the
// policy compares, an overflow) is treated as the rule engine treats a
// condition it cannot evaluate. A permit that errs does not match: it
// could only allow. A forbid or needs-approval permit that errs competes
// as if it matched; when it decides, the request is denied naming it,
// with an *EvalError matching agenttrust.ErrUnevaluable. Cedar itself
// skips a policy that errs, which for a forbid would allow what it was
// written to stop. Guard optional attributes with has, as in Cedar:
// context.attr has note && context.attr.note == "x".
//
// # The rule engine and Cedar
//
// The conformance test (conformance_test.go) runs one table of requests
// through a YAML policy on the rule engine and an equivalent Cedar policy
// set here, and requires the same effect, rule and reason. The rule
// engine's name globs are Cedar's like patterns: '*' matches any run,
// '.' and '/' included. A resource glob's '*' stays within one '/'
// segment, which like cannot say alone: mailbox:alice/* is
// context.resource like "mailbox:alice/*" && !(context.resource like
// "mailbox:alice/*/*"), and mailbox:alice/** is context.resource like
// "mailbox:alice/*". Cedar's == and != are merely false on values of two
// types, which would let a forbid pass for the string "5000" where it
// compares context.attr.amount == 5000, or a list holding the forbidden
// address. So a request for a tool the policy's action scope names
// (every tool, when it names none) is refused with a *RequestError when
// its attribute, at a path the policy compares with == or != (or a
// literal set of one type tests with contains), has another type than
// the other side (a literal, decimal("1.5"), context.agent); when its
// set, whose elements contains, containsAny, containsAll or == compares
// with elements of one type ([1, 2].containsAny(context.attr.ids)),
// holds an element of another type (["1"]); and when its record,
// compared with a record literal, has a field of another type than the
// literal's ({"account": "123"} for {"account": 123}). An attribute
// compared with two types, or with an entity (context.attr.target ==
// principal), which it can never be, is refused when the policies load,
// as the rule engine refuses an attribute compared with two types. An
// optional attribute, attr.label? = secret, is context.attr has label &&
// context.attr.label like "secret".
//
// Where they differ (divergence_test.go pins each): Cedar has no floating
// point, so a fractional attribute is a decimal and comparing it with <
// errs (40.5 <= 50 is true for the rule engine; here a forbid comparing
// it denies, a permit does not match); a null attribute a policy reads
// denies the whole request here but only the rules reading it there,
// and one no policy reads is absent here; a string that is not NFC denies
// the whole request here but only the rules reading it there, and so
// does an attribute sent under a name that differs only in case from one
// a policy reads (there, only the rules reading it cannot be evaluated,
// and only on their tools), and an attribute of another type than a
// policy compares it with, on that policy's tools; Cedar
// stops a condition at its first error, where the rule engine first
// looks for a false condition, so a forbid whose first condition errs
// and second is false denies here and does not match there; a Cedar
// policy set has no default effect other than deny (write a permit for
// everything instead); the rule engine's limits and attribute
// declarations have no Cedar form.
//
// # Rate limits
//
// A Cedar policy set holds no rate limits and declares no attribute
// types. A client with WithPolicyEngine applies no policy limits (the
// runaway breaker, WithBreaker, works as with any engine). `agenttrust serve --policy file.cedar`
// decides every tenant's checks with the file and reads no stored policy,
// so stored limits do not apply either; it refuses to store one (PUT
// /v1/policy answers 409), since only the node storing it would use it.
// Agent and resource ids do not carry the tenant: in such a server,
// principal == Agent::"billing-bot" holds for an agent of that name in
// every tenant, one another tenant's admin may create. Scope a policy
// meant for one tenant with principal in Tenant::"acme".
// Rate limits are for now the rule engine's alone (WithPolicy and
// WithPolicyEngine are exclusive): where they matter, use it.
package cedar

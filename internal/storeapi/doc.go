// Package storeapi carries the store.Store contract over HTTP, so that an
// agent process can keep its state on an agenttrust server: NewHandler
// serves a store, NewClient is a store.Store over that handler. It also
// carries agenttrust.PolicyEngine.Evaluate (the evaluate route), so a
// process can leave its policy to the server. Package remote wraps both
// for users; this package is the wire format.
//
// # Routes
//
// Every route is a POST of a JSON object to <mount>/<route>, answered with
// a JSON object. A request's fields are the method's arguments, an
// answer's its results, snake_case:
//
//	revoke             {block}                      -> {}
//	suspend            {block}                      -> {}
//	resume             {tenant, id}                 -> {}
//	blocked            {tenant, ids}                -> {blocked, block?}
//	blocks             {tenant}                     -> {blocks}
//	prune_revocations  {now}                        -> {removed}
//	create_approval    {approval}                   -> {}
//	approval           {tenant, id}                 -> {approval}
//	approvals          {filter}                     -> {approvals}
//	decide_approval    {tenant, id, decision}       -> {approval}
//	withdraw_approval  {tenant, id, decision}       -> {approval}
//	consume_approval   {tenant, fingerprint, now}   -> {approval}
//	pending_approval   {tenant, fingerprint, now}   -> {approval}
//	policy             {tenant}                     -> {policy}
//	put_policy         {policy, expect_version}     -> {policy}
//	append_audit       {records}                    -> {}
//	audit_head         {chain}                      -> {record}
//	query_audit        {query}                      -> {records}
//	create_key         {key}                        -> {}
//	key_by_hash        {hash}                       -> {key}
//	key                {tenant, id}                 -> {key}
//	keys               {tenant}                     -> {keys}
//	create_hop         {hop}                        -> {}
//	hops               {filter}                     -> {hops}
//	take_rate          {take}                       -> {allowed}
//	prune_rates        {tenant, now}                -> {removed}
//	spend_budget       {tenant, path, amounts, now} -> {node, name, reason}
//	release_budget     {tenant, id}                 -> {released}
//	budgets            {tenant, node}               -> {rows}
//	evaluate           {input}                      -> {result}
//
// take_rate and prune_rates are store.ClusterLimiter; a take is
// {tenant, limit, key, interval_ns, burst, now}. A served store that does
// not implement it answers them with unavailable, so a client relying on
// it for a cluster-wide limit denies.
//
// spend_budget, release_budget and budgets are store.Budgeter: a spend's
// path is a list of {id, expires_at, budgets: [{name, limit}]}, its
// amounts [{name, amount}]; an answer without a reason spent. A served
// store that does not implement it answers unavailable, so a client
// spending through it denies.
//
// The handler matches a route on the last element of the URL path, so it
// serves the same with or without http.StripPrefix.
//
// # Wire format
//
// Strict both ways: a body must be valid UTF-8 holding exactly one JSON
// object; unknown, duplicate or differently cased keys, a missing required
// key and null where a value is due are refused (by the handler with
// code invalid; by the client as store.ErrUnavailable). Times are RFC 3339
// in UTC with nanoseconds, omitted when zero; audit hashes, key hashes
// ([32]byte) are 64 lowercase hex characters; decision ids are UUIDs;
// effects and block kinds are their names. Audit and approval attributes
// travel as raw JSON when they are compact valid JSON, and as base64 in
// attributes_base64 otherwise, so every byte comes back (the audit hash
// covers them); policy bodies are base64. A string that is not valid UTF-8
// cannot travel unchanged, and the client refuses it with
// store.ErrInvalid.
//
// # Errors
//
// An error answer is {"error": {"code", "message"}} with a status:
//
//	not_found          404  store.ErrNotFound
//	conflict           409  store.ErrConflict
//	invalid            400  store.ErrInvalid, or a malformed request
//	corrupt            500  store.ErrCorrupt (a row edited behind the store's back)
//	unevaluable        400  agenttrust.ErrUnevaluable (evaluate)
//	invalid_request    400  agenttrust.ErrInvalidRequest (evaluate)
//	closed             503  store.ErrClosed (of the server's store)
//	unavailable        503  store.ErrUnavailable
//	deadline_exceeded  504  context.DeadlineExceeded
//	canceled           499  context.Canceled (the caller went away)
//	internal           500  anything else; the message is withheld and logged
//	unknown_route      404  no such route, or evaluate without an engine
//	method_not_allowed 405, unsupported_media 415, too_large 413
//
// Every answer of the handler carries the header Agenttrust-Store-Api: 1.
// The client maps not_found, conflict, invalid (and too_large), corrupt,
// unevaluable and invalid_request back to their sentinels (so a
// verification through it reports an edited audit row as a broken chain,
// and a deny the request caused is one to the asking client's breaker, as
// in process) and
// everything else, including closed, 5xx, answers without that header and
// transport failures, to store.ErrUnavailable (deadline_exceeded wraps
// context.DeadlineExceeded as well): to the process using the client, a
// server whose store is closed is a server that is unavailable, not a
// client that was closed.
//
// # Mounting
//
// The server (package server) mounts the handler with its WithStoreAPI
// option, at /v1/store/ behind a check that the caller is an admin of the
// system tenant, since the handler reaches every tenant and does not
// authenticate:
//
//	engine, err := storeapi.NewStoredPolicies(st)
//	srv, err := server.New(st, server.WithSystemTenant("ops"),
//		server.WithStoreAPI(storeapi.NewHandler(st, storeapi.WithPolicyEngine(engine))))
//
// The handler must read its own body (the store API allows bodies up to
// MaxBodySize, far above the server's own limit). The evaluate route is
// served only with WithPolicyEngine; StoredPolicies answers it with each
// tenant's stored policy. A server that guards evaluate apart from the
// store routes mounts NewEvaluateHandler on its own path instead.
package storeapi

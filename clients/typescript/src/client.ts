// AgentTrustClient: the HTTP JSON API of `agenttrust serve` over the
// platform's fetch, failing closed. Every answer is read with a size cap
// and a deadline, checked against its schema, and believed only with the
// status the route answers on success; anything else is an error, never
// a decision.

import * as decode from "./decode.js";
import { Malformed } from "./decode.js";
import { AgentTrustError, AuthError, TransportError, redact } from "./errors.js";
import type {
  Approval,
  ApprovalStatus,
  CallOptions,
  CheckRequest,
  CreatedKey,
  Decision,
  Delegation,
  ErrorCode,
  Key,
  Principal,
  Role,
  Token,
  TokenInfo,
  WireCheckRequest,
} from "./types.js";

/** The fetch the client calls: the global one, or one the caller gives. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** The server, "https://host:port" (optionally with a path prefix). Plain http only to loopback unless allowInsecureHttp. */
  baseUrl: string;
  /** An API key (atk_...), a token (att_...) or a JWT, sent as a Bearer credential. */
  apiKey: string;
  /** Bounds each HTTP attempt, answer body included (default 10000). A long poll gets its wait on top. */
  timeoutMs?: number | undefined;
  /**
   * How many more times a call that is safe to repeat (a check, a read, a
   * revocation, a suspension) is tried after a transport failure or a
   * 502, 503 or 504 (default 0, at most 10). Calls that create or move
   * state (keys, tokens, approve, deny, resume) are never repeated.
   */
  retries?: number | undefined;
  /** The delay before the first retry and the most any retry waits (default 100 and 2000). */
  backoffMs?: { first: number; max: number } | undefined;
  /** How long each request of approvals.wait asks the server to hold (default 30000; the server caps it at 60000). */
  longPollMs?: number | undefined;
  /** The largest answer body read (default 4 MiB); a larger one is a TransportError. */
  maxResponseBytes?: number | undefined;
  /** The fetch to call (default the global fetch). */
  fetch?: FetchLike | undefined;
  /** Allows plain http:// to a host other than loopback: credentials then cross the network unencrypted. */
  allowInsecureHttp?: boolean | undefined;
  /** A random source in [0, 1) for retry jitter (default Math.random). */
  random?: (() => number) | undefined;
}

const defaultTimeoutMs = 10_000;
const defaultLongPollMs = 30_000;
const defaultMaxResponseBytes = 4 << 20;
/** A check's answer is a few hundred bytes; anything near this is not one. */
const maxDecisionBytes = 64 << 10;
/** approvals.wait asks at most once per this long when the server answers a poll early. */
const minPollMs = 1_000;

interface Call<T> {
  op: string;
  method: "GET" | "POST";
  path: string;
  query?: Record<string, string> | undefined;
  body?: unknown;
  /** The status of success; any other is an error. */
  status: number;
  /** Safe to repeat. */
  idempotent: boolean;
  /** Added to the attempt's deadline (a long poll's wait). */
  extraMs?: number | undefined;
  maxBytes?: number | undefined;
  /** Reads the answer's JSON; absent for an answer without a body (204). */
  decode?: ((v: unknown) => T) | undefined;
  signal?: AbortSignal | undefined;
  /** Credentials the body carries, kept out of error messages as the API key is. */
  secrets?: (string | undefined)[] | undefined;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new AgentTrustError("invalid_config", `${name} must be a positive number`);
  return v;
}

/**
 * A client of one agenttrust server, authenticating every call with one
 * credential. Safe to share: it holds no state between calls.
 *
 *     const client = new AgentTrustClient({ baseUrl, apiKey });
 *     const d = await client.actions.check({ agentId: "agent-123", toolName: "email.send", sessionId: "session-abc" });
 *     if (!d.allowed) throw new Error(d.reason);
 *
 * JSON is camelCase on this side and the API's snake_case on the wire.
 */
export class AgentTrustClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  /** The agent the client's own token or JWT names, "" for an API key. */
  readonly #ownAgent: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoff: { first: number; max: number };
  readonly #longPollMs: number;
  readonly #maxBytes: number;
  readonly #fetch: FetchLike;
  readonly #random: () => number;

  /** Decisions on an agent's actions. */
  readonly actions: {
    /**
     * Asks whether the action may proceed (POST /v1/actions/check) and
     * returns the server's decision: allow, deny or needs_approval, each
     * recorded in the audit trail. A deny is a result, not an error. It
     * rejects (and so never returns an allow) when no well-formed,
     * consistent decision arrived: TransportError when the server cannot
     * be reached, times out, fails, redirects or answers garbage,
     * AuthError when the credential is refused, AgentTrustError for a
     * request the server or the client refuses.
     */
    check(req: CheckRequest, opts?: CallOptions): Promise<Decision>;
  };

  /** Actions held for a human's approval. */
  readonly approvals: {
    /** The approval (GET /v1/approvals/{id}); an answer about another one is a TransportError "malformed_response". */
    get(id: string, opts?: CallOptions): Promise<Approval>;
    /**
     * Long-polls GET /v1/approvals/{id}?wait= until the approval is
     * decided (approved, denied or consumed) and resolves with it. It
     * rejects with code "approval_timeout" when timeoutMs passes or the
     * approval lapses undecided, and on any failure of the calls.
     */
    wait(id: string, opts?: CallOptions & { timeoutMs?: number | undefined }): Promise<Approval>;
    list(filter?: { status?: ApprovalStatus | undefined; agentId?: string | undefined; limit?: number | undefined }, opts?: CallOptions): Promise<Approval[]>;
    /**
     * Grants a pending approval (admin or approver, never the agent that
     * asked) and resolves with it, approved; an answer about another
     * approval or in another status is a TransportError "malformed_response".
     */
    approve(id: string, opts?: CallOptions & { note?: string | undefined }): Promise<Approval>;
    /** Refuses a pending approval and resolves with it, denied; checked as approve's answer is. */
    deny(id: string, opts?: CallOptions & { note?: string | undefined }): Promise<Approval>;
  };

  /** Short-lived tokens for the client's API key, and narrowed delegations of them. */
  readonly tokens: {
    /** Exchanges the client's API key for a token (POST /v1/tokens), optionally narrowed by caveats. */
    exchange(req?: { format?: "macaroon" | "jwt" | undefined; audience?: string | undefined; caveats?: string[] | undefined }, opts?: CallOptions): Promise<Token>;
    /**
     * Narrows a token on the server with a recorded, revocable hop (POST
     * /v1/tokens/delegate): the client's own bearer token when token is
     * absent. This is how a token is attenuated through the server.
     */
    delegate(req?: { token?: string | undefined; ttlSeconds?: number | undefined; caveats?: string[] | undefined }, opts?: CallOptions): Promise<Delegation>;
    /** What a token says about itself (unverified, for display). */
    inspect(token: string, opts?: CallOptions): Promise<TokenInfo>;
  };

  /** Agents and sessions: the kill switch. */
  readonly agents: {
    /** Suspends an agent or session (admin): its checks deny until resume. */
    suspend(id: string, opts?: CallOptions & { reason?: string | undefined }): Promise<void>;
    /** Lifts a suspension (admin); AgentTrustError "not_found" when there is none. */
    resume(id: string, opts?: CallOptions): Promise<void>;
  };

  /** API keys (admin). */
  readonly keys: {
    create(req: { agentId: string; name?: string | undefined; roles?: Role[] | undefined; expiresAt?: string | undefined; allowedIps?: string[] | undefined; caveats?: string[] | undefined }, opts?: CallOptions): Promise<CreatedKey>;
    list(opts?: CallOptions): Promise<Key[]>;
    revoke(id: string, opts?: CallOptions): Promise<void>;
  };

  constructor(options: ClientOptions) {
    let u: URL;
    try {
      u = new URL(options.baseUrl);
    } catch {
      throw new AgentTrustError("invalid_config", "baseUrl is not a URL");
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new AgentTrustError("invalid_config", "baseUrl must be http or https");
    if (u.protocol === "http:" && !isLoopback(u.hostname) && !options.allowInsecureHttp) {
      throw new AgentTrustError("invalid_config", "plain http is allowed only to loopback; use https, or allowInsecureHttp");
    }
    if (u.search || u.hash || u.username || u.password) throw new AgentTrustError("invalid_config", "baseUrl must not carry a query, fragment or user info");
    this.baseUrl = u.origin + u.pathname.replace(/\/+$/, "");
    if (typeof options.apiKey !== "string" || !/^[\x21-\x7e]{1,8192}$/.test(options.apiKey)) {
      throw new AgentTrustError("invalid_config", "apiKey must be 1-8192 visible ASCII characters");
    }
    this.#apiKey = options.apiKey;
    this.#ownAgent = decode.credentialAgent(options.apiKey);
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs, defaultTimeoutMs);
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new AgentTrustError("invalid_config", "retries must be 0-10");
    this.#retries = retries;
    const b = options.backoffMs ?? { first: 100, max: 2000 };
    if (!(b.first > 0 && b.max >= b.first)) throw new AgentTrustError("invalid_config", "backoffMs needs 0 < first <= max");
    this.#backoff = b;
    this.#longPollMs = positive("longPollMs", options.longPollMs, defaultLongPollMs);
    this.#maxBytes = positive("maxResponseBytes", options.maxResponseBytes, defaultMaxResponseBytes);
    // Called through globalThis so a browser's fetch keeps its receiver.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#random = options.random ?? Math.random;

    this.actions = { check: (req, opts) => this.#check(req, opts) };
    this.approvals = {
      get: (id, opts) =>
        this.#call({ op: "approvals.get", method: "GET", path: `/v1/approvals/${seg(id)}`, status: 200, idempotent: true, decode: (v) => decode.approval(v, id), signal: opts?.signal }),
      wait: (id, opts) => this.#wait(id, opts),
      list: (filter, opts) => {
        const query: Record<string, string> = {};
        if (filter?.status !== undefined) query["status"] = filter.status;
        if (filter?.agentId !== undefined) query["agent_id"] = filter.agentId;
        if (filter?.limit !== undefined) query["limit"] = String(filter.limit);
        return this.#call({ op: "approvals.list", method: "GET", path: "/v1/approvals", query, status: 200, idempotent: true, decode: decode.approvals, signal: opts?.signal });
      },
      approve: (id, opts) => this.#decide("approve", id, opts),
      deny: (id, opts) => this.#decide("deny", id, opts),
    };
    this.tokens = {
      exchange: (req, opts) =>
        this.#call({ op: "tokens.exchange", method: "POST", path: "/v1/tokens", status: 201, idempotent: false, decode: decode.token, signal: opts?.signal,
          body: compact({ format: req?.format, audience: req?.audience, caveats: req?.caveats }) }),
      delegate: (req, opts) =>
        this.#call({ op: "tokens.delegate", method: "POST", path: "/v1/tokens/delegate", status: 201, idempotent: false, decode: decode.delegation, signal: opts?.signal, secrets: [req?.token],
          body: compact({ token: req?.token, ttl_seconds: req?.ttlSeconds, caveats: req?.caveats }) }),
      inspect: (token, opts) =>
        this.#call({ op: "tokens.inspect", method: "POST", path: "/v1/tokens/inspect", status: 200, idempotent: true, decode: decode.tokenInfo, signal: opts?.signal, body: { token }, secrets: [token] }),
    };
    this.agents = {
      suspend: (id, opts) =>
        this.#call({ op: "agents.suspend", method: "POST", path: `/v1/agents/${seg(id)}/suspend`, status: 204, idempotent: true, signal: opts?.signal, body: compact({ reason: opts?.reason }) }),
      resume: (id, opts) => this.#call({ op: "agents.resume", method: "POST", path: `/v1/agents/${seg(id)}/resume`, status: 204, idempotent: false, signal: opts?.signal }),
    };
    this.keys = {
      create: (req, opts) =>
        this.#call({ op: "keys.create", method: "POST", path: "/v1/keys", status: 201, idempotent: false, decode: decode.createdKey, signal: opts?.signal,
          body: compact({ agent_id: req.agentId, name: req.name, roles: req.roles, expires_at: req.expiresAt, allowed_ips: req.allowedIps, caveats: req.caveats }) }),
      list: (opts) => this.#call({ op: "keys.list", method: "GET", path: "/v1/keys", status: 200, idempotent: true, decode: decode.keys, signal: opts?.signal }),
      revoke: (id, opts) => this.#call({ op: "keys.revoke", method: "POST", path: `/v1/keys/${seg(id)}/revoke`, status: 204, idempotent: true, signal: opts?.signal }),
    };
  }

  /**
   * Revokes any id of the tenant for good (admin): an agent, session,
   * key, token or delegation hop (POST /v1/revocations). Checks of it
   * deny from the moment this resolves.
   */
  revoke(id: string, opts?: CallOptions): Promise<void> {
    return this.#call({ op: "revoke", method: "POST", path: "/v1/revocations", status: 204, idempotent: true, signal: opts?.signal, body: { id } });
  }

  /** The principal the client's credential proves (GET /v1/whoami). */
  whoami(opts?: CallOptions): Promise<Principal> {
    return this.#call({ op: "whoami", method: "GET", path: "/v1/whoami", status: 200, idempotent: true, decode: decode.principal, signal: opts?.signal });
  }

  async #check(req: CheckRequest, opts?: CallOptions): Promise<Decision> {
    if (typeof req !== "object" || req === null || typeof req.toolName !== "string" || req.toolName === "") {
      throw new AgentTrustError("invalid_request", "check: toolName is required");
    }
    for (const k of ["agentId", "resource", "sessionId", "onBehalfOf", "credential"] as const) {
      if (req[k] !== undefined && typeof req[k] !== "string") throw new AgentTrustError("invalid_request", `check: ${k} must be a string`);
    }
    if (req.attributes !== undefined) {
      const problem = typeof req.attributes === "object" && req.attributes !== null && !Array.isArray(req.attributes)
        ? decode.jsonProblem(req.attributes, "attributes")
        : "attributes is not an object";
      if (problem) throw new AgentTrustError("invalid_request", `check: ${problem}`);
    }
    const body: WireCheckRequest = {
      tool_name: req.toolName,
      ...compact({
      agent_id: req.agentId || undefined,
      resource: req.resource,
      session_id: req.sessionId,
      on_behalf_of: req.onBehalfOf,
      attributes: req.attributes,
      credential: req.credential,
    }),
    };
    return this.#call({
      op: "check", method: "POST", path: "/v1/actions/check", body, status: 200, idempotent: true,
      maxBytes: maxDecisionBytes, signal: opts?.signal, secrets: [req.credential],
      decode: (v) => {
        // The agent asked about: agentId, else the one the token or JWT
        // checked names (the presented one, else the client's own).
        const asked = req.agentId || (req.credential ? decode.credentialAgent(req.credential) : this.#ownAgent);
        const d = decode.decision(v, asked || undefined);
        // The reason and error are shown (DeniedError, logs, the model):
        // whatever answered may have echoed the request into them.
        d.reason = redact(d.reason, this.#apiKey, req.credential);
        if (d.error !== undefined) d.error = redact(d.error, this.#apiKey, req.credential) as ErrorCode;
        // ApprovalRequiredError quotes the approval id as it is: one
        // holding a credential is no approval id.
        if (redact(d.approvalId, this.#apiKey, req.credential) !== d.approvalId) throw new Malformed("the approval id holds a credential");
        return d;
      },
    });
  }

  #decide(verb: "approve" | "deny", id: string, opts?: CallOptions & { note?: string | undefined }): Promise<Approval> {
    return this.#call({
      op: `approvals.${verb}`, method: "POST", path: `/v1/approvals/${seg(id)}/${verb}`, status: 200, idempotent: false,
      decode: (v) => decode.approval(v, id, verb === "approve" ? "approved" : "denied"), signal: opts?.signal, body: compact({ note: opts?.note }),
    });
  }

  async #wait(id: string, opts?: CallOptions & { timeoutMs?: number | undefined }): Promise<Approval> {
    const signal = opts?.signal;
    const deadline = opts?.timeoutMs === undefined ? Infinity : Date.now() + positive("timeoutMs", opts.timeoutMs, 1);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new AgentTrustError("approval_timeout", `approval ${id} still pending after the wait`);
      const waitMs = Math.max(1, Math.min(this.#longPollMs, left));
      const start = Date.now();
      const a = await this.#call({
        op: "approvals.wait", method: "GET", path: `/v1/approvals/${seg(id)}`, query: { wait: `${Math.ceil(waitMs)}ms` },
        status: 200, idempotent: true, extraMs: waitMs, decode: (v) => decode.approval(v, id), signal,
      });
      if (a.status !== "pending") return a;
      if (Date.parse(a.expiresAt) <= Date.now()) throw new AgentTrustError("approval_timeout", `approval ${id} lapsed undecided`);
      // A server that answers a poll early must not turn the wait into a busy loop.
      const pause = Math.min(minPollMs, waitMs) - (Date.now() - start);
      if (pause > 0) await sleep(Math.min(pause, Math.max(0, deadline - Date.now())), signal, "approvals.wait");
    }
  }

  async #call<T>(c: Call<T>): Promise<T>;
  async #call(c: Call<undefined>): Promise<void>;
  async #call<T>(c: Call<T>): Promise<T | undefined> {
    const attempts = c.idempotent ? this.#retries + 1 : 1;
    let delay = this.#backoff.first;
    for (let i = 1; ; i++) {
      try {
        return await this.#attempt(c);
      } catch (e) {
        if (i >= attempts || !retryable(e)) throw e;
      }
      await sleep(Math.min(delay, this.#backoff.max) * (0.5 + this.#random() / 2), c.signal, c.op);
      delay *= 2;
    }
  }

  async #attempt<T>(c: Call<T>): Promise<T | undefined> {
    const signal = c.signal;
    if (signal?.aborted) throw aborted(c.op, signal);
    let url = this.baseUrl + c.path;
    if (c.query && Object.keys(c.query).length > 0) url += "?" + new URLSearchParams(c.query).toString();
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#apiKey}`, Accept: "application/json" };
    let body: string | undefined;
    if (c.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(c.body);
    }

    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.#timeoutMs + (c.extraMs ?? 0));
    const onAbort = () => ctl.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    // Whatever answered may have echoed the request: text taken from an
    // answer never carries the credentials the request did.
    const red = (text: string) => redact(text, this.#apiKey, ...(c.secrets ?? []));
    const failure = (e: unknown, what: string): AgentTrustError => {
      if (signal?.aborted) return aborted(c.op, signal);
      if (timedOut) return new TransportError("timeout", `${c.op}: no answer within ${this.#timeoutMs + (c.extraMs ?? 0)} ms`, { cause: e });
      return new TransportError("unreachable", red(`${c.op}: ${what}: ${e instanceof Error ? e.message : String(e)}`), { cause: e });
    };
    try {
      let res: Response;
      try {
        const init: RequestInit = { method: c.method, headers, redirect: "manual", signal: ctl.signal, cache: "no-store", credentials: "omit" };
        if (body !== undefined) init.body = body;
        res = await this.#fetch(url, init);
      } catch (e) {
        throw failure(e, "the server cannot be reached");
      }
      const requestId = answerRequestId(res.headers.get("x-request-id"), red);
      // The API never redirects: a redirect is someone else answering,
      // and following it would hand them the credential.
      if (res.type === "opaqueredirect" || res.redirected || (res.status >= 300 && res.status < 400)) {
        discard(res);
        throw new TransportError("redirect", `${c.op}: the server redirected (status ${res.status})`, { status: res.status, requestId });
      }
      let text: string;
      try {
        text = await readCapped(res, c.maxBytes ?? this.#maxBytes);
      } catch (e) {
        if (e instanceof AgentTrustError) throw e;
        if (e instanceof TooLarge) {
          throw new TransportError("malformed_response", `${c.op}: the answer is larger than ${c.maxBytes ?? this.#maxBytes} bytes`, { status: res.status, requestId });
        }
        throw failure(e, "the answer was cut");
      }
      const json = res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() === "application/json";
      let parsed: unknown;
      let parses = false;
      if (json && text !== "") {
        try {
          parsed = decode.parse(text);
          parses = true;
        } catch {
          // Judged below.
        }
      }
      if (res.status !== c.status) throw statusError(c.op, res.status, parses ? decode.errorBody(parsed) : undefined, requestId, red);
      if (!c.decode) return undefined;
      if (!json) throw new TransportError("malformed_response", `${c.op}: the answer is not application/json`, { status: res.status, requestId });
      if (!parses) throw new TransportError("malformed_response", `${c.op}: the answer is not valid JSON`, { status: res.status, requestId });
      try {
        return c.decode(parsed);
      } catch (e) {
        if (e instanceof Malformed) {
          throw new TransportError("malformed_response", red(`${c.op}: malformed answer: ${e.message}`), { status: res.status, requestId });
        }
        throw e;
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * An answer's X-Request-Id when it looks like one (1-128 of the
 * characters the server uses) and red leaves it as it is: it is printed
 * with the error, and whatever answered chose it.
 */
function answerRequestId(v: string | null, red: (text: string) => string): string | undefined {
  return v !== null && /^[A-Za-z0-9._:/+=@-]{1,128}$/.test(v) && red(v) === v ? v : undefined;
}

/** One path segment, escaped. */
function seg(id: string): string {
  if (typeof id !== "string" || id === "") throw new AgentTrustError("invalid_request", "an id is required");
  return encodeURIComponent(id);
}

/** o without its undefined members, so they are not sent. */
function compact<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function aborted(op: string, signal: AbortSignal): TransportError {
  return new TransportError("aborted", `${op}: aborted`, { cause: signal.reason });
}

function retryable(e: unknown): boolean {
  if (!(e instanceof TransportError)) return false;
  if (e.code === "aborted" || e.code === "redirect" || e.code === "malformed_response") return false;
  return e.status === 0 || e.status === 502 || e.status === 503 || e.status === 504;
}

function statusError(
  op: string, status: number, body: { code: string; message: string } | undefined, requestId: string | undefined, red: (text: string) => string,
): AgentTrustError {
  const detail = { status, requestId };
  const msg = red(`${op}: ${body ? body.message : `status ${status}`}`);
  // The code is the answer's text as much as the message is.
  if (body) body = { code: red(body.code), message: body.message };
  if (status === 401 || status === 403) return new AuthError(body?.code ?? (status === 401 ? "unauthenticated" : "forbidden"), msg, detail);
  if (status >= 500 || status < 200) return new TransportError(body?.code ?? "unreachable", msg, detail);
  if (status >= 200 && status < 300) return new TransportError("malformed_response", `${op}: unexpected status ${status}`, detail);
  return new AgentTrustError(body?.code ?? "unexpected_status", msg, detail);
}

class TooLarge extends Error {}

/** The body as UTF-8 text, refusing more than max bytes and invalid UTF-8. */
async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (declared > max) {
    discard(res);
    throw new TooLarge();
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      void reader.cancel().catch(() => {});
      throw new TooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new TransportError("malformed_response", "the answer is not UTF-8", { status: res.status });
  }
}

function discard(res: Response): void {
  void res.body?.cancel().catch(() => {});
}

function sleep(ms: number, signal: AbortSignal | undefined, op: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(op, signal));
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(aborted(op, signal as AbortSignal));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// Decoding of the server's answers: each answer is parsed without
// losing a number (parse) and checked field by field against its schema
// before the client believes any of it, so a broken server, proxy or
// cache cannot slip a wrong type (a "true" string, a missing field) or
// an inconsistent decision past the caller. Unknown members are ignored,
// so a newer server's additions do not break an older client; every
// member the client reads must be present with its type.

import type { Approval, ApprovalStatus, AttributeValue, CreatedKey, Decision, Delegation, Effect, ErrorCode, Hop, Key, Principal, Role, Token, TokenInfo } from "./types.js";

/** An answer that does not match its schema; the client reports it as a TransportError. */
export class Malformed extends Error {}

/**
 * A number of an answer that neither a JS number nor a bigint holds
 * exactly: a decimal such as 0.10000000000000001, or an integer of more
 * than maxIntegerDigits digits. Only attributes accept it, as its text.
 */
class Exact {
  constructor(readonly text: string) {}
}

const maxIntegerDigits = 1000;
const maxDepth = 1000;
const numberToken = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const decimalText = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** A decimal's value as a sign, digits without leading or trailing zeros, and a power of ten; undefined for "Infinity". */
function decimal(t: string): { neg: boolean; digits: string; exp: number } | undefined {
  const m = decimalText.exec(t);
  if (!m) return undefined;
  const frac = m[3] ?? "";
  const all = (m[2]! + frac).replace(/^0+/, "");
  if (all === "") return { neg: false, digits: "0", exp: 0 };
  // Trailing zeros counted by hand: /0+$/ tries every zero of a run and
  // scans the rest of it, quadratic time in an answer's long number, on
  // the event loop, where no timeout reaches.
  let end = all.length;
  while (all.charCodeAt(end - 1) === 0x30) end--;
  const digits = all.slice(0, end);
  return { neg: m[1] === "-", digits, exp: Number(m[4] ?? "0") - frac.length + (all.length - digits.length) };
}

/**
 * The number a JSON number's text denotes: a JS number when one holds
 * that value exactly (1.0, 1e2 and 0.1 do: their shortest form is the
 * same decimal), else a bigint for an integer, else Exact.
 */
function number(text: string): number | bigint | Exact {
  const n = Number(text);
  const want = decimal(text)!;
  const got = decimal(String(n));
  if (got && got.neg === want.neg && got.digits === want.digits && got.exp === want.exp) return n;
  if (want.exp >= 0 && want.digits.length + want.exp <= maxIntegerDigits) {
    return BigInt((want.neg ? "-" : "") + want.digits + "0".repeat(want.exp));
  }
  return new Exact(text);
}

/** o[k] = v as JSON.parse sets it: an own data property, "__proto__" included. */
function put(o: object, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/**
 * parse is JSON.parse (the same grammar, members in the same order,
 * "__proto__" an own member) except for numbers and duplicates: a number
 * a JS number cannot hold exactly becomes a bigint, or an Exact, instead
 * of a rounded number (only attributes accept those; any other member
 * that must be a number refuses them), and an object that repeats a
 * member name is refused, where JSON.parse keeps the last value. A
 * SyntaxError for anything that is not one JSON text, or repeats a member.
 */
export function parse(text: string): unknown {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`not JSON at offset ${i}`);
  };
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++i));
  };
  const string = (): string => {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail();
      i += c === 0x5c ? 2 : 1;
    }
    // The platform reads the escapes.
    return JSON.parse(text.slice(start, ++i)) as string;
  };
  const value = (depth: number): unknown => {
    if (depth > maxDepth) fail();
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const list = c === "[";
      const close = list ? "]" : "}";
      const out: unknown[] | Obj = list ? [] : {};
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return out;
      }
      for (;;) {
        if (list) {
          (out as unknown[]).push(value(depth + 1));
        } else {
          ws();
          if (text[i] !== '"') fail();
          const k = string();
          // The server never repeats a member. A body that does says two
          // things at once ({"allowed":false,...,"allowed":true}), and
          // which one a reader keeps differs between parsers: neither is
          // believed.
          if (Object.prototype.hasOwnProperty.call(out, k)) throw new SyntaxError(`duplicate member ${JSON.stringify(k)} at offset ${i}`);
          ws();
          if (text[i++] !== ":") fail();
          put(out, k, value(depth + 1));
        }
        ws();
        const sep = text[i++];
        if (sep === close) return out;
        if (sep !== ",") fail();
      }
    }
    if (c === '"') return string();
    for (const [lit, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return v;
      }
    }
    numberToken.lastIndex = i;
    const m = numberToken.exec(text);
    if (!m) return fail();
    i += m[0].length;
    return number(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail();
  return v;
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Exact) throw new Malformed(`${what} is not an object`);
  return v as Obj;
}

function str(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new Malformed(`${k} is not a string`);
  return v;
}

function optStr(o: Obj, k: string): string | undefined {
  return o[k] === undefined ? undefined : str(o, k);
}

function bool(o: Obj, k: string): boolean {
  const v = o[k];
  if (typeof v !== "boolean") throw new Malformed(`${k} is not a boolean`);
  return v;
}

function int(o: Obj, k: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new Malformed(`${k} is not an integer`);
  return v;
}

function strs(o: Obj, k: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new Malformed(`${k} is not a list of strings`);
  return v as string[];
}

function oneOf<T extends string>(o: Obj, k: string, allowed: readonly T[]): T {
  const v = str(o, k);
  if (!(allowed as readonly string[]).includes(v)) throw new Malformed(`${k} ${JSON.stringify(v)} is not one of ${allowed.join(", ")}`);
  return v as T;
}

const effects = ["allow", "deny", "needs_approval"] as const satisfies readonly Effect[];
const statuses = ["pending", "approved", "denied", "consumed"] as const satisfies readonly ApprovalStatus[];
const roles = ["admin", "agent", "approver"] as const satisfies readonly Role[];
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * decision checks a check's answer: every member present with its type,
 * and consistent: allowed exactly when the effect is allow, never
 * allowed with an error, an approval id with needs_approval, a decision
 * id that is a UUID. When the caller named an agent, an allow must be
 * about that agent.
 */
export function decision(v: unknown, askedAgent: string | undefined): Decision {
  const o = obj(v, "the decision");
  const allowed = bool(o, "allowed");
  const effect = oneOf(o, "effect", effects);
  const d: Decision = {
    allowed,
    effect,
    reason: str(o, "reason"),
    ruleId: str(o, "rule_id"),
    decisionId: str(o, "decision_id"),
    approvalId: str(o, "approval_id"),
    agentId: str(o, "agent_id"),
    stalenessNs: int(o, "staleness_ns"),
  };
  if (o["error"] !== undefined) d.error = str(o, "error") as ErrorCode;
  if (allowed !== (effect === "allow")) throw new Malformed(`allowed is ${allowed} with effect ${effect}`);
  if (allowed && d.error !== undefined) throw new Malformed(`allowed with error ${JSON.stringify(d.error)}`);
  if (!uuid.test(d.decisionId)) throw new Malformed("decision_id is not a UUID");
  if (d.stalenessNs < 0) throw new Malformed("negative staleness_ns");
  if (effect === "needs_approval" && !d.approvalId.startsWith("apr_")) throw new Malformed("needs_approval without an approval_id");
  if (allowed && askedAgent && d.agentId !== askedAgent) {
    throw new Malformed(`an allow for agent ${JSON.stringify(d.agentId)}, not the one asked about`);
  }
  return d;
}

/** An attribute value as the caller gets it: an Exact as its text. */
function exact(v: unknown): AttributeValue {
  if (v instanceof Exact) return v.text;
  if (Array.isArray(v)) return v.map(exact);
  if (typeof v === "object" && v !== null) {
    const out = {};
    for (const [k, x] of Object.entries(v)) put(out, k, exact(x));
    return out;
  }
  return v as AttributeValue;
}

function attributes(o: Obj, k: string): Record<string, AttributeValue> {
  return exact(obj(o[k], k)) as Record<string, AttributeValue>;
}

/**
 * approval checks an approval: every member present with its type; when
 * the caller named one, about that approval (id); after approve or deny,
 * in the status the verb makes.
 */
export function approval(v: unknown, id?: string, status?: ApprovalStatus): Approval {
  const o = obj(v, "the approval");
  const a: Approval = {
    id: str(o, "id"),
    agentId: str(o, "agent_id"),
    sessionId: str(o, "session_id"),
    onBehalfOf: str(o, "on_behalf_of"),
    toolName: str(o, "tool_name"),
    resource: str(o, "resource"),
    attributes: attributes(o, "attributes"),
    ruleId: str(o, "rule_id"),
    reason: str(o, "reason"),
    approvers: strs(o, "approvers"),
    status: oneOf(o, "status", statuses),
    createdAt: str(o, "created_at"),
    expiresAt: str(o, "expires_at"),
    decidedBy: str(o, "decided_by"),
    note: str(o, "note"),
  };
  const decidedAt = optStr(o, "decided_at");
  if (decidedAt !== undefined) a.decidedAt = decidedAt;
  const grant = optStr(o, "grant_expires_at");
  if (grant !== undefined) a.grantExpiresAt = grant;
  const consumed = optStr(o, "consumed_at");
  if (consumed !== undefined) a.consumedAt = consumed;
  if (Number.isNaN(Date.parse(a.expiresAt))) throw new Malformed("expires_at is not a time");
  if (id !== undefined && a.id !== id) throw new Malformed(`the answer is about approval ${JSON.stringify(a.id)}, not ${JSON.stringify(id)}`);
  if (status !== undefined && a.status !== status) throw new Malformed(`approval ${JSON.stringify(a.id)} is ${a.status}, not ${status}`);
  return a;
}

export function approvals(v: unknown): Approval[] {
  const list = obj(v, "the answer")["approvals"];
  if (!Array.isArray(list)) throw new Malformed("approvals is not a list");
  return list.map((a) => approval(a));
}

export function token(v: unknown): Token {
  const o = obj(v, "the token");
  return {
    token: str(o, "token"),
    format: oneOf(o, "format", ["macaroon", "jwt"] as const),
    tokenId: str(o, "token_id"),
    expiresAt: str(o, "expires_at"),
  };
}

function hop(v: unknown): Hop {
  const o = obj(v, "the hop");
  return {
    id: str(o, "id"),
    parent: str(o, "parent"),
    tokenId: str(o, "token_id"),
    keyId: str(o, "key_id"),
    agentId: str(o, "agent_id"),
    caveats: strs(o, "caveats"),
    createdAt: str(o, "created_at"),
    expiresAt: str(o, "expires_at"),
  };
}

export function delegation(v: unknown): Delegation {
  const o = obj(v, "the delegation");
  return { token: str(o, "token"), hop: hop(o["hop"]) };
}

export function tokenInfo(v: unknown): TokenInfo {
  const o = obj(v, "the token info");
  return {
    id: str(o, "id"),
    keyId: str(o, "key_id"),
    tenant: str(o, "tenant"),
    agentId: str(o, "agent_id"),
    expiresAt: str(o, "expires_at"),
    hopIds: strs(o, "hop_ids"),
    caveats: strs(o, "caveats"),
  };
}

function key(v: unknown): Key {
  const o = obj(v, "the key");
  const k: Key = {
    id: str(o, "id"),
    tenant: str(o, "tenant"),
    agentId: str(o, "agent_id"),
    name: str(o, "name"),
    roles: strs(o, "roles"),
    allowedIps: strs(o, "allowed_ips"),
    caveats: strs(o, "caveats"),
    createdAt: str(o, "created_at"),
    revoked: bool(o, "revoked"),
  };
  const exp = optStr(o, "expires_at");
  if (exp !== undefined) k.expiresAt = exp;
  return k;
}

export function createdKey(v: unknown): CreatedKey {
  const o = obj(v, "the key");
  return { secret: str(o, "secret"), key: key(o["key"]) };
}

export function keys(v: unknown): Key[] {
  const list = obj(v, "the answer")["keys"];
  if (!Array.isArray(list)) throw new Malformed("keys is not a list");
  return list.map(key);
}

export function principal(v: unknown): Principal {
  const o = obj(v, "the principal");
  const rs = strs(o, "roles");
  for (const r of rs) {
    if (!(roles as readonly string[]).includes(r)) throw new Malformed(`role ${JSON.stringify(r)} is unknown`);
  }
  return {
    tenant: str(o, "tenant"),
    agentId: str(o, "agent_id"),
    keyId: str(o, "key_id"),
    credentialId: str(o, "credential_id"),
    hopIds: strs(o, "hop_ids"),
    roles: rs as Role[],
    caveats: strs(o, "caveats"),
  };
}

/** The error body of a non-2xx answer, when it is one. */
export function errorBody(v: unknown): { code: string; message: string } | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const e = (v as Obj)["error"];
  if (typeof e !== "object" || e === null) return undefined;
  const { code, message } = e as Obj;
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  return { code, message };
}

/**
 * jsonAttributes refuses what JSON cannot carry faithfully: NaN and the
 * infinities (JSON.stringify would send null, which a policy condition
 * may read differently), undefined, functions, symbols, bigints, and
 * objects other than plain ones and arrays (a Date or Map would be sent
 * as something else than the caller holds). It returns the problem, or
 * undefined.
 */
export function jsonProblem(v: unknown, path: string, depth = 0): string | undefined {
  if (depth > 32) return `${path} is nested too deep`;
  switch (typeof v) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(v) ? undefined : `${path} is ${v}, which JSON cannot carry`;
    case "object": {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = jsonProblem(v[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return `${path} is not a plain object`;
      for (const [k, x] of Object.entries(v)) {
        const p = jsonProblem(x, `${path}.${k}`, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return `${path} is ${typeof v}, which JSON cannot carry`;
  }
}

const agentName = /^[A-Za-z0-9._:/@+-]{1,256}$/;

function b64urlBytes(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Malformed("not base64url");
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The first-party caveats of a version 2 binary macaroon, unverified. */
function macaroonCaveats(raw: Uint8Array): string[] {
  if (raw[0] !== 2) throw new Malformed("not a version 2 macaroon");
  let p = 1;
  const uvarint = (): number => {
    let x = 0;
    for (let i = 0, shift = 0; i < 3; i++, shift += 7) {
      if (p >= raw.length) throw new Malformed("truncated");
      const c = raw[p++]!;
      x |= (c & 0x7f) << shift;
      if (c < 0x80) return x;
    }
    throw new Malformed("varint too long");
  };
  // The identifiers (field 2) of one section, up to its end (field 0).
  const section = (): Uint8Array[] => {
    const ids: Uint8Array[] = [];
    for (;;) {
      const ft = uvarint();
      if (ft === 0) return ids;
      const n = uvarint();
      if (p + n > raw.length) throw new Malformed("truncated");
      if (ft === 2) ids.push(raw.subarray(p, p + n));
      p += n;
    }
  };
  section(); // the header: location and identifier
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const caveats: string[] = [];
  for (let ids = section(); ids.length > 0; ids = section()) caveats.push(utf8.decode(ids[0]));
  return caveats;
}

/**
 * The agent a token (att_...) or JWT names, read unverified: the server
 * verifies it, and decides about that agent. "" for an API key, which
 * names none the client can read, or a credential that does not parse.
 */
export function credentialAgent(cred: string | undefined): string {
  if (!cred) return "";
  try {
    if (cred.startsWith("att_")) {
      for (const text of macaroonCaveats(b64urlBytes(cred.slice(4)))) {
        const t = text.trim();
        const sp = t.indexOf(" ");
        if (sp < 0 || t.slice(0, sp) !== "agent") continue;
        const rest = t.slice(sp + 1).replace(/^ +/, "");
        const sp2 = rest.indexOf(" ");
        if (sp2 < 0 || rest.slice(0, sp2) !== "=") continue;
        let value: unknown = rest.slice(sp2 + 1).trim();
        if (value === "") continue;
        if ((value as string).startsWith('"')) value = JSON.parse(value as string);
        // The first "agent =" caveat names the token's agent.
        return typeof value === "string" && agentName.test(value) ? value : "";
      }
      return "";
    }
    const parts = cred.split(".");
    if (parts.length === 3) {
      const claims: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64urlBytes(parts[1]!)));
      const sub = typeof claims === "object" && claims !== null ? (claims as { sub?: unknown }).sub : undefined;
      return typeof sub === "string" ? sub : "";
    }
  } catch {
    return "";
  }
  return "";
}

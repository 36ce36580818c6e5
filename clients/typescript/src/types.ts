// The client's types: camelCase views of the API's snake_case JSON
// (api/openapi.yaml, generated into gen/api.ts). The wire types are
// re-exported as Wire* for callers who want them.

import type { components } from "./gen/api.js";

type Schemas = components["schemas"];

export type WireCheckRequest = Schemas["CheckRequest"];
export type WireCheckResponse = Schemas["CheckResponse"];
export type WireApproval = Schemas["Approval"];
export type WireTokenResponse = Schemas["TokenResponse"];
export type WireDelegateResponse = Schemas["DelegateResponse"];
export type WireHop = Schemas["Hop"];
export type WireTokenInfo = Schemas["TokenInfo"];
export type WireKey = Schemas["Key"];
export type WirePrincipal = Schemas["Principal"];

/** The API's error codes. */
export type ErrorCode = Schemas["ErrorCode"];
export type Effect = WireCheckResponse["effect"];
export type ApprovalStatus = WireApproval["status"];
export type Role = NonNullable<Schemas["CreateKeyRequest"]["roles"]>[number];

/** A value JSON carries exactly: no NaN, no infinity, no undefined, no class instances. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * An attribute value as an answer carries it (an approval's attributes):
 * JSON, each number exactly as the server sent it. A number a JS number
 * holds exactly is a number (1.0 and 1e2 are 1 and 100); an integer past
 * that (beyond Number.MAX_SAFE_INTEGER, such as 9007199254740993) is a
 * bigint; a decimal whose value no JS number holds (0.10000000000000001)
 * and an integer of more than 1000 digits are their exact text, a string.
 */
export type AttributeValue = null | boolean | number | bigint | string | AttributeValue[] | { [key: string]: AttributeValue };

/** Who acts: the identity part of a check, also guard()'s explicit context. */
export interface Identity {
  /** The agent; required when an admin key checks without a credential, else the caller's own or empty. */
  agentId?: string | undefined;
  sessionId?: string | undefined;
  onBehalfOf?: string | undefined;
  /** The credential to check (API key, token or JWT), when not the caller's own. */
  credential?: string | undefined;
}

/** What actions.check asks about. */
export interface CheckRequest extends Identity {
  toolName: string;
  resource?: string | undefined;
  /** At most 64; JSON values only (NaN, infinities, undefined, functions are refused before sending). */
  attributes?: Record<string, JsonValue> | undefined;
}

/**
 * The server's decision. `allowed` is true only with effect "allow", and
 * never together with `error`; the client checks that before returning.
 */
export interface Decision {
  allowed: boolean;
  effect: Effect;
  reason: string;
  ruleId: string;
  /** Names the decision's audit record (a UUID). */
  decisionId: string;
  /** Set with effect "needs_approval": the pending approval. */
  approvalId: string;
  /** The agent decided about. */
  agentId: string;
  /** Age of the server's revocation view in nanoseconds; 0 when read during the check. */
  stalenessNs: number;
  /** Set when the server could not decide properly (a deny): the error code. */
  error?: ErrorCode | undefined;
}

export interface Approval {
  id: string;
  agentId: string;
  sessionId: string;
  onBehalfOf: string;
  toolName: string;
  resource: string;
  /**
   * Redacted by the server. Numbers are exact (see AttributeValue): an
   * integer past Number.MAX_SAFE_INTEGER is a bigint, never a rounded
   * number, so what an approver is shown is what the grant binds.
   */
  attributes: Record<string, AttributeValue>;
  ruleId: string;
  reason: string;
  approvers: string[];
  status: ApprovalStatus;
  /** RFC 3339 times, as the server sends them. */
  createdAt: string;
  expiresAt: string;
  decidedAt?: string | undefined;
  decidedBy: string;
  note: string;
  grantExpiresAt?: string | undefined;
  consumedAt?: string | undefined;
}

export interface Token {
  token: string;
  format: WireTokenResponse["format"];
  tokenId: string;
  expiresAt: string;
}

export interface Hop {
  id: string;
  parent: string;
  tokenId: string;
  keyId: string;
  agentId: string;
  caveats: string[];
  createdAt: string;
  expiresAt: string;
}

export interface Delegation {
  token: string;
  hop: Hop;
}

export interface TokenInfo {
  id: string;
  keyId: string;
  tenant: string;
  agentId: string;
  expiresAt: string;
  hopIds: string[];
  caveats: string[];
}

export interface Key {
  id: string;
  tenant: string;
  agentId: string;
  name: string;
  roles: string[];
  allowedIps: string[];
  caveats: string[];
  createdAt: string;
  expiresAt?: string | undefined;
  revoked: boolean;
}

export interface CreatedKey {
  /** The API key; the server shows it only in this answer. */
  secret: string;
  key: Key;
}

export interface Principal {
  tenant: string;
  agentId: string;
  keyId: string;
  credentialId: string;
  hopIds: string[];
  roles: Role[];
  caveats: string[];
}

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call; it then rejects with a TransportError of code "aborted". */
  signal?: AbortSignal | undefined;
}

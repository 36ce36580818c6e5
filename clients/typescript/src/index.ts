// @agenttrust/client: the TypeScript client of `agenttrust serve`.
export { AgentTrustClient } from "./client.js";
export type { ClientOptions, FetchLike } from "./client.js";
export { AgentTrustError, AuthError, TransportError, DeniedError, ApprovalRequiredError } from "./errors.js";
export type { ErrorDetail } from "./errors.js";
export { guard, authorize } from "./guard.js";
export type { GuardOptions, AuthorizeOptions, WaitOptions, PerCall } from "./guard.js";
export { guardTool } from "./ai.js";
export type { GuardToolOptions, ToolCallOptions } from "./ai.js";
export type * from "./types.js";

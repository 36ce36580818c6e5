// guardTool(): a Vercel AI SDK tool whose execute runs only when the
// server allows the call. It reads only the tool's shape (an object with
// an optional execute(input, options)), so this module imports nothing
// from the "ai" package and adds no dependency.

import type { AgentTrustClient } from "./client.js";
import { AgentTrustError } from "./errors.js";
import { authorize, type WaitOptions } from "./guard.js";
import type { Identity, JsonValue } from "./types.js";

/** The part of the AI SDK's ToolExecutionOptions the guard reads. */
export interface ToolCallOptions {
  toolCallId?: string;
  abortSignal?: AbortSignal | undefined;
}

export interface GuardToolOptions<I> {
  /** Who acts; a function of the input and the call's options when it varies. */
  context?: Identity | ((input: I, options: ToolCallOptions) => Identity | undefined) | undefined;
  resource?: (input: I) => string | undefined;
  /** Attributes for the check (none by default: a tool's input is not sent unless you say so). */
  attributes?: (input: I) => Record<string, JsonValue> | undefined;
  waitForApproval?: WaitOptions | boolean | undefined;
}

/**
 * guardTool returns tool with its execute guarded: each call is checked
 * as toolName first, with the AI SDK's abortSignal, and the original
 * execute runs only on an allow. A deny or hold throws DeniedError or
 * ApprovalRequiredError, which the SDK hands to the model as the tool's
 * error. A tool without execute (one the client runs) is refused: there
 * would be nothing to guard.
 *
 *     const tools = { sendEmail: guardTool(client, "email.send", tool({ ... }), { context: { agentId: "agent-123" } }) };
 */
export function guardTool<I, O, T extends { execute?: ((input: I, options: any) => O) | undefined }>(
  client: AgentTrustClient,
  toolName: string,
  tool: T & { execute?: (input: I, options: any) => O },
  opts: GuardToolOptions<I> = {},
): T {
  const execute = tool.execute;
  if (typeof execute !== "function") throw new AgentTrustError("invalid_config", `guardTool: tool ${toolName} has no execute to guard`);
  if (typeof toolName !== "string" || toolName === "") throw new AgentTrustError("invalid_config", "guardTool: a tool name is required");
  const guarded = async (input: I, options: ToolCallOptions) => {
    const ctx = typeof opts.context === "function" ? opts.context(input, options ?? {}) : opts.context;
    const resource = opts.resource?.(input);
    const attributes = opts.attributes?.(input);
    await authorize(
      client,
      { ...ctx, toolName, ...(resource !== undefined && { resource }), ...(attributes !== undefined && { attributes }) },
      { signal: options?.abortSignal, waitForApproval: opts.waitForApproval },
    );
    return await execute.call(tool, input, options);
  };
  return { ...tool, execute: guarded };
}

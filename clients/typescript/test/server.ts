// A real `agenttrust serve` for the tests: built from this repository
// (or AGENTTRUST_BIN), on an ephemeral port over a fresh SQLite file,
// seeded with the tests' policy; its first-start admin key is read from
// stderr.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root, from dist/test/server.js. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

export const policy = `rules:
  - id: read
    effect: allow
    tools: [docs.read, email.send]
  - id: small-charges
    effect: allow
    tools: [payments.charge]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: payments over 50 need a human
  - id: no-delete
    effect: deny
    tools: ["*.delete"]
    reason: deletes are never allowed
  - id: one-file
    effect: allow
    tools: [files.read]
    resources: ["docs/caf\u00e9.txt"]
`;

export interface Server {
  url: string;
  adminKey: string;
  stop(): Promise<void>;
}

function binary(dir: string): string {
  const given = process.env["AGENTTRUST_BIN"];
  if (given) {
    if (!existsSync(given)) throw new Error(`AGENTTRUST_BIN=${given} does not exist`);
    return given;
  }
  const out = join(dir, "agenttrust");
  execFileSync("go", ["build", "-o", out, "./cmd/agenttrust"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  return out;
}

export async function startServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "agenttrust-ts-"));
  const bin = binary(dir);
  writeFileSync(join(dir, "policy.yaml"), policy, { mode: 0o600 });
  const child: ChildProcess = spawn(
    bin,
    ["serve", "--listen", "127.0.0.1:0", "--data", join(dir, "at.db"), "--policy", join(dir, "policy.yaml"), "--issuer", "http://127.0.0.1", "--console=false"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  const ready = await new Promise<{ url: string; adminKey: string }>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`agenttrust serve did not start in 60s:\n${log}`)), 60_000);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (s: string) => {
      log += s;
      const key = /^\s+(atk_[A-Za-z0-9]+)\s*$/m.exec(log);
      const url = /msg="agenttrust: listening" url=(http:\/\/\S+)/.exec(log);
      if (key?.[1] && url?.[1]) {
        clearTimeout(timer);
        ok({ url: url[1], adminKey: key[1] });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`agenttrust serve exited (${code}):\n${log}`));
    });
  });
  return {
    ...ready,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once("exit", ok));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

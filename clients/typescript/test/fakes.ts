// Fake servers for the fail-closed tests: node:http (or a raw TCP
// socket) answering whatever a case says, counting requests.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTCPServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface Fake {
  url: string;
  /** Requests received so far. */
  requests: number;
  /** The last request's body. */
  lastBody: string;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, fake: Fake) => void;

/** A valid allow, the template every malformed answer mutates. */
export const allowBody = {
  allowed: true,
  effect: "allow",
  reason: "",
  rule_id: "read",
  decision_id: "0190b5d4-7c9e-7a3b-8f00-0000000000a1",
  approval_id: "",
  agent_id: "agent-1",
  staleness_ns: 0,
};

export function json(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const b = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(b), "X-Request-Id": "fake" });
  res.end(b);
}

export async function fakeHTTP(handler: Handler): Promise<Fake> {
  const sockets = new Set<Socket>();
  const fake: Fake = { url: "", requests: 0, lastBody: "", close: async () => {} };
  const srv = createServer((req, res) => {
    fake.requests++;
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (s: string) => (body += s));
    req.on("end", () => {
      fake.lastBody = body;
      handler(req, res, fake);
    });
  });
  srv.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  fake.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((ok) => {
      for (const s of sockets) s.destroy();
      srv.close(() => ok());
    });
  return fake;
}

/** A TCP server that answers each connection with raw bytes, not HTTP's. */
export async function fakeTCP(answer: (s: Socket) => void): Promise<Fake> {
  const sockets = new Set<Socket>();
  const fake: Fake = { url: "", requests: 0, lastBody: "", close: async () => {} };
  const srv = createTCPServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.once("data", () => {
      fake.requests++;
      answer(s);
    });
    s.on("error", () => {});
  });
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  fake.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((ok) => {
      for (const s of sockets) s.destroy();
      srv.close(() => ok());
    });
  return fake;
}

// The official MCP TypeScript SDK as a machine client of a Go MCP server
// guarded by agenttrust (run by ../../e2e_ts_test.go, which reads the
// JSON lines this prints). It discovers the authorization server from the
// MCP server's protected resource metadata, gets a token with the client
// credentials grant, lists the tools and calls three of them.
//
// Environment: MCP_URL, CLIENT_ID, CLIENT_SECRET.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { discoverOAuthServerInfo } from "@modelcontextprotocol/sdk/client/auth.js";

const url = new URL(process.env.MCP_URL);
const out = (step, value) => console.log(JSON.stringify({ step, ...value }));

// Discovery, as the SDK's auth flow does it, reported for the test.
const info = await discoverOAuthServerInfo(url);
out("discovery", {
  authorization_server: info.authorizationServerUrl,
  issuer: info.authorizationServerMetadata?.issuer ?? null,
  token_endpoint: info.authorizationServerMetadata?.token_endpoint ?? null,
  grant_types: info.authorizationServerMetadata?.grant_types_supported ?? [],
  resource: info.resourceMetadata?.resource ?? null,
});

const provider = new ClientCredentialsProvider({
  clientId: process.env.CLIENT_ID,
  clientSecret: process.env.CLIENT_SECRET,
});
const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
const client = new Client({ name: "ts-e2e", version: "1.0.0" });
await client.connect(transport);

const tokens = provider.tokens();
out("token", { token_type: tokens?.token_type ?? null, scope: tokens?.scope ?? null, has_token: !!tokens?.access_token });

const { tools } = await client.listTools();
out("tools/list", { tools: tools.map((t) => t.name).sort() });

const call = async (name, args) => {
  const res = await client.callTool({ name, arguments: args });
  out("tools/call", {
    tool: name,
    is_error: !!res.isError,
    effect: res._meta?.["agenttrust/effect"] ?? null,
    approval_id: res._meta?.["agenttrust/approval_id"] ?? null,
    text: res.content?.[0]?.text ?? "",
  });
};
await call("payments.charge", { customer: "cust-42", amount: 40 });
await call("customers.delete", { customer: "cust-42" });
await call("payments.charge", { customer: "cust-42", amount: 120 });

await client.close();
out("done", {});

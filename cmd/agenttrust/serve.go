package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/agenttrust/agenttrust/cmd/agenttrust/internal/cli"
	"github.com/agenttrust/agenttrust/server"
)

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "Run the server",
		help: `Run the agenttrust server: the HTTP JSON API (api/openapi.yaml) over an
embedded SQLite file (--data, the default) or over PostgreSQL (--postgres)
or MySQL/MariaDB (--mysql) shared by many nodes. With --tls-cert and
--tls-key it serves HTTPS (TLS 1.2 or newer) and loads the pair again when
the files change, so a renewed certificate needs no restart; without them,
plain HTTP, meant for loopback or behind a TLS-terminating proxy.

The server is an OAuth 2.1 authorization server for machine clients: its
metadata is at /.well-known/oauth-authorization-server and its token
endpoint at /oauth/token (client_credentials with an agent's API key as
client secret, and RFC 8693 token exchange). --issuer names the URL
clients reach it by; it is the iss of every JWT minted, so set it before
serving beyond loopback. --audience adds a JWT audience accepted besides
the issuer: an MCP server's URI, so that the JWTs minted for it can be
checked and verified here.

One server at a time uses a SQLite file: serve locks it (a file beside
it, named with -lock appended, after symbolic links) and keeps revocations and suspensions in
memory, exactly, so a check reads nothing from the file; a second serve
on the same file refuses to start. Nodes share --postgres or --mysql.

The port is bound before anything else: when it is in use, serve exits
before it creates or changes anything. On the first start the database is created, a master secret and a JWT
signing key are generated into a 0600 secrets file (beside the SQLite file,
or --secrets), the --policy file, if any, becomes the system tenant's
policy, and an admin key is created in the system tenant and printed once
to stderr; with --admin-key-file (recommended wherever stderr goes to a log,
as under systemd or a container) its secret goes instead to that new 0600
file, which must not exist yet, and stderr says only where it is. Later
starts load the secrets file; a file its group or others
may read, or that another user owns, is refused, and so is a SQLite file
(or its -wal) that its group or others may write or another user owns:
whoever writes the database can make itself an admin.

Audit records are chained under a MAC keyed by the secrets file's audit
key, and the head of each of this node's chains is checkpointed in a file
beside it (--audit-checkpoints), out of the database's reach. A start
whose database holds less of a chain than its checkpoint, or a different
record there, is refused: records were deleted or rewritten. A start
without the checkpoint file on a database in use is refused too; restore
the file, or accept the loss with --audit-checkpoint-reset.

Every decision is audited. With --audit durable (the default) a check is
answered only once its audit record is committed to the store, so a crash
loses no decision a caller acted on; concurrent checks share one commit.
With --audit async answers leave as soon as records are queued: faster,
but a crash loses the records still queued.

GET /metrics serves Prometheus metrics (checks by effect and error code,
HTTP requests by route and status code, latency histograms, approvals,
revocations, tokens, audit; Go runtime, process and build_info) to admins
and approvers of the system tenant, or to the --metrics-token-file token.
With OTEL_EXPORTER_OTLP_ENDPOINT set, a span per check and the same metrics
are also exported over OTLP/HTTP, as the standard OTEL_* variables say
(OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SDK_DISABLED, ...).

The web console is served at /ui/ (--console=false turns it off): sign
in with an approver or admin API key to answer pending approvals live,
suspend and resume agents, revoke keys, tokens and delegation hops, and
watch the decision stream. With --approval-webhook each new pending
approval is posted to a URL as JSON, signed with the secret of
--approval-webhook-secret-file (header X-Agenttrust-Signature:
t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">); a slow receiver never
delays a check.

With --store-api, admins of the system tenant may also use the store API
(/v1/store/), through which nodes that decide in process keep their state
and policy on this server (package remote). What is written through it
leaves no operator record: a key that may use it is as powerful as a
database writer, so give such keys only to those nodes. It is off by
default.

SIGINT or SIGTERM shuts down gracefully: no new connections, requests in
flight finish (up to --shutdown-timeout), queued audit records are written,
the store is closed.`,
		setup: func(e *env, f *flags) runFunc {
			var cfg cli.ServeConfig
			var proxies prefixList
			var logLevel, logFormat string
			consoleOn := true
			f.StringVar(&cfg.Listen, "listen", cli.DefaultListen, "TCP `ADDRESS` to listen on")
			f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM `FILE` of the server's certificate chain, to serve HTTPS (with --tls-key)")
			f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM `FILE` of the certificate's private key, mode 0600 (or 0640), owned by the server's user or root")
			f.StringVar(&cfg.SQLite, "data", cli.DefaultSQLite, "SQLite database `FILE`, created on first start")
			f.StringVar(&cfg.Postgres, "postgres", "", "PostgreSQL `URL`, for many nodes sharing one database (instead of --data)")
			f.StringVar(&cfg.PostgresSchema, "postgres-schema", "", "PostgreSQL `SCHEMA` (default agenttrust)")
			f.StringVar(&cfg.MySQL, "mysql", "", "MySQL or MariaDB `DSN` (user:password@tcp(host:3306)/database), for many nodes sharing one database (instead of --data)")
			f.StringVar(&cfg.Secrets, "secrets", "", "secrets `FILE` (default: the --data file with .secrets appended; required with --postgres or --mysql)")
			f.StringVar(&cfg.AuditCheckpoints, "audit-checkpoints", "", "audit checkpoint `FILE`, one per node (default: the secrets file with .checkpoints appended)")
			// No environment variable: a reset left in a service's environment
			// would throw the checkpoints away at every start.
			f.BoolVar(&cfg.ResetAuditCheckpoints, "audit-checkpoint-reset", false, "start over with an empty audit checkpoint file (the old one is kept beside it); only on the command line, for one start")
			f.StringVar(&cfg.Node, "node", "", "`NAME` of this node in the audit chains, unique among nodes sharing a store (default: the host name)")
			f.StringVar(&cfg.AdminKeyFile, "admin-key-file", "", "on the first start, write the first admin key's secret to this new `FILE` (mode 0600; an existing file or link is refused) instead of stderr")
			f.StringVar(&cfg.SystemTenant, "system-tenant", cli.DefaultSystemTenant, "the operator's `TENANT`, which holds the first admin key")
			f.Var(&proxies, "trusted-proxy", "`CIDR` of a reverse proxy whose X-Forwarded-For is believed; repeat or separate with commas")
			f.BoolVar(&cfg.Notify, "notify", false, "keep revocations in memory, fed by the store's change feed (PostgreSQL, MySQL) or by polling, instead of reading them on every check")
			f.DurationVar(&cfg.MaxStaleness, "max-staleness", 0, "with --notify: how old the view of revocations may be before checks deny; 0 means 250ms")
			f.DurationVar(&cfg.TenantIdle, "tenant-idle", cli.DefaultTenantIdle, "close a tenant's client after this long without a request, freeing its policy poll and change feed; 0 keeps every tenant open")
			f.StringVar(&cfg.Audit, "audit", "durable", "audit `MODE`: durable (answer once the record is committed) or async (answer once it is queued)")
			f.DurationVar(&cfg.AuditDrainTimeout, "audit-drain-timeout", cli.DefaultAuditDrainTimeout, "on shutdown, how long to keep writing queued audit records to a failing store before naming the unwritten ones in the log and exiting with an error")
			f.StringVar(&cfg.PolicyFile, "policy", "", "policy `FILE` (.json, .yaml) stored as the system tenant's policy when none is stored yet; a .cedar file decides every tenant's checks instead, and no policy is stored; a file others may write is refused")
			f.StringVar(&cfg.ShadowPolicyFile, "shadow-policy", "", "candidate policy `FILE` evaluated beside every live policy and never enforced: its disagreements go to the audit records (see \"agenttrust policy shadow\")")
			f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cli.DefaultShutdownTimeout, "how long requests in flight may run on after SIGINT or SIGTERM")
			f.DurationVar(&cfg.BodyTimeout, "body-timeout", server.DefaultBodyTimeout, "how long a request body may take to arrive; a slower one is answered 408")
			f.StringVar(&cfg.MetricsTokenFile, "metrics-token-file", "", "`FILE` (mode 0600) holding the token a scraper presents to GET /metrics, which then works while the store is down")
			f.BoolVar(&cfg.StoreAPI, "store-api", false, "serve the store API at /v1/store/ to admins of the system tenant, for nodes that decide in process (package remote); what is written through it leaves no operator record")
			f.BoolVar(&consoleOn, "console", true, "serve the web console at /ui/ (sign-in with an approver or admin API key)")
			f.DurationVar(&cfg.ConsoleIdle, "console-idle", 0, "end a console session after this long without a request; 0 means 15m")
			f.StringVar(&cfg.ApprovalWebhook, "approval-webhook", "", "`URL` to post each new pending approval to (JSON with a Slack-compatible text field, HMAC-signed)")
			f.StringVar(&cfg.ApprovalWebhookSecretFile, "approval-webhook-secret-file", "", "`FILE` (mode 0600) holding the webhook's HMAC secret, at least 32 bytes")
			f.StringVar(&cfg.PublicURL, "public-url", "", "the server's external base `URL`, for console links in notifications; an https one (behind a TLS proxy) makes the console cookie Secure (default: from --listen)")
			f.StringVar(&cfg.Issuer, "issuer", "", "the server's public `URL`: the iss of its JWTs and its OAuth issuer (default: from --listen, whose port must then not be 0)")
			f.Var((*stringList)(&cfg.Audiences), "audience", "a JWT audience `URI` accepted besides the issuer, such as an MCP server's; repeat for more")
			f.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error; info logs a line per request")
			f.StringVar(&logFormat, "log-format", "text", "log `FORMAT`: text (key=value) or json (one object per line)")
			f.envVar("listen", "tls-cert", "tls-key", "data", "postgres", "postgres-schema", "mysql", "secrets", "audit-checkpoints", "admin-key-file", "node", "system-tenant",
				"trusted-proxy", "notify", "max-staleness", "tenant-idle", "audit", "audit-drain-timeout", "policy", "shadow-policy", "shutdown-timeout", "log-level", "log-format",
				"body-timeout", "metrics-token-file", "store-api", "console", "console-idle", "approval-webhook", "approval-webhook-secret-file", "public-url", "issuer", "audience")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				var lvl slog.Level
				if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
					return usagef("--log-level: want debug, info, warn or error")
				}
				hopts := &slog.HandlerOptions{Level: lvl}
				// The log, a line per request at level info, reaches
				// stderr in batches, not a write per line.
				logs := cli.NewLogBuffer(e.stderr, 0)
				defer logs.Close()
				switch logFormat {
				case "text":
					cfg.Logger = slog.New(slog.NewTextHandler(logs, hopts))
				case "json":
					cfg.Logger = slog.New(slog.NewJSONHandler(logs, hopts))
				default:
					return usagef("--log-format: want text or json")
				}
				if cfg.Postgres != "" && cfg.MySQL != "" {
					return usagef("give --postgres or --mysql, not both")
				}
				for name, set := range map[string]bool{"postgres": cfg.Postgres != "", "mysql": cfg.MySQL != ""} {
					if !set {
						continue
					}
					if f.isSet("data") {
						return usagef("give --data or --%s, not both", name)
					}
					cfg.SQLite = ""
					if cfg.Secrets == "" {
						return usagef("--%s needs --secrets: the secrets file every node loads", name)
					}
				}
				if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
					return usagef("give --tls-cert and --tls-key together")
				}
				if cfg.Audit != "durable" && cfg.Audit != "async" {
					return usagef("--audit: want durable or async")
				}
				if cfg.MaxStaleness != 0 && !cfg.Notify {
					return usagef("--max-staleness needs --notify")
				}
				if cfg.ConsoleIdle < 0 {
					return usagef("--console-idle must not be negative")
				}
				if cfg.ApprovalWebhookSecretFile != "" && cfg.ApprovalWebhook == "" {
					return usagef("--approval-webhook-secret-file needs --approval-webhook")
				}
				cfg.NoConsole = !consoleOn
				cfg.TrustedProxies = proxies
				if lvl <= slog.LevelInfo {
					// The same lines as cfg.Logger's handler would write,
					// without its cost per request.
					cfg.AccessLogTo, cfg.AccessLogJSON = logs, logFormat == "json"
				}
				cfg.Notice = logs.Immediate()
				return cli.Serve(ctx, cfg)
			}
		},
	}
}

// prefixList is a repeatable flag of CIDR prefixes (or single addresses),
// each value a comma-separated list.
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *prefixList) repeatable() {}

func (l *prefixList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR prefix or an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		*l = append(*l, p)
	}
	return nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/fileowner"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/sqlite"
	"github.com/agenttrust/agenttrust/webhook"
)

// ErrDatabaseExposed: the SQLite file (or its write-ahead log) may be
// written by its group, by others or, as its owner, by another user.
// Whoever writes the database can give itself an admin key: it is refused
// rather than served.
var ErrDatabaseExposed = errors.New("agenttrust: database file may be written by another user")

// ErrDirectoryExposed: a directory holding a file serve trusts (the
// database, the secrets, checkpoint or admin key file, a policy, the
// metrics token or webhook secret, the TLS certificate or key) may be
// written by others and lacks the sticky bit, so any local user may
// rename, remove or replace the files in it.
var ErrDirectoryExposed = errors.New("agenttrust: a data directory may be written by others")

// ErrSystemKeysGone: the system tenant has no keys, but its audit trail
// shows the store was started before: its keys were deleted behind
// agenttrust's back. No admin key is made in their place: "no keys" is
// not a first start when a database writer can bring it about.
var ErrSystemKeysGone = errors.New("agenttrust: the system tenant's keys were deleted from the store")

// ErrPolicyExposed: the policy file may be written by others, who would
// decide the checks it is read for.
var ErrPolicyExposed = errors.New("agenttrust: policy file may be written by others")

// Defaults of ServeConfig.
const (
	DefaultListen          = "127.0.0.1:8480"
	DefaultSQLite          = "agenttrust.db"
	DefaultSystemTenant    = "system"
	DefaultShutdownTimeout = 15 * time.Second
	DefaultTenantIdle      = 10 * time.Minute
	// DefaultCheckpointInterval bounds how long a stored audit batch waits
	// for its checkpoint to reach the file.
	DefaultCheckpointInterval = time.Second
	// DefaultAuditDrainTimeout is ServeConfig.AuditDrainTimeout's default.
	DefaultAuditDrainTimeout = 15 * time.Second
	// BootstrapAgent is the agent id of the first admin key.
	BootstrapAgent = "admin"
)

// ServeConfig is what Serve needs. The zero value is not usable: Listen,
// exactly one of SQLite, Postgres and MySQL, and Notice are required.
type ServeConfig struct {
	// Listen is the TCP address to serve on, such as "127.0.0.1:8480"
	// (":0" picks a free port; the log says which).
	Listen string
	// TLSCert and TLSKey, both or neither, are PEM files of the server's
	// certificate (its chain) and private key: with them it serves HTTPS,
	// TLS 1.2 or newer, and loads the pair again when the files change.
	TLSCert, TLSKey string
	// SQLite is the path of the database file, created on first start.
	SQLite string
	// Postgres is the URL of a PostgreSQL database several nodes share;
	// PostgresSchema the schema within it (default postgres.DefaultSchema).
	Postgres       string
	PostgresSchema string
	// MySQL is the DSN of a MySQL or MariaDB database several nodes share
	// (see package store/mysql).
	MySQL string
	// Secrets is the path of the secrets file. Default with SQLite: the
	// database path with ".secrets" appended. Required with Postgres and
	// MySQL, where every node must load the same file.
	Secrets string
	// AuditCheckpoints is the path of the file of audit chain checkpoints
	// (default: the secrets file's path with ".checkpoints" appended). It
	// is made on the first start; later, a missing file stops the start
	// unless ResetAuditCheckpoints. Each node needs a file of its own.
	AuditCheckpoints string
	// ResetAuditCheckpoints starts over with an empty checkpoint file (the
	// old one, if any, is kept beside it): records cut from the end of the
	// audit trail before this start then go unseen.
	ResetAuditCheckpoints bool
	// CheckpointInterval bounds how long a stored audit batch waits for
	// its checkpoint to reach the file (default DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// Node names this process in the audit chains (default: host name).
	Node string
	// SystemTenant is the operator's tenant (default DefaultSystemTenant);
	// the first admin key is made in it.
	SystemTenant string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed.
	TrustedProxies []netip.Prefix
	// Notify switches revocation checks to notify mode, in which a view of
	// revocations no older than MaxStaleness is kept in memory.
	Notify       bool
	MaxStaleness time.Duration
	// TenantIdle closes a tenant's Client after that long without a
	// request (server.WithTenantIdle); 0 keeps every tenant open.
	TenantIdle time.Duration
	// Audit is when a check may answer relative to the writing of its
	// audit record: "durable" (the default when empty: an answer leaves
	// only once its record is committed, so a crash loses no answered
	// decision) or "async" (answers leave as records are queued; a crash
	// loses those still queued).
	Audit string
	// AuditDrainTimeout bounds how long shutdown keeps writing queued
	// audit records to a failing store (default
	// DefaultAuditDrainTimeout); records still unwritten then are named
	// in the log and the error Serve returns.
	AuditDrainTimeout time.Duration
	// PolicyFile seeds the system tenant's policy when none is stored;
	// a .cedar file instead decides every tenant's checks (package
	// cedar), and stored policies are not used.
	PolicyFile string
	// ShadowPolicyFile is a candidate policy evaluated beside each
	// tenant's live policy and never enforced; its disagreements are
	// recorded in the audit (agenttrust.AuditConfig.Shadow).
	ShadowPolicyFile string
	// ShutdownTimeout bounds how long requests in flight may take to
	// finish once ctx ends (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// BodyTimeout bounds how long a request body may take to arrive
	// (default server.DefaultBodyTimeout).
	BodyTimeout time.Duration
	// MetricsTokenFile names a file (mode 0600) holding the token a
	// metrics scraper presents to GET /metrics (server.WithMetricsToken),
	// which works while the store is down. Empty: no token; /metrics then
	// wants a system tenant admin or approver key.
	MetricsTokenFile string
	// StoreAPI mounts the store API at /v1/store/ (server.WithStoreAPI),
	// for admins of the system tenant: the raw store.Store that nodes
	// deciding in process share through this server (package remote's
	// NewStore, NewPolicyEngine, NewAuditSink). What is written through
	// it leaves no operator record, so a key that may use it is as
	// powerful as a database writer: give it only to such nodes. Off by
	// default.
	StoreAPI bool
	// NoConsole turns off the web console at /ui/ (package console).
	NoConsole bool
	// ConsoleIdle ends a console session without a request for this long
	// (default console.DefaultIdleTimeout).
	ConsoleIdle time.Duration
	// ApprovalWebhook, when set, is posted each new pending approval
	// (package webhook), signed with the secret in
	// ApprovalWebhookSecretFile (mode 0600, at least 32 bytes).
	ApprovalWebhook           string
	ApprovalWebhookSecretFile string
	// PublicURL is the server's external base URL, for the console links
	// of approval notifications (default: from Listen and TLS). An https
	// one says browsers reach the server over TLS, through a proxy if
	// not directly: the console's session cookie is then always Secure.
	PublicURL string
	// notifier is the approval webhook, once started.
	notifier *webhook.Notifier
	// engine decides every tenant's checks when PolicyFile is a .cedar
	// file; nil: the tenants' stored policies decide.
	engine agenttrust.PolicyEngine
	// shadow is the compiled ShadowPolicyFile, nil without one.
	shadow agenttrust.PolicyEngine
	// Issuer is the server's public URL (server.WithIssuer): the "iss"
	// of the JWTs it mints and the issuer of its OAuth metadata. Default:
	// http:// (https:// with TLS) and the Listen address, "localhost" for
	// an unspecified host. Set it when clients reach the server by
	// another name, and when Listen's port is 0 (the issuer is fixed
	// before the port is chosen).
	Issuer string
	// Audiences are the JWT audiences accepted besides the issuer, such
	// as the URIs of the resource servers (MCP servers) whose JWTs are
	// checked here (agenttrust.TokenConfig.Audiences).
	Audiences []string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// AccessLog receives a line per request (server.WithAccessLog), at
	// level Info; nil logs none.
	AccessLog *slog.Logger
	// AccessLogTo, when not nil, receives the lines of AccessLog instead,
	// written without slog (server.WithAccessLogText, or
	// server.WithAccessLogJSON with AccessLogJSON).
	AccessLogTo   io.Writer
	AccessLogJSON bool
	// AdminKeyFile, when set, receives the secret of the first admin key
	// instead of Notice: on the first start it is created, mode 0600,
	// where no file, directory or link is (one there stops the start
	// before anything is made), and Notice is told only its path. Later
	// starts leave it alone. Give it wherever stderr goes to a log that
	// keeps it (a service manager, a container runtime).
	AdminKeyFile string
	// Notice receives the first admin key, once, when it is created; with
	// AdminKeyFile, only where it is.
	Notice io.Writer
}

func (cfg *ServeConfig) validate() error {
	switch {
	case cfg.Listen == "":
		return errors.New("agenttrust: serve: no listen address")
	case btoi(cfg.SQLite != "")+btoi(cfg.Postgres != "")+btoi(cfg.MySQL != "") > 1:
		return errors.New("agenttrust: serve: give one of a SQLite file, a PostgreSQL URL and a MySQL DSN")
	case cfg.SQLite == "" && cfg.Postgres == "" && cfg.MySQL == "":
		return errors.New("agenttrust: serve: no store: give a SQLite file, a PostgreSQL URL or a MySQL DSN")
	case (cfg.Postgres != "" || cfg.MySQL != "") && cfg.Secrets == "":
		return errors.New("agenttrust: serve: with a shared database the secrets file must be named (every node loads the same one)")
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return errors.New("agenttrust: serve: give both a TLS certificate and its key, or neither")
	case cfg.MaxStaleness < 0 || cfg.ShutdownTimeout < 0 || cfg.TenantIdle < 0 || cfg.BodyTimeout < 0 || cfg.CheckpointInterval < 0 || cfg.AuditDrainTimeout < 0:
		return errors.New("agenttrust: serve: durations must not be negative")
	case cfg.MaxStaleness != 0 && !cfg.Notify:
		return errors.New("agenttrust: serve: a maximum staleness applies only in notify mode")
	case cfg.Notice == nil:
		return errors.New("agenttrust: serve: nowhere to print the first admin key")
	case cfg.Audit != "" && cfg.Audit != "durable" && cfg.Audit != "async":
		return fmt.Errorf("agenttrust: serve: audit mode %q: want durable or async", cfg.Audit)
	}
	if cfg.Audit == "" {
		cfg.Audit = "durable"
	}
	if cfg.AuditDrainTimeout == 0 {
		cfg.AuditDrainTimeout = DefaultAuditDrainTimeout
	}
	if cfg.SystemTenant == "" {
		cfg.SystemTenant = DefaultSystemTenant
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Secrets == "" {
		cfg.Secrets = cfg.SQLite + ".secrets"
	}
	if cfg.AuditCheckpoints == "" {
		cfg.AuditCheckpoints = cfg.Secrets + ".checkpoints"
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Serve runs the server until ctx ends, then shuts it down gracefully:
// no new connections, requests in flight finish (up to ShutdownTimeout),
// every tenant's audit queue is written out, the store is closed. It
// returns nil after a clean shutdown.
//
// It binds Listen before it opens the store, so that a port in use stops
// it before anything is made. On the first start (the system tenant has
// no key and no audit record; no key but records is ErrSystemKeysGone)
// it generates the secrets file, stores the policy of PolicyFile if any,
// and creates an admin key for agent BootstrapAgent in the system tenant,
// whose secret it writes to AdminKeyFile if given, else to Notice: it is
// never shown again.
func Serve(ctx context.Context, cfg ServeConfig) (err error) {
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := checkDirectories(&cfg); err != nil {
		return err
	}
	log := cfg.Logger
	var certs *certFiles
	if cfg.TLSCert != "" {
		if certs, err = loadCertFiles(cfg.TLSCert, cfg.TLSKey, log); err != nil {
			return err
		}
	}
	var scrape string
	if cfg.MetricsTokenFile != "" {
		if scrape, err = readMetricsToken(cfg.MetricsTokenFile); err != nil {
			return err
		}
	}
	if cfg.ApprovalWebhook != "" {
		if cfg.notifier, err = newWebhook(&cfg); err != nil {
			return err
		}
		defer closeWebhook(&cfg, cfg.notifier) // after the server's Close
	}
	var seed *policySeed
	if cfg.PolicyFile != "" {
		if seed, err = readPolicy(cfg.PolicyFile); err != nil {
			return err
		}
		cfg.engine = seed.engine
	}
	if cfg.ShadowPolicyFile != "" {
		if cfg.shadow, err = readShadowPolicy(cfg.ShadowPolicyFile); err != nil {
			return err
		}
	}
	// Bind first: a port in use must stop the start before anything is
	// created, above all the first admin key, whose secret is shown once.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("agenttrust: listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close() // serveHTTP's server closes it too; a second Close is harmless
	st, what, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("agenttrust: close store: %w", cerr))
		}
		if err == nil {
			log.Info("agenttrust: stopped")
		}
	}()
	keys, err := st.Keys(ctx, cfg.SystemTenant)
	if err != nil {
		return fmt.Errorf("agenttrust: read keys of tenant %q: %w", cfg.SystemTenant, err)
	}
	first, err := firstStart(ctx, st, cfg.SystemTenant, keys)
	if err != nil {
		return err
	}
	var keyOut *adminKeyFile
	switch {
	case first && cfg.AdminKeyFile != "":
		// Before anything is made: a path already taken stops the start.
		if keyOut, err = createAdminKeyFile(cfg.AdminKeyFile); err != nil {
			return err
		}
		defer keyOut.abandon()
	case cfg.AdminKeyFile != "":
		log.Info("agenttrust: not the first start: no admin key is made and the admin key file is not used", "file", cfg.AdminKeyFile)
	}
	sec, err := secretsFor(&cfg, first, log)
	if err != nil {
		return err
	}
	auditKey, err := sec.AuditKey()
	if err != nil {
		return fmt.Errorf("agenttrust: audit key: %w", err)
	}
	if len(sec.AuditSecret) == 0 {
		log.Warn("agenttrust: the secrets file has no audit_key: the first master key's secret keys the audit chains; copy it into audit_key before rotating that key", "file", cfg.Secrets)
	}
	cps, err := openCheckpoints(&cfg, auditKey, first, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cps.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("agenttrust: write audit checkpoints: %w", cerr))
		}
	}()
	if err := checkChains(ctx, st, cps, log); err != nil {
		return err
	}
	tel, err := newTelemetry(ctx, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if terr := tel.shutdown(sctx); terr != nil {
			log.Warn("agenttrust: telemetry export at shutdown failed", "err", terr)
		}
	}()
	srv, err := newServer(&cfg, st, sec, scrape, auditKey, cps, tel)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := srv.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("agenttrust: flush audit: %w", cerr))
		}
	}()
	if err := bootstrap(ctx, &cfg, st, srv, seed, first, keyOut); err != nil {
		return err
	}
	log.Info("agenttrust: store open", "store", what, "system_tenant", cfg.SystemTenant, "notify", cfg.Notify, "audit", cfg.Audit)
	return serveHTTP(ctx, &cfg, ln, srv, certs)
}

// firstStart reports whether this is the store's first start, on which
// the secrets and checkpoint files may be made and the first admin key
// is: the system tenant has no key and no audit record. Every start that
// got as far as making a key left a record of it in the system tenant's
// trail, whose tail this node's checkpoint holds; so a system tenant
// without keys but with records had them deleted (ErrSystemKeysGone),
// and one whose trail was deleted too is refused by the chain check.
func firstStart(ctx context.Context, st store.Store, system string, keys []store.Key) (bool, error) {
	if len(keys) > 0 {
		return false, nil
	}
	recs, err := st.QueryAudit(ctx, store.AuditQuery{Tenant: system, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("agenttrust: read the audit trail of tenant %q: %w", system, err)
	}
	if len(recs) > 0 {
		return false, fmt.Errorf("%w: tenant %q has no keys, but its audit trail shows this store was started before (record %s of chain %q): "+
			"its keys were deleted from the database; no new admin key is made in their place. Restore the keys from a backup, "+
			"and look for what else was written behind agenttrust's back (agenttrust audit verify). If instead the first start "+
			"failed while making the admin key, start afresh: remove the database (or its schema), the secrets file and the checkpoint file",
			ErrSystemKeysGone, system, recs[0].ID, recs[0].Chain)
	}
	return true, nil
}

// openStore opens the configured store; what describes it for the log,
// without the PostgreSQL URL or MySQL DSN, which may hold a password.
func openStore(ctx context.Context, cfg *ServeConfig) (st store.Store, what string, err error) {
	if cfg.Postgres != "" {
		var opts []postgres.Option
		if cfg.PostgresSchema != "" {
			opts = append(opts, postgres.WithSchema(cfg.PostgresSchema))
		}
		s, err := postgres.Open(ctx, cfg.Postgres, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("agenttrust: open PostgreSQL: %w", err)
		}
		return s, "postgres", nil
	}
	if cfg.MySQL != "" {
		s, err := mysql.Open(ctx, cfg.MySQL)
		if err != nil {
			return nil, "", fmt.Errorf("agenttrust: open MySQL: %w", err)
		}
		return s, "mysql", nil
	}
	if dir := filepath.Dir(cfg.SQLite); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, "", fmt.Errorf("agenttrust: database directory: %w", err)
		}
	}
	// Before the open, which replays a write-ahead log it finds.
	if err := checkDatabaseFiles(cfg.SQLite); err != nil {
		return nil, "", err
	}
	// The server is the file's only user: it holds an exclusive lock, so
	// the store answers revocation lookups from memory, exactly.
	s, err := sqlite.Open(ctx, cfg.SQLite, sqlite.WithExclusive())
	if errors.Is(err, sqlite.ErrInUse) {
		return nil, "", fmt.Errorf("agenttrust: open %s: another agenttrust process has it open (one server per SQLite file; share PostgreSQL or MySQL between nodes): %w", cfg.SQLite, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("agenttrust: open %s: %w", cfg.SQLite, err)
	}
	// Again once open: a file planted between the check and the open,
	// where none was, is used by now but still refused.
	if err := checkDatabaseFiles(cfg.SQLite); err != nil {
		s.Close()
		return nil, "", err
	}
	return s, "sqlite:" + cfg.SQLite, nil
}

// checkDirectories refuses to serve from a directory that others may
// write without the sticky bit (ErrDirectoryExposed), whether it is named
// or the file is reached through a symbolic link into it: any local user
// could move the checkpoint file aside and back over a newer one (an
// older checkpoint hides records cut from a chain since), remove the
// secrets file, or rename a policy file of their own over the one given
// (a policy file's mode is checked, not its owner). A directory that does
// not exist is left to the steps that need it.
func checkDirectories(cfg *ServeConfig) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	for _, p := range []string{cfg.SQLite, cfg.Secrets, cfg.AuditCheckpoints, cfg.AdminKeyFile,
		cfg.PolicyFile, cfg.ShadowPolicyFile, cfg.MetricsTokenFile, cfg.ApprovalWebhookSecretFile, cfg.TLSCert, cfg.TLSKey} {
		if p == "" {
			continue
		}
		// The directory named, and, when p is a symbolic link, the one
		// the file it leads to is in: either lets its writers replace
		// the file.
		dirs := []string{filepath.Dir(p)}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, d := range dirs {
			if err := checkDirectory(d, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDirectory refuses dir, holding the file at p, when others may
// write it and it lacks the sticky bit (ErrDirectoryExposed). One that
// cannot be read is left to the steps that need it.
func checkDirectory(dir, p string) error {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	if fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: %s (for %s) has mode %04o; make it writable by its owner only (chmod o-w %s)", ErrDirectoryExposed, dir, p, fi.Mode().Perm(), dir)
	}
	return nil
}

// checkDatabaseFiles refuses a SQLite database whose file, or a journal
// file beside it, exists and may be written by its group, by others or
// by another user who owns it (ErrDatabaseExposed). Files that do not
// exist yet pass: the store makes them 0600.
func checkDatabaseFiles(path string) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // SQLite names the journals after the file itself
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("agenttrust: database file: %w", err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%w: %s has mode %04o; make it 0600 (chmod 600 %s)", ErrDatabaseExposed, p, fi.Mode().Perm(), p)
		}
		if uid, other := fileowner.Another(fi); other {
			return fmt.Errorf("%w: %s is owned by another user (uid %d); make this server's user its owner", ErrDatabaseExposed, p, uid)
		}
	}
	return nil
}

// secretsFor loads the secrets file, or on the first start creates it. A
// store that already has keys but no secrets file is refused: new secrets
// would silently invalidate every token issued, and another node would
// not verify this one's.
func secretsFor(cfg *ServeConfig, first bool, log *slog.Logger) (Secrets, error) {
	exists, err := secretsExist(cfg.Secrets)
	if err != nil {
		return Secrets{}, err
	}
	if exists {
		return LoadSecrets(cfg.Secrets)
	}
	if !first {
		return Secrets{}, fmt.Errorf("agenttrust: the store is already initialised but the secrets file %s is missing: restore it (or copy it from the node that created it); new secrets would invalidate every token issued", cfg.Secrets)
	}
	sec, err := GenerateSecrets(nil)
	if err != nil {
		return Secrets{}, err
	}
	if err := WriteSecrets(cfg.Secrets, sec); err != nil {
		return Secrets{}, err
	}
	log.Info("agenttrust: generated secrets", "file", cfg.Secrets)
	return sec, nil
}

// openCheckpoints opens the audit checkpoint file, making it on the first
// start or when asked to reset. A store already in use without its file
// is refused: the file is what shows records cut from the end of a chain.
func openCheckpoints(cfg *ServeConfig, key agenttrust.AuditKey, first bool, log *slog.Logger) (*audit.Checkpoints, error) {
	path := cfg.AuditCheckpoints
	exists, err := secretsExist(path)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.ResetAuditCheckpoints:
		// Refused, changing nothing, while another process holds the file.
		old, err := audit.ResetCheckpoints(path, key, time.Now())
		if err != nil {
			return nil, fmt.Errorf("agenttrust: reset audit checkpoints: %w", err)
		}
		if old != "" {
			log.Warn("agenttrust: audit checkpoints reset; the old file is kept", "file", path, "old", old)
		} else {
			log.Warn("agenttrust: audit checkpoints reset", "file", path)
		}
	case !exists && first:
		if err := audit.CreateCheckpoints(path, key); err != nil {
			return nil, err
		}
		log.Info("agenttrust: created the audit checkpoint file", "file", path)
	case !exists:
		return nil, fmt.Errorf("%w: the store is already initialised but the audit checkpoint file %s is missing: restore it, or start once with --audit-checkpoint-reset (records cut from the end of the audit trail before then go unseen)",
			audit.ErrCheckpoint, path)
	}
	return audit.OpenCheckpoints(audit.CheckpointConfig{Path: path, Key: key, Interval: cfg.CheckpointInterval})
}

// checkChains compares the tail of every checkpointed chain with the
// store, and refuses to start when one was cut or rewritten: a store
// written behind agenttrust's back cannot be trusted for the keys,
// revocations and policies it also holds, so an operator must look first.
func checkChains(ctx context.Context, st store.Store, cps *audit.Checkpoints, log *slog.Logger) error {
	var errs []error
	for _, cp := range cps.Checkpoints() {
		if err := cps.Check(ctx, st, cp.Chain); err != nil {
			if !errors.Is(err, agenttrust.ErrChainBroken) {
				return fmt.Errorf("agenttrust: check audit chain %q: %w", cp.Chain, err)
			}
			log.Error("agenttrust: AUDIT CHAIN BROKEN: the store differs from its checkpoint", "chain", cp.Chain, "checkpoint_seq", cp.Seq, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("agenttrust: %d audit chains differ from their checkpoints (records deleted or rewritten in the store); not starting: %w", len(errs), errors.Join(errs...))
	}
	return nil
}

func newServer(cfg *ServeConfig, st store.Store, sec Secrets, scrape string, auditKey agenttrust.AuditKey, cps *audit.Checkpoints, tel *telemetry) (*server.Server, error) {
	clientOpts := []agenttrust.Option{
		agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: sec.MasterKeys, SigningKeys: sec.SigningKeys}),
		agenttrust.WithAudit(agenttrust.AuditConfig{Durable: cfg.Audit != "async", DrainTimeout: cfg.AuditDrainTimeout, Shadow: cfg.shadow}),
	}
	if cfg.Notify {
		clientOpts = append(clientOpts, agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: cfg.MaxStaleness}))
	}
	if cfg.notifier != nil {
		clientOpts = append(clientOpts, agenttrust.WithNotifier(cfg.notifier.Notify))
	}
	if len(cfg.Audiences) > 0 {
		clientOpts = append(clientOpts, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: cfg.Audiences}))
	}
	issuer, err := cfg.issuer()
	if err != nil {
		return nil, err
	}
	var engine agenttrust.PolicyEngine = cfg.engine
	if engine != nil {
		clientOpts = append(clientOpts, agenttrust.WithPolicyEngine(engine))
	} else if engine, err = storeapi.NewStoredPolicies(st); err != nil {
		return nil, err
	}
	opts := []server.Option{
		server.WithIssuer(issuer),
		server.WithSystemTenant(cfg.SystemTenant),
		server.WithClientOptions(clientOpts...),
		server.WithAuditKey(auditKey),
		server.WithAuditCheckpoints(cps),
		server.WithLogger(cfg.Logger),
		server.WithObserver(tel.observer),
		server.WithMetricsHandler(tel.metrics),
	}
	if cfg.StoreAPI {
		opts = append(opts, server.WithStoreAPI(storeapi.NewHandler(st, storeapi.WithPolicyEngine(engine), storeapi.WithLogger(cfg.Logger))))
	}
	switch {
	case cfg.AccessLogTo != nil && cfg.AccessLogJSON:
		opts = append(opts, server.WithAccessLogJSON(cfg.AccessLogTo))
	case cfg.AccessLogTo != nil:
		opts = append(opts, server.WithAccessLogText(cfg.AccessLogTo))
	case cfg.AccessLog != nil:
		opts = append(opts, server.WithAccessLog(cfg.AccessLog))
	}
	if cfg.Node != "" {
		opts = append(opts, server.WithNodeName(cfg.Node))
	}
	if len(cfg.TrustedProxies) > 0 {
		opts = append(opts, server.WithTrustedProxies(cfg.TrustedProxies...))
	}
	if cfg.BodyTimeout > 0 {
		opts = append(opts, server.WithBodyTimeout(cfg.BodyTimeout))
	}
	if scrape != "" {
		opts = append(opts, server.WithMetricsToken(scrape))
	}
	if cfg.TenantIdle > 0 {
		// Safe: every tenant Client has the shared keys of the secrets file.
		opts = append(opts, server.WithTenantIdle(cfg.TenantIdle))
	}
	opts = append(opts, consoleOption(cfg, st)...)
	return server.New(st, opts...)
}

// readMetricsToken reads the metrics scrape token: the file's content
// without surrounding white space, in a file only its owner may read.
func readMetricsToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("agenttrust: metrics token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("agenttrust: metrics token file: %w", err)
	}
	if err := checkPrivate(path, "metrics token", fi); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("agenttrust: metrics token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < server.MinMetricsTokenLen {
		return "", fmt.Errorf("agenttrust: metrics token file %s: the token must be at least %d characters (e.g. openssl rand -hex 32)", path, server.MinMetricsTokenLen)
	}
	return tok, nil
}

// policySeed is a policy document read and validated before the store is
// opened, so a bad file stops the start before anything changes.
type policySeed struct {
	path, format string
	body         []byte
	engine       agenttrust.PolicyEngine // a .cedar file's
}

func readPolicy(path string) (*policySeed, error) {
	format, err := PolicyFormat(path)
	if err != nil {
		return nil, err
	}
	body, err := readPolicyFile(path)
	if err != nil {
		return nil, err
	}
	if format == "cedar" {
		engine, err := loadCedar(path, body)
		if err != nil {
			return nil, fmt.Errorf("agenttrust: policy file %s: %w", path, err)
		}
		return &policySeed{path: path, format: format, engine: engine}, nil
	}
	if _, err := agenttrust.ParsePolicy(body, format); err != nil {
		return nil, fmt.Errorf("agenttrust: policy file %s: %w", path, err)
	}
	return &policySeed{path: path, format: format, body: body}, nil
}

// readPolicyFile reads the policy file at path, refusing one that others
// may write (ErrPolicyExposed): whatever it says decides checks (every
// tenant's for a .cedar file, read at every start). Its group may write
// it, as under the user private groups of umask 002.
func readPolicyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: policy file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("agenttrust: policy file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("agenttrust: policy file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; make it writable by its owner only (chmod o-w %s)", ErrPolicyExposed, path, fi.Mode().Perm(), path)
	}
	body, err := io.ReadAll(io.LimitReader(f, agenttrust.MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("agenttrust: policy file: %w", err)
	}
	if len(body) > agenttrust.MaxPolicySize {
		return nil, fmt.Errorf("agenttrust: policy file %s is larger than %d bytes", path, agenttrust.MaxPolicySize)
	}
	return body, nil
}

// readShadowPolicy reads and compiles the shadow policy file.
func readShadowPolicy(path string) (agenttrust.PolicyEngine, error) {
	p, err := agenttrust.LoadPolicyFile(path)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: shadow policy file %s: %w", path, err)
	}
	return agenttrust.NewRuleEngine(p)
}

// PolicyFormat tells a policy document's format by its file name:
// "json" for .json, "yaml" for .yaml and .yml, "cedar" for .cedar.
func PolicyFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json", nil
	case ".yaml", ".yml":
		return "yaml", nil
	case ".cedar":
		return "cedar", nil
	}
	return "", fmt.Errorf("agenttrust: cannot tell the format of policy file %q: name it .json, .yaml, .yml or .cedar", path)
}

// bootstrap seeds the system tenant: its policy when none is stored, and
// on the first start its first admin key, written to keyOut when not nil
// (cfg.Notice is then told where), else printed once to cfg.Notice.
func bootstrap(ctx context.Context, cfg *ServeConfig, st store.Store, srv *server.Server, seed *policySeed, first bool, keyOut *adminKeyFile) error {
	log := cfg.Logger
	sys, err := srv.Client(ctx, cfg.SystemTenant)
	if err != nil {
		return fmt.Errorf("agenttrust: open tenant %q: %w", cfg.SystemTenant, err)
	}
	if seed != nil && seed.engine != nil {
		log.Info("agenttrust: the Cedar policy file decides every tenant's checks; stored policies and their limits are not used", "file", seed.path)
	} else if seed != nil {
		doc, err := st.Policy(ctx, cfg.SystemTenant)
		switch {
		case errors.Is(err, store.ErrNotFound):
			v, err := sys.SavePolicy(ctx, seed.body, seed.format, 0)
			if err != nil {
				return fmt.Errorf("agenttrust: seed policy: %w", err)
			}
			log.Info("agenttrust: seeded policy", "file", seed.path, "tenant", cfg.SystemTenant, "version", v)
		case err != nil:
			return fmt.Errorf("agenttrust: read policy: %w", err)
		default:
			log.Info("agenttrust: a policy is already stored; policy file ignored (use 'agenttrust policy apply' to change it)",
				"file", seed.path, "version", doc.Version)
		}
	}
	if !first {
		return nil
	}
	secret, key, err := sys.CreateKey(ctx, agenttrust.KeySpec{
		AgentID: BootstrapAgent, Name: "bootstrap admin", Roles: []string{store.RoleAdmin},
	})
	if err != nil {
		return fmt.Errorf("agenttrust: create the first admin key: %w", err)
	}
	if keyOut != nil {
		if err := keyOut.write(secret); err != nil {
			return fmt.Errorf("agenttrust: the first admin key %s was made but its secret could not be written, and is lost: %w", key.ID, err)
		}
		_, err = fmt.Fprintf(cfg.Notice, `
================================================================================
agenttrust: first start. Created admin key %s (agent %q, tenant %q).
Its secret is in %s (mode 0600), and nowhere else: move it
where you keep secrets, then delete the file.

Use it with: export AGENTTRUST_KEY_FILE=<a file holding the secret>
================================================================================

`, key.ID, key.AgentID, cfg.SystemTenant, keyOut.path)
		return err
	}
	_, err = fmt.Fprintf(cfg.Notice, `
================================================================================
agenttrust: first start. Created admin key %s (agent %q, tenant %q).
Its secret is shown this once and is not stored anywhere: save it now.

    %s

Use it with: export AGENTTRUST_KEY=<the secret above>
Where stderr goes to a log that keeps it (systemd, a container), create your
own admin key and revoke this one, and make the next first start with
--admin-key-file PATH, which writes the secret to a new 0600 file instead.
================================================================================

`, key.ID, key.AgentID, cfg.SystemTenant, secret)
	return err
}

// adminKeyFile is the file the first admin key's secret goes to
// (ServeConfig.AdminKeyFile), created empty before anything else is made.
type adminKeyFile struct {
	path string
	f    *os.File
	done bool // written, or removed after a failed write
}

// createAdminKeyFile creates path, mode 0600, refusing anything already
// there: a file, a directory or a symbolic link, even a dangling one
// (errors wrap fs.ErrExist). A file planted there, or a link to one,
// would hand the secret to whoever planted it.
func createAdminKeyFile(path string) (*adminKeyFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if err != nil {
		if _, lerr := os.Lstat(path); lerr == nil && !errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%w: %w", fs.ErrExist, err)
		}
		return nil, fmt.Errorf("agenttrust: admin key file %s: give the path of a file that does not exist yet: %w", path, err)
	}
	// The umask cannot widen 0600, but an inherited ACL or a file system
	// that ignores modes might: set it explicitly.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("agenttrust: admin key file %s: %w", path, err)
	}
	return &adminKeyFile{path: path, f: f}, nil
}

// write writes secret to the file, syncs and closes it.
func (k *adminKeyFile) write(secret string) error {
	_, err := k.f.WriteString(secret + "\n")
	if err == nil {
		err = k.f.Sync()
	}
	if cerr := k.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(k.path)
		k.done = true
		return fmt.Errorf("admin key file %s: %w", k.path, err)
	}
	k.done = true
	syncDir(filepath.Dir(k.path))
	return nil
}

// abandon removes the file if the start ended before the key was
// written to it, so that the next start can make it again.
func (k *adminKeyFile) abandon() {
	if k.done {
		return
	}
	k.f.Close()
	os.Remove(k.path)
}

// serveHTTP serves srv on ln until ctx ends, then drains requests in flight. It
// serves HTTPS when certs is not nil.
func serveHTTP(ctx context.Context, cfg *ServeConfig, ln net.Listener, srv *server.Server, certs *certFiles) error {
	log := cfg.Logger
	// Long polls and audit streams end when shutdown begins, so that they
	// do not hold it up to its deadline; other requests run to the end.
	longCtx, endLong := context.WithCancel(context.WithoutCancel(ctx))
	defer endLong()
	hs := newHTTPServer(endOnShutdown(srv, longCtx), log)
	hs.RegisterOnShutdown(endLong)
	scheme := "http://"
	serve := func() error { return hs.Serve(ln) }
	if certs != nil {
		hs.TLSConfig = certs.tlsConfig()
		scheme = "https://"
		serve = func() error { return hs.ServeTLS(ln, "", "") }
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	addr := ln.Addr()
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil && !ap.Addr().IsLoopback() && certs == nil {
		log.Warn("agenttrust: serving plain HTTP beyond loopback: give --tls-cert and --tls-key, or put a TLS-terminating proxy in front (and name it with --trusted-proxy)")
	}
	log.Info("agenttrust: listening", "url", scheme+addr.String())

	select {
	case err := <-errc:
		return fmt.Errorf("agenttrust: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("agenttrust: shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("agenttrust: requests still running at the shutdown deadline were cut", "err", err)
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("agenttrust: serve: %w", err)
	}
	log.Info("agenttrust: stopped accepting requests; flushing audit")
	return nil
}

// newHTTPServer bounds what a client can hold without a request to show
// for it: the time to send the headers, their size, an idle keep-alive
// connection. There is no ReadTimeout or WriteTimeout: they would cut the
// long polls of approvals and the audit stream. The server bounds the
// time a body may take itself (server.WithBodyTimeout).
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// endOnShutdown gives long-lived requests (the audit stream, a long poll
// of an approval) a context that ends with long, and passes every request
// to h.
func endOnShutdown(h http.Handler, long context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/v1/audit/stream" ||
			strings.HasPrefix(r.URL.Path, "/v1/approvals/") && r.URL.Query().Has("wait") ||
			strings.HasPrefix(r.URL.Path, "/ui/events/")) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			stop := context.AfterFunc(long, cancel)
			defer stop()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// issuer returns the issuer URL: Issuer, or one made of the listen
// address.
func (cfg *ServeConfig) issuer() (string, error) {
	if cfg.Issuer != "" {
		return cfg.Issuer, nil
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("agenttrust: serve: listen address %q: %w", cfg.Listen, err)
	}
	if a, err := netip.ParseAddr(host); host == "" || err == nil && a.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

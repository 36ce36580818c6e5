package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/console"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/webhook"
)

// webhookCloseTimeout bounds how long shutdown keeps delivering queued
// approval notifications.
const webhookCloseTimeout = 5 * time.Second

// consoleOption mounts the web console at /ui/, unless turned off.
func consoleOption(cfg *ServeConfig, st store.Store) []server.Option {
	if cfg.NoConsole {
		return nil
	}
	return []server.Option{server.WithConsole(func(api http.Handler) (http.Handler, error) {
		// Behind a TLS-terminating proxy the console sees plain HTTP; an
		// https public URL says browsers reach it over TLS.
		secure := strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://")
		c, err := console.New(console.Config{API: api, Store: st, IdleTimeout: cfg.ConsoleIdle, Logger: cfg.Logger, SecureCookies: secure})
		if err != nil {
			return nil, err
		}
		return c, nil
	})}
}

// newWebhook starts the approval notifier of --approval-webhook.
func newWebhook(cfg *ServeConfig) (*webhook.Notifier, error) {
	if cfg.ApprovalWebhookSecretFile == "" {
		return nil, fmt.Errorf("agenttrust: --approval-webhook needs --approval-webhook-secret-file (mode 0600, at least %d bytes)", webhook.MinSecretLen)
	}
	secret, err := readPrivateFile(cfg.ApprovalWebhookSecretFile, "approval webhook secret")
	if err != nil {
		return nil, err
	}
	public := cfg.PublicURL
	if public == "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("agenttrust: listen address %q: %w", cfg.Listen, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		scheme := "http://"
		if cfg.TLSCert != "" {
			scheme = "https://"
		}
		public = scheme + net.JoinHostPort(host, port)
	}
	n, err := webhook.New(webhook.Config{URL: cfg.ApprovalWebhook, Secret: secret, ConsoleURL: public, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("agenttrust: approval webhook: %w", err)
	}
	return n, nil
}

// closeWebhook delivers what is queued, for a while, and logs the counts.
func closeWebhook(cfg *ServeConfig, n *webhook.Notifier) {
	ctx, cancel := context.WithTimeout(context.Background(), webhookCloseTimeout)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		cfg.Logger.Warn("agenttrust: approval notifications still queued at shutdown were dropped", "err", err)
	}
	s := n.Stats()
	cfg.Logger.Info("agenttrust: approval webhook", "delivered", s.Delivered, "failed", s.Failed, "dropped", s.Dropped, "retries", s.Retries)
}

// readPrivateFile reads a secret from a regular file only its owner may
// read, without surrounding white space.
func readPrivateFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: %s file: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("agenttrust: %s file: %w", what, err)
	}
	if err := checkPrivate(path, what, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("agenttrust: %s file: %w", what, err)
	}
	return bytes.TrimSpace(data), nil
}

package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/agenttrust/agenttrust/internal/fileowner"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// certFiles serves the certificate of a PEM key pair on disk and loads it
// again when either file changes, so a renewed certificate is served
// without a restart. A pair that fails to load (say, the certificate is
// replaced before its key) leaves the last good one in service until the
// files change again.
type certFiles struct {
	certPath, keyPath string
	log               *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	tried [2]fileStamp // of the last pair loaded or tried
}

// fileStamp tells whether a file changed: its size and modification time.
type fileStamp struct{ size, modNano int64 }

// loadCertFiles loads the key pair; an error here stops the start.
func loadCertFiles(certPath, keyPath string, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{certPath: certPath, keyPath: keyPath, log: log}
	st, err := c.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.tried = cert, st
	c.logLoaded("agenttrust: TLS certificate loaded", cert)
	return c, nil
}

func (c *certFiles) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, p := range [2]string{c.certPath, c.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return st, fmt.Errorf("agenttrust: TLS: %w", err)
		}
		st[i] = fileStamp{size: fi.Size(), modNano: fi.ModTime().UnixNano()}
	}
	return st, nil
}

func (c *certFiles) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.certPath)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: TLS certificate: %w", err)
	}
	keyPEM, err := readTLSKey(c.keyPath)
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: TLS key pair %s, %s: %w", c.certPath, c.keyPath, err)
	}
	if cert.Leaf == nil {
		return nil, errors.New("agenttrust: TLS: the certificate file holds no certificate")
	}
	return &cert, nil
}

// maxTLSKeyFile bounds the private key file read.
const maxTLSKeyFile = 1 << 20

// readTLSKey reads the PEM private key at path, refusing (with
// ErrSecretsExposed) a file that others may read, that its group may
// write, or that another user owns: whoever reads the key can pose as the
// server to its clients and take the credentials they send. Its group may
// read it, as the ssl-cert group of some systems does.
func readTLSKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: TLS key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("agenttrust: TLS key: %w", err)
	}
	switch uid, other := fileowner.Another(fi); {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("agenttrust: TLS key file %s is not a regular file", path)
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o027 != 0:
		return nil, fmt.Errorf("%w: TLS key %s has mode %04o; make it 0600 or 0640 (chmod 600 %s)", ErrSecretsExposed, path, fi.Mode().Perm(), path)
	case other:
		return nil, fmt.Errorf("%w: TLS key %s is owned by another user (uid %d); make this server's user or root its owner", ErrSecretsExposed, path, uid)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTLSKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("agenttrust: TLS key: %w", err)
	}
	if len(data) > maxTLSKeyFile {
		clear(data)
		return nil, fmt.Errorf("agenttrust: TLS key file %s is too large", path)
	}
	return data, nil
}

// getCertificate is tls.Config.GetCertificate. It costs two stats per
// handshake, not per request: connections are kept alive.
func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.stamps()
	if err != nil || st == c.tried {
		// A file that vanished mid-rotation is not a reason to stop
		// serving the certificate already loaded.
		return c.cert, nil
	}
	c.tried = st
	cert, err := c.load()
	if err != nil {
		c.log.Warn("agenttrust: TLS key pair changed but does not load; still serving the previous certificate", "err", err)
		return c.cert, nil
	}
	c.cert = cert
	c.logLoaded("agenttrust: TLS certificate reloaded", cert)
	return cert, nil
}

func (c *certFiles) logLoaded(msg string, cert *tls.Certificate) {
	c.log.Info(msg, "file", c.certPath, "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

// tlsConfig is the server's TLS configuration: TLS 1.2 or newer, Go's
// default cipher suites, the certificate from files.
func (c *certFiles) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}

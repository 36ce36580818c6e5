package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/entropy"
	"github.com/agenttrust/agenttrust/internal/fileowner"
)

// ErrSecretsExposed: the secrets file may be read by its group or by
// others. It is refused rather than used, as ssh refuses such a key.
var ErrSecretsExposed = errors.New("agenttrust: secrets file is readable by group or others")

// ErrZeroSecret: the secrets file holds a key of zero bytes, which is
// no secret. GenerateSecrets wrote such a signing seed until it was
// fixed: put a new signing key (32 random bytes under a new id) first
// in the file and remove the zero one; JWTs it signed die with it.
var ErrZeroSecret = errors.New("agenttrust: secrets file holds a key of zero bytes, which anyone can sign with")

// maxSecretsFile bounds the secrets file read at start.
const maxSecretsFile = 1 << 20

// Secrets are the keys every node of one deployment shares: the token
// master keys, the JWT signing keys and the audit key. The first master
// and signing keys mint or sign; all verify. Secrets redacts itself when
// printed, logged or marshalled.
type Secrets struct {
	MasterKeys  []agenttrust.SecretKey
	SigningKeys []agenttrust.SecretKey
	// AuditSecret keys the audit chains (agenttrust.NewAuditKey). It never
	// rotates: records made under it verify only with it. A file written
	// before it existed has none; then the first master key's secret
	// stands in, so copy that secret here before moving that key from the
	// head of the list.
	AuditSecret []byte
}

// AuditKey returns the audit key of the deployment.
func (s Secrets) AuditKey() (agenttrust.AuditKey, error) {
	secret := s.AuditSecret
	if len(secret) == 0 && len(s.MasterKeys) > 0 {
		secret = s.MasterKeys[0].Secret
	}
	return agenttrust.NewAuditKey(secret)
}

// String implements fmt.Stringer without the key material.
func (s Secrets) String() string {
	return fmt.Sprintf("Secrets(%d master keys, %d signing keys, redacted)", len(s.MasterKeys), len(s.SigningKeys))
}

// GoString implements fmt.GoStringer without the key material.
func (s Secrets) GoString() string { return s.String() }

// Format implements fmt.Formatter so that no verb prints the key
// material: every verb, %d among them, prints String.
func (s Secrets) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// MarshalText implements encoding.TextMarshaler with String, for the
// encoders that look for it (encoding/xml, YAML).
func (s Secrets) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer without the key material.
func (s Secrets) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON refuses to put the secrets into JSON by accident; the file
// format is written by WriteSecrets only.
func (s Secrets) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// GenerateSecrets makes one master key (32 random bytes) and one Ed25519
// signing key from r (crypto/rand.Reader when nil).
func GenerateSecrets(r io.Reader) (Secrets, error) {
	if r == nil {
		r = rand.Reader
	}
	var buf [32 + 8 + ed25519.SeedSize + 8 + 32]byte
	// A source that breaks without an error (zeros, one byte repeated)
	// fails here rather than write guessable keys to the file.
	if err := entropy.Read(r, buf[:]); err != nil {
		return Secrets{}, fmt.Errorf("agenttrust: generate secrets: %w", err)
	}
	// Copies: buf is cleared below.
	secret := bytes.Clone(buf[:32])
	mkID := "mk_" + hex.EncodeToString(buf[32:40])
	seed := bytes.Clone(buf[40 : 40+ed25519.SeedSize])
	skID := "sk_" + hex.EncodeToString(buf[40+ed25519.SeedSize:48+ed25519.SeedSize])
	s := Secrets{
		MasterKeys:  []agenttrust.SecretKey{{ID: mkID, Secret: secret}},
		SigningKeys: []agenttrust.SecretKey{{ID: skID, Secret: seed}},
		AuditSecret: bytes.Clone(buf[48+ed25519.SeedSize:]),
	}
	clear(buf[:])
	return s, nil
}

// secretsFile is the JSON form of the file; []byte fields are base64.
type secretsFile struct {
	Version     int             `json:"version"`
	MasterKeys  []masterKeyJSON `json:"master_keys"`
	SigningKeys []signingJSON   `json:"signing_keys"`
	AuditKey    []byte          `json:"audit_key,omitempty"`
}

type masterKeyJSON struct {
	ID     string `json:"id"`
	Secret []byte `json:"secret"`
}

type signingJSON struct {
	ID   string `json:"id"`
	Seed []byte `json:"seed"`
}

// LoadSecrets reads the secrets file at path. It refuses a file that is
// not a regular file, that its group or others may read or that another
// user owns (the error wraps ErrSecretsExposed), and one whose keys are missing or malformed.
// A missing file yields an error wrapping fs.ErrNotExist.
func LoadSecrets(path string) (Secrets, error) {
	f, err := os.Open(path)
	if err != nil {
		return Secrets{}, fmt.Errorf("agenttrust: secrets file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Secrets{}, fmt.Errorf("agenttrust: secrets file: %w", err)
	}
	if err := checkPrivate(path, "secrets", fi); err != nil {
		return Secrets{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretsFile+1))
	if err != nil {
		return Secrets{}, fmt.Errorf("agenttrust: secrets file: %w", err)
	}
	defer clear(data)
	if len(data) > maxSecretsFile {
		return Secrets{}, fmt.Errorf("agenttrust: secrets file %s is too large", path)
	}
	s, err := parseSecrets(data)
	if err != nil {
		return Secrets{}, fmt.Errorf("agenttrust: secrets file %s: %w", path, err)
	}
	return s, nil
}

// checkPrivate refuses a file of secrets (what names it in errors) that
// is not a regular file, that its group or others may read, or that
// another user owns: that user could read it, or put keys of its own in
// it, whatever its mode (a file planted in a shared directory, or
// restored from another host with its owner's uid). fi is the open
// file's, so the file checked is the file read.
func checkPrivate(path, what string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("agenttrust: %s file %s is not a regular file", what, path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; make it 0600 (chmod 600 %s)", ErrSecretsExposed, path, fi.Mode().Perm(), path)
	}
	if uid, other := fileowner.Another(fi); other {
		return fmt.Errorf("%w: %s is owned by another user (uid %d); make this server's user its owner", ErrSecretsExposed, path, uid)
	}
	return nil
}

func parseSecrets(data []byte) (Secrets, error) {
	var sf secretsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		// The decoder's message quotes no key material: base64 errors
		// name an offset, not the text.
		return Secrets{}, fmt.Errorf("malformed: %w", err)
	}
	if dec.More() {
		return Secrets{}, errors.New("malformed: trailing data")
	}
	if sf.Version != 1 {
		return Secrets{}, fmt.Errorf("unsupported version %d", sf.Version)
	}
	if len(sf.MasterKeys) == 0 || len(sf.SigningKeys) == 0 {
		return Secrets{}, errors.New("needs at least one master key and one signing key")
	}
	var s Secrets
	seen := map[string]bool{}
	for i, k := range sf.MasterKeys {
		if !validKeyID(k.ID) || seen["m"+k.ID] {
			return Secrets{}, fmt.Errorf("master key %d: missing, malformed or duplicate id", i)
		}
		if len(k.Secret) < 32 {
			return Secrets{}, fmt.Errorf("master key %q: secret must be at least 32 bytes", k.ID)
		}
		if entropy.Zero(k.Secret) {
			return Secrets{}, fmt.Errorf("%w: master key %q", ErrZeroSecret, k.ID)
		}
		seen["m"+k.ID] = true
		s.MasterKeys = append(s.MasterKeys, agenttrust.SecretKey{ID: k.ID, Secret: k.Secret})
	}
	for i, k := range sf.SigningKeys {
		if !validKeyID(k.ID) || seen["s"+k.ID] {
			return Secrets{}, fmt.Errorf("signing key %d: missing, malformed or duplicate id", i)
		}
		if len(k.Seed) != ed25519.SeedSize {
			return Secrets{}, fmt.Errorf("signing key %q: seed must be %d bytes", k.ID, ed25519.SeedSize)
		}
		if entropy.Zero(k.Seed) {
			// Every file an older serve generated holds one: say how to
			// replace it, since the server does not start until it is.
			return Secrets{}, fmt.Errorf("%w: signing key %q: anyone can sign its JWTs. In signing_keys, give this entry a new id, \"sk_\" and the output of openssl rand -hex 8, and a new seed, 32 random bytes in base64 (openssl rand -base64 32); do the same in the secrets file of every node. JWTs it signed stop verifying (their holders exchange their API keys again); API keys and tokens of the master keys are unaffected", ErrZeroSecret, k.ID)
		}
		seen["s"+k.ID] = true
		s.SigningKeys = append(s.SigningKeys, agenttrust.SecretKey{ID: k.ID, Secret: k.Seed})
	}
	if sf.AuditKey != nil {
		if len(sf.AuditKey) < 32 {
			return Secrets{}, errors.New("audit key must be at least 32 bytes")
		}
		if entropy.Zero(sf.AuditKey) {
			return Secrets{}, fmt.Errorf("%w: the audit key", ErrZeroSecret)
		}
		s.AuditSecret = sf.AuditKey
	}
	return s, nil
}

// validKeyID: 1-64 letters, digits, '_' or '-', as agenttrust requires of
// master and signing key ids.
func validKeyID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// WriteSecrets creates the secrets file at path with mode 0600 and syncs
// it to disk. It never replaces a file: when path exists the error wraps
// fs.ErrExist.
func WriteSecrets(path string, s Secrets) error {
	if len(s.MasterKeys) == 0 || len(s.SigningKeys) == 0 {
		return errors.New("agenttrust: write secrets: needs a master key and a signing key")
	}
	sf := secretsFile{Version: 1, AuditKey: s.AuditSecret}
	for _, k := range s.MasterKeys {
		sf.MasterKeys = append(sf.MasterKeys, masterKeyJSON{ID: k.ID, Secret: k.Secret})
	}
	for _, k := range s.SigningKeys {
		if len(k.Secret) != ed25519.SeedSize {
			return fmt.Errorf("agenttrust: write secrets: signing key %q is not an Ed25519 seed", k.ID)
		}
		sf.SigningKeys = append(sf.SigningKeys, signingJSON{ID: k.ID, Seed: k.Secret})
	}
	data, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("agenttrust: write secrets: %w", err)
	}
	defer clear(data)
	data = append(data, '\n')
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("agenttrust: write secrets: %w", err)
	}
	// The umask cannot widen 0600, but an inherited ACL or a file system
	// that ignores modes might: set it explicitly.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("agenttrust: write secrets: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes the creation of a file in dir durable, where the system
// allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// secretsExist reports whether path exists (whatever it is).
func secretsExist(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("agenttrust: secrets file: %w", err)
}

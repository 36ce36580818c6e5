package apikey

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// validKey is a well-formed key used across the tests (golden vector "zeros").
const validKey = "atk_0000000000000000000000000000002C8GjS"

// vectors mirrors testdata/vectors.json, produced by testdata/gen_vectors.py,
// an independent Python implementation of the format.
type vectors struct {
	Valid []struct {
		Name      string `json:"name"`
		RandomHex string `json:"random_hex"`
		Key       string `json:"key"`
		SHA256    string `json:"sha256"`
		CRC32     uint32 `json:"crc32"`
	} `json:"valid"`
	Invalid []struct {
		Name  string `json:"name"`
		Input string `json:"input"`
		Error string `json:"error"` // "malformed" or "checksum"
	} `json:"invalid"`
}

func loadVectors(tb testing.TB) vectors {
	tb.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		tb.Fatal("testdata/vectors.json holds no vectors")
	}
	return v
}

// parseCases are the table for Parse; FuzzParse is seeded from them.
var parseCases = []struct {
	name  string
	in    string
	want  error // nil, ErrChecksum or ErrMalformed
	exact error // the precise error, when it matters
}{
	{"valid", validKey, nil, nil},
	{"valid ascending", "atk_0123456789ABCDEFGHIJKLMNOPQRST4PMbyp", nil, nil},
	{"empty", "", ErrMalformed, errPrefix},
	{"short prefix", "atk", ErrMalformed, errPrefix},
	{"prefix only", "atk_", ErrMalformed, errLength},
	{"wrong prefix", "atx_0000000000000000000000000000002C8GjS", ErrMalformed, errPrefix},
	{"token prefix", "att_0000000000000000000000000000002C8GjS", ErrMalformed, errPrefix},
	{"upper prefix", "ATK_0000000000000000000000000000002C8GjS", ErrMalformed, errPrefix},
	{"one short", validKey[:Len-1], ErrMalformed, errLength},
	{"one long", validKey + "0", ErrMalformed, errLength},
	{"whitespace", validKey + " ", ErrMalformed, errLength},
	{"bad char in random", sub(validKey, 18, '-'), ErrMalformed, errAlphabet},
	{"bad char in checksum", sub(validKey, 38, '+'), ErrMalformed, errAlphabet},
	{"high byte", sub(validKey, 37, 0xff), ErrMalformed, errAlphabet},
	{"nul byte", sub(validKey, 4, 0), ErrMalformed, errAlphabet},
	{"typo in random", sub(validKey, 33, '1'), ErrChecksum, ErrChecksum},
	{"typo in checksum", sub(validKey, 39, 'T'), ErrChecksum, ErrChecksum},
	{"checksum overflows uint32", "atk_000000000000000000000000000000zzzzzz", ErrChecksum, ErrChecksum},
}

// sub returns s with the byte at i replaced by c.
func sub(s string, i int, c byte) string {
	b := []byte(s)
	b[i] = c
	return string(b)
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Parse(tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if k.Reveal() != tc.in {
					t.Fatalf("Reveal = %q, want %q", k.Reveal(), tc.in)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse error = %v, want %v", err, tc.want)
			}
			if tc.exact != nil && err != tc.exact {
				t.Fatalf("Parse error = %v, want exactly %v", err, tc.exact)
			}
			if k != (Key{}) {
				t.Fatalf("Parse returned non-zero Key with error")
			}
			checkErrorMessage(t, err, tc.in)
		})
	}
}

func checkErrorMessage(t *testing.T, err error, input string) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "agenttrust: ") {
		t.Errorf("error %q lacks the agenttrust: prefix", msg)
	}
	if len(input) > len(Prefix) && strings.Contains(msg, input[len(Prefix):]) {
		t.Errorf("error %q echoes the input", msg)
	}
}

func TestErrorHierarchy(t *testing.T) {
	if !errors.Is(ErrChecksum, ErrMalformed) {
		t.Error("ErrChecksum does not match ErrMalformed")
	}
	for _, err := range []error{errPrefix, errLength, errAlphabet} {
		if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrChecksum) {
			t.Errorf("%v: want ErrMalformed and not ErrChecksum", err)
		}
	}
}

func TestGoldenVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range v.Valid {
		t.Run(tc.Name, func(t *testing.T) {
			stream, err := hex.DecodeString(tc.RandomHex)
			if err != nil {
				t.Fatal(err)
			}
			r := bytes.NewReader(stream)
			got, err := Generate(r)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got != tc.Key {
				t.Fatalf("Generate = %q, want %q", got, tc.Key)
			}
			if r.Len() != 0 {
				t.Errorf("Generate left %d bytes of the stream unread; it must read exactly what it needs", r.Len())
			}
			k, err := Parse(tc.Key)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			sum := k.Hash()
			if hex.EncodeToString(sum[:]) != tc.SHA256 {
				t.Errorf("Hash = %x, want %s", sum, tc.SHA256)
			}
			if c := checksum(tc.Key[len(Prefix) : len(Prefix)+RandomLen]); c != tc.CRC32 {
				t.Errorf("checksum = %d, want %d", c, tc.CRC32)
			}
		})
	}
	for _, tc := range v.Invalid {
		t.Run("invalid/"+tc.Name, func(t *testing.T) {
			_, err := Parse(tc.Input)
			want := ErrMalformed
			if tc.Error == "checksum" {
				want = ErrChecksum
			}
			if !errors.Is(err, want) {
				t.Fatalf("Parse error = %v, want %v", err, want)
			}
			if tc.Error == "malformed" && errors.Is(err, ErrChecksum) {
				t.Fatalf("Parse error = %v, want a format error before the checksum", err)
			}
		})
	}
}

// TestEveryTypoRejected replaces each character of valid keys by every other
// byte value: each result must be rejected, by the alphabet (or prefix)
// check or by the checksum. CRC-32 detects every error burst of up to 32
// bits, so no single-character substitution can slip through.
func TestEveryTypoRejected(t *testing.T) {
	keys := []string{validKey}
	for _, v := range loadVectors(t).Valid {
		keys = append(keys, v.Key)
	}
	for _, key := range keys {
		byAlphabet, byChecksum := 0, 0
		b := []byte(key)
		for i := range b {
			orig := b[i]
			for ci := range 256 {
				c := byte(ci)
				if c == orig {
					continue
				}
				b[i] = c
				_, err := Parse(string(b))
				switch {
				case err == nil:
					t.Fatalf("typo accepted: %q position %d -> %q", key, i, c)
				case errors.Is(err, ErrChecksum):
					if i < len(Prefix) || digit(c) < 0 {
						t.Fatalf("position %d -> %q rejected by checksum, want alphabet/prefix: %v", i, c, err)
					}
					byChecksum++
				case errors.Is(err, ErrMalformed):
					if i >= len(Prefix) && digit(c) >= 0 {
						t.Fatalf("position %d -> %q: in-alphabet typo not caught by checksum: %v", i, c, err)
					}
					byAlphabet++
				default:
					t.Fatalf("unexpected error %v", err)
				}
			}
			b[i] = orig
		}
		if want := (Len - len(Prefix)) * 61; byChecksum != want {
			t.Errorf("%d in-alphabet typos rejected by checksum, want %d", byChecksum, want)
		}
		_ = byAlphabet
	}
}

// TestTranspositionsRejected: swapping two adjacent distinct characters is a
// burst of at most 16 bits, which CRC-32 always detects.
func TestTranspositionsRejected(t *testing.T) {
	for _, v := range loadVectors(t).Valid {
		b := []byte(v.Key)
		for i := len(Prefix); i < Len-1; i++ {
			if b[i] == b[i+1] {
				continue
			}
			b[i], b[i+1] = b[i+1], b[i]
			if _, err := Parse(string(b)); !errors.Is(err, ErrChecksum) {
				t.Fatalf("%s: transposition at %d: err = %v, want ErrChecksum", v.Key, i, err)
			}
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
}

func TestGenerateRoundTrip(t *testing.T) {
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	seen := make(map[string]bool)
	for range 2000 {
		s, err := Generate(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != Len || !strings.HasPrefix(s, Prefix) {
			t.Fatalf("Generate = %q: bad shape", s)
		}
		k, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(Generate()) = %v", err)
		}
		if k.Reveal() != s {
			t.Fatal("Reveal differs from the generated key")
		}
		if seen[s] {
			t.Fatalf("duplicate key %q", s)
		}
		seen[s] = true
	}
}

func TestGenerateCryptoRand(t *testing.T) {
	a, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two keys from crypto/rand are equal")
	}
	for _, s := range []string{a, b} {
		if _, err := Parse(s); err != nil {
			t.Fatalf("Parse(%q) = %v", s, err)
		}
	}
}

// TestGenerateUniform checks the rejection sampling: with every byte value
// fed equally often, every character must come out equally often.
func TestGenerateUniform(t *testing.T) {
	var stream []byte
	for range 30 {
		for v := range 256 {
			stream = append(stream, byte(v))
		}
	}
	r := bytes.NewReader(stream)
	counts := make(map[byte]int)
	// 30 rounds of 256 byte values hold 30*248 accepted bytes: 248 keys.
	for range 248 {
		s, err := Generate(r)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(Prefix); i < len(Prefix)+RandomLen; i++ {
			counts[s[i]]++
		}
	}
	if len(counts) != len(alphabet) {
		t.Fatalf("saw %d distinct characters, want %d", len(counts), len(alphabet))
	}
	for c, n := range counts {
		if n != counts['0'] {
			t.Fatalf("character %q seen %d times, '0' seen %d times", c, n, counts['0'])
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestGenerateErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Generate(errReader{boom}); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "agenttrust: ") {
		t.Errorf("failing reader: err = %v", err)
	}
	if _, err := Generate(bytes.NewReader(make([]byte, 10))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: err = %v, want io.ErrUnexpectedEOF", err)
	}
	// A source stuck above the acceptance bound must fail, not loop forever.
	stuck := bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<20))
	if _, err := Generate(stuck); err != errSource {
		t.Errorf("stuck source: err = %v, want %v", err, errSource)
	}
}

func TestHashAndEqual(t *testing.T) {
	want := sha256.Sum256([]byte(validKey))
	if got := Hash(validKey); got != want {
		t.Fatalf("Hash = %x, want %x", got, want)
	}
	long := strings.Repeat("x", 100)
	if Hash(long) != sha256.Sum256([]byte(long)) {
		t.Fatal("Hash of a long string differs from sha256.Sum256")
	}
	other := Hash("atk_0123456789ABCDEFGHIJKLMNOPQRST4PMbyp")
	if !Equal(want, Hash(validKey)) {
		t.Error("Equal(h, h) = false")
	}
	if Equal(want, other) {
		t.Error("Equal of different hashes = true")
	}
	near := want
	near[31] ^= 1
	if Equal(want, near) {
		t.Error("Equal ignores the last byte")
	}
}

func TestChecksumMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := checksum(string(b)), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("checksum(%x) = %d, want %d", b, got, want)
		}
	}
}

// TestRedaction: the secret must not appear through any formatting path.
func TestRedaction(t *testing.T) {
	k, err := Parse(validKey)
	if err != nil {
		t.Fatal(err)
	}
	secret := validKey[len(Prefix):]
	type wrapper struct {
		Key  Key
		Ptr  *Key
		Keys []Key
	}
	w := wrapper{Key: k, Ptr: &k, Keys: []Key{k}}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10.3s"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, w))
	}
	outs = append(outs, k.String(), k.GoString(), fmt.Sprint(k), fmt.Sprintln(k))
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	jm, err := json.Marshal(map[Key]int{k: 1})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(jm))
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("key", "key", k, "ptr", &k, "any", any(k))
	}
	outs = append(outs, buf.String())
	for _, out := range outs {
		if strings.Contains(out, secret) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if got := fmt.Sprint(k); got != redacted {
		t.Errorf("fmt.Sprint = %q, want %q", got, redacted)
	}
	if string(j) == "" || !strings.Contains(string(j), redacted) {
		t.Errorf("JSON = %s, want the redacted placeholder", j)
	}
}

func TestParseAllocs(t *testing.T) {
	bad := sub(validKey, 33, '1')
	allocs := testing.AllocsPerRun(100, func() {
		k, err := Parse(validKey)
		if err != nil {
			t.Fatal(err)
		}
		if !Equal(k.Hash(), Hash(validKey)) {
			t.Fatal("hash mismatch")
		}
		if _, err := Parse(bad); err != ErrChecksum {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse+Hash+Equal: %v allocs, want 0", allocs)
	}
}

func BenchmarkParseHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		k, err := Parse(validKey)
		if err != nil {
			b.Fatal(err)
		}
		_ = k.Hash()
	}
}

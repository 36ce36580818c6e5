package mysql

import (
	"slices"
	"strings"
	"testing"
)

func TestSupported(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"10.11.19-MariaDB-0+deb12u1", true},
		{"11.8.2-MariaDB", true},
		{"10.6.0-MariaDB-log", true},
		{"10.5.27-MariaDB", false},
		{"8.0.36", true},
		{"8.4.3-commercial", true},
		{"9.1.0", true},
		{"8.0.0-dmr", false},
		{"5.7.44-log", false},
		{"garbage", false},
	} {
		if err := supported(tc.version); (err == nil) != tc.ok {
			t.Errorf("supported(%q) = %v, want ok %v", tc.version, err, tc.ok)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- a comment\nCREATE TABLE a (\n  x INT, -- trailing\n  -- inner\n  y INT\n);\n\n-- next\nINSERT INTO a VALUES (1, 2);\nDO 1")
	want := []string{"CREATE TABLE a (\n  x INT, -- trailing\n  y INT\n)", "INSERT INTO a VALUES (1, 2)", "DO 1"}
	if !slices.Equal(got, want) {
		t.Errorf("splitStatements = %q, want %q", got, want)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, s := range m.stmts {
			if strings.Contains(s, ";") {
				t.Errorf("migration %s: statement holds a semicolon, so it was not split: %q", m.name, s)
			}
		}
	}
}

var listCases = []struct {
	name string
	list []string
}{
	{"nil", nil},
	{"empty", []string{}},
	{"one empty", []string{""}},
	{"several", []string{"a", "", "bc:d", "10:x"}},
	{"bytes", []string{"\x00\xff", "é"}},
}

func TestListRoundTrip(t *testing.T) {
	for _, tc := range listCases {
		t.Run(tc.name, func(t *testing.T) {
			enc := encodeList(tc.list)
			var b []byte
			if enc != nil {
				b = enc.([]byte)
			}
			got, err := decodeList(b)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.list == nil) || !slices.Equal(got, tc.list) {
				t.Errorf("decodeList(encodeList(%q)) = %q", tc.list, got)
			}
		})
	}
}

func TestDecodeListMalformed(t *testing.T) {
	for _, b := range []string{":", "1", "1:", "2:a", "x:a", "-1:a", ":a", "99999999999:a", "1:a1", "01:a", "+1:a", "1x:a"} {
		if _, err := decodeList([]byte(b)); err == nil {
			t.Errorf("decodeList(%q): no error", b)
		}
	}
}

// FuzzDecodeList: decodeList never panics, and what it accepts encodes
// back to the same bytes.
func FuzzDecodeList(f *testing.F) {
	for _, tc := range listCases {
		if enc := encodeList(tc.list); enc != nil {
			f.Add(enc.([]byte))
		}
	}
	f.Add([]byte("1:a1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := decodeList(b)
		if err != nil {
			return
		}
		if enc := encodeList(list).([]byte); string(enc) != string(b) {
			t.Errorf("decodeList(%q) = %q, which encodes as %q", b, list, enc)
		}
	})
}

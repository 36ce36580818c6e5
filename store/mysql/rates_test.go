package mysql_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// A DSN asking for clientFoundRows, which makes the server count the rows
// an UPDATE found rather than those it changed, does not turn a refused
// take into an allowed one: the store counts changed rows whatever the
// DSN says.
func TestTakeRateIgnoresClientFoundRows(t *testing.T) {
	dsn := freshDatabase(t, testDSN(t))
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s := open(t, dsn+sep+"clientFoundRows=true")
	r := store.RateTake{Tenant: "acme", Limit: "l1", Key: "k", Interval: time.Second, Burst: 2, Now: time.Unix(1_900_000_000, 0)}
	var got []bool
	for range 4 {
		allowed, err := s.TakeRate(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, allowed)
	}
	if want := []bool{true, true, false, false}; !slices.Equal(got, want) {
		t.Errorf("takes with clientFoundRows=true in the DSN: %v, want %v", got, want)
	}
}

// Tables created by a build without rate limits (schema version 1) gain
// the rates table at the next Open; a migration cut short after its
// statement ran (the table exists, the version is not recorded) is
// completed.
func TestMigrateRates(t *testing.T) {
	s, dsn := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := store.RateTake{Tenant: "acme", Limit: "l1", Key: "k", Interval: time.Second, Burst: 1, Now: time.Unix(1_900_000_000, 0)}
	for _, c := range []struct {
		name  string
		setup []string
		want  bool // the burst of 1 is spent once the table keeps a take
	}{
		// Versions after 2 are forgotten too: migrate applies only those
		// past the highest recorded, and the later ones are idempotent.
		{"from version 1", []string{`DROP TABLE agenttrust_rates`, `DELETE FROM agenttrust_schema_migrations WHERE version >= 2`}, true},
		{"cut short", []string{`DELETE FROM agenttrust_schema_migrations WHERE version >= 2`}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, stmt := range c.setup {
				rawExec(t, dsn, stmt)
			}
			s := open(t, dsn)
			allowed, err := s.TakeRate(t.Context(), r)
			if err != nil || allowed != c.want {
				t.Errorf("TakeRate after the migration = %v, %v, want %v", allowed, err, c.want)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

package entropy

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// script answers each Read with the next of its steps.
type script []struct {
	b   []byte
	err error
}

func (s *script) Read(p []byte) (int, error) {
	if len(*s) == 0 {
		return 0, io.EOF
	}
	st := (*s)[0]
	*s = (*s)[1:]
	return copy(p, st.b), st.err
}

func TestRead(t *testing.T) {
	boom := errors.New("boom")
	seq := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	cases := []struct {
		name string
		r    io.Reader
		n    int
		want error
	}{
		{"honest", bytes.NewReader(seq), 16, nil},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(seq)), 16, nil},
		{"last bytes with EOF", iotest.DataErrReader(bytes.NewReader(seq)), 16, nil},
		{"short, then EOF", bytes.NewReader(seq[:4]), 16, io.ErrUnexpectedEOF},
		{"empty, then EOF", bytes.NewReader(nil), 16, io.ErrUnexpectedEOF},
		{"error", iotest.ErrReader(boom), 16, boom},
		{"zeros", bytes.NewReader(make([]byte, 16)), 16, ErrConstant},
		{"one byte repeated", bytes.NewReader(bytes.Repeat([]byte{0xee}, 16)), 16, ErrConstant},
		{"one byte repeated, over short reads", iotest.HalfReader(bytes.NewReader(make([]byte, 16))), 16, ErrConstant},
		{"constant below MinChecked", bytes.NewReader(make([]byte, MinChecked-1)), MinChecked - 1, nil},
		{"constant at MinChecked", bytes.NewReader(make([]byte, MinChecked)), MinChecked, ErrConstant},
		{"some empty reads", &script{{nil, nil}, {nil, nil}, {seq, nil}}, 16, nil},
		{"no progress", &script{}, 16, nil}, // filled below
		{"nothing to read", bytes.NewReader(nil), 0, nil},
	}
	var stuck script
	for range maxEmptyReads + 1 {
		stuck = append(stuck, struct {
			b   []byte
			err error
		}{nil, nil})
	}
	cases[len(cases)-2].r, cases[len(cases)-2].want = &stuck, ErrNoProgress
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.n)
			err := Read(tc.r, b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && !bytes.Equal(b, make([]byte, tc.n)) {
				t.Errorf("b = %x after an error, want it cleared", b)
			}
		})
	}
}

func TestReader(t *testing.T) {
	r := NewReader(bytes.NewReader(make([]byte, 64)))
	if NewReader(r) != r {
		t.Error("NewReader wrapped a Reader again")
	}
	if n, err := io.ReadFull(r, make([]byte, 32)); n != 0 || !errors.Is(err, ErrConstant) {
		t.Errorf("ReadFull of zeros: %d, %v; want 0, %v", n, err, ErrConstant)
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(NewReader(bytes.NewReader([]byte("0123456789abcdef"))), b); err != nil || string(b) != "0123456789abcdef" {
		t.Errorf("ReadFull: %q, %v", b, err)
	}
}

func TestReadAllocs(t *testing.T) {
	r := NewReader(iotest.OneByteReader(bytes.NewReader(bytes.Repeat([]byte("0123456789abcdef"), 1000))))
	var b [16]byte
	if n := testing.AllocsPerRun(100, func() { _ = Read(r, b[:]) }); n != 0 {
		t.Errorf("Read allocates %v times", n)
	}
}

func TestZero(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{nil, true}, {[]byte{}, true}, {make([]byte, 32), true},
		{[]byte{1}, false}, {append(make([]byte, 31), 1), false}, {append([]byte{0x80}, make([]byte, 31)...), false},
	} {
		if got := Zero(tc.b); got != tc.want {
			t.Errorf("Zero(%x) = %v, want %v", tc.b, got, tc.want)
		}
	}
}

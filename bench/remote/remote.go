package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

// Defaults of Options.
const (
	DefaultClients  = 16
	DefaultDuration = 5 * time.Second
	DefaultWarmup   = time.Second
)

// Options configures Run. The zero value runs every target with the
// defaults, building the agenttrust binary from the source tree.
type Options struct {
	// Binary is the agenttrust executable to serve with. Empty: built
	// from cmd/agenttrust of the source tree this package lives in. The
	// echo is always built from the source tree (package echo here).
	Binary string
	// Clients is the number of parallel keep-alive callers (default 16).
	Clients int
	// Duration is how long each target is measured (default 5s), after
	// Warmup (default 1s) of the same load, which is not counted.
	Duration, Warmup time.Duration
	// Rounds measures every target this many times, interleaved, and
	// keeps the median by throughput (default 1).
	Rounds int
	// Targets selects what to measure, among "echo", "serve-async" and
	// "serve-durable"; empty means all three.
	Targets []string
	// Dir holds the servers' data directories; empty means a temporary
	// directory, removed at the end.
	Dir string
}

// Measurement is one target's figures.
type Measurement struct {
	Target   string
	Requests int           // answered with 200 within Duration
	Errors   int           // other answers and transport errors
	Elapsed  time.Duration // measured period
	PerSec   float64       // Requests / Elapsed
	P50, P99 time.Duration
	// ServerCPU is the CPU time (user and system) the server process used
	// during the measured period (Linux; 0 elsewhere); LoadCPU is this
	// process's, the callers'.
	ServerCPU, LoadCPU time.Duration
}

// Result is what Run measured.
type Result struct {
	Clients      int
	Duration     time.Duration
	CPUs         int
	Measurements []Measurement
}

// Get returns the measurement of target.
func (r Result) Get(target string) (Measurement, bool) {
	for _, m := range r.Measurements {
		if m.Target == target {
			return m, true
		}
	}
	return Measurement{}, false
}

// Ratio is echo's throughput over target's: how many times the bare echo's
// cost per request the target's is (1.5 means the target answers two
// requests in the time echo answers three). 0 when either is missing.
func (r Result) Ratio(target string) float64 {
	e, ok1 := r.Get("echo")
	t, ok2 := r.Get(target)
	if !ok1 || !ok2 || t.PerSec == 0 {
		return 0
	}
	return e.PerSec / t.PerSec
}

// Run measures the bare echo and agenttrust serve (asynchronous and durable
// audit) under opts.Clients parallel keep-alive callers on loopback, and
// prints a table to w. Every target runs in the same call, so their ratios
// compare like with like.
func Run(ctx context.Context, w io.Writer, opts Options) (Result, error) {
	if opts.Clients <= 0 {
		opts.Clients = DefaultClients
	}
	if opts.Duration <= 0 {
		opts.Duration = DefaultDuration
	}
	if opts.Warmup <= 0 {
		opts.Warmup = DefaultWarmup
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 1
	}
	if len(opts.Targets) == 0 {
		opts.Targets = []string{"echo", "serve-async", "serve-durable"}
	}
	for _, t := range opts.Targets {
		if t != "echo" && t != "serve-async" && t != "serve-durable" {
			return Result{}, fmt.Errorf("remote: unknown target %q (want echo, serve-async or serve-durable)", t)
		}
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "agenttrust-remote-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = build(ctx, dir, filepath.Join("..", "..", "cmd", "agenttrust"), "agenttrust"); err != nil {
			return Result{}, err
		}
	}
	echoBin, err := build(ctx, dir, "echo", "echo")
	if err != nil {
		return Result{}, err
	}
	res := Result{Clients: opts.Clients, Duration: opts.Duration, CPUs: runtime.NumCPU()}
	targets := map[string]*target{}
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	for _, name := range opts.Targets {
		var t *target
		var err error
		if name == "echo" {
			t, err = startEcho(ctx, echoBin)
		} else {
			t, err = startServe(ctx, bin, filepath.Join(dir, name), strings.TrimPrefix(name, "serve-"))
		}
		if err != nil {
			return res, fmt.Errorf("remote: start %s: %w", name, err)
		}
		targets[name] = t
	}
	runs := map[string][]Measurement{}
	for range opts.Rounds {
		for _, name := range opts.Targets {
			t := targets[name]
			m, err := measure(ctx, t, opts)
			if err != nil {
				return res, fmt.Errorf("remote: %s: %w", name, err)
			}
			m.Target = name
			runs[name] = append(runs[name], m)
		}
	}
	for _, name := range opts.Targets {
		ms := runs[name]
		slices.SortFunc(ms, func(a, b Measurement) int { return int(a.PerSec - b.PerSec) })
		res.Measurements = append(res.Measurements, ms[len(ms)/2])
	}
	if w != nil {
		res.Print(w)
	}
	return res, nil
}

// Print writes res as a table.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "remote: %d keep-alive callers on loopback, %s per target, %d CPUs shared by the callers' process and the server's\n",
		r.Clients, r.Duration, r.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\tp50\tp99\terrors\tserver CPU/req\tload CPU/req\tx echo\t")
	for _, m := range r.Measurements {
		ratio := "-"
		if x := r.Ratio(m.Target); x > 0 && m.Target != "echo" {
			ratio = strconv.FormatFloat(x, 'f', 2, 64)
		}
		per := func(d time.Duration) string {
			if m.Requests == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1fµs", float64(d.Nanoseconds())/float64(m.Requests)/1e3)
		}
		srv := per(m.ServerCPU)
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t\n", m.Target, m.PerSec,
			round(m.P50), round(m.P99), m.Errors, srv, per(m.LoadCPU), ratio)
	}
	tw.Flush()
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// build compiles the command in rel, relative to this file's directory,
// into dir/name.
func build(ctx context.Context, dir, rel, name string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("remote: cannot find the source tree")
	}
	src := filepath.Join(filepath.Dir(file), rel)
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		return "", fmt.Errorf("remote: no source of %s (%w)", name, err)
	}
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("remote: go build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// target is a server under load: its URL, the bearer and body of a
// request, and for serve its process.
type target struct {
	url, bearer string
	body        []byte
	cmd         *exec.Cmd
	close       func()
}

func (t *target) stop() {
	if t.close != nil {
		t.close()
	}
}

// checkBody is the request of every check, the shape of the server's
// own benchmark.
const checkBody = `{"tool_name":"docs.read","resource":"doc-1","session_id":"s-1","attributes":{"amount":40,"currency":"EUR"}}`

const policy = `{"rules":[{"id":"read","effect":"allow","tools":["docs.read"]}]}`

// startEcho starts the echo command (package echo beside this one) as a
// process of its own.
func startEcho(ctx context.Context, bin string) (*target, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-listen", addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t := &target{cmd: cmd, url: "http://" + addr + "/v1/actions/check", body: []byte(checkBody)}
	t.close = func() {
		_ = cmd.Process.Kill()
		<-done
	}
	if err := waitReady(ctx, "http://"+addr); err != nil {
		t.stop()
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return t, nil
}

var keyRE = regexp.MustCompile(`\batk_[0-9A-Za-z]{36}\b`)

// startServe starts `agenttrust serve --data DIR/agenttrust.db` with only
// the audit mode and the listen address set (and a policy seeded, so that
// checks allow), creates an agent key with the admin key it prints, and
// returns the target of checks as that agent.
func startServe(ctx context.Context, bin, dir, mode string) (*target, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	pol := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(pol, []byte(policy), 0o600); err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data", filepath.Join(dir, "agenttrust.db"), "--listen", addr, "--audit", mode, "--policy", pol}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &target{cmd: cmd, body: []byte(checkBody), url: "http://" + addr + "/v1/actions/check"}
	done := make(chan struct{})
	t.close = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	// The server logs a line per request to stderr, as it does by default:
	// read it all, as a terminal or a log collector would.
	keyc := make(chan string, 1)
	var tail bytes.Buffer
	var tailMu sync.Mutex
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			if !sent {
				if k := keyRE.FindString(sc.Text()); k != "" {
					keyc <- k
					sent = true
				}
				tailMu.Lock()
				tail.Write(sc.Bytes())
				tail.WriteByte('\n')
				tailMu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	var admin string
	select {
	case admin = <-keyc:
	case <-done:
		tailMu.Lock()
		defer tailMu.Unlock()
		return nil, fmt.Errorf("serve exited: %s", tail.String())
	case <-time.After(60 * time.Second):
		t.stop()
		return nil, errors.New("serve printed no admin key within 60s")
	case <-ctx.Done():
		t.stop()
		return nil, ctx.Err()
	}
	base := "http://" + addr
	if err := waitReady(ctx, base); err != nil {
		t.stop()
		return nil, err
	}
	var created struct {
		Secret string `json:"secret"`
	}
	if err := call(ctx, base+"/v1/keys", admin, `{"agent_id":"bench-bot","roles":["agent"]}`, http.StatusCreated, &created); err != nil {
		t.stop()
		return nil, fmt.Errorf("create the agent key: %w", err)
	}
	t.bearer = created.Secret
	// One check to see it allows, so that the load measures allows.
	var dec struct {
		Allowed bool   `json:"allowed"`
		Reason  string `json:"reason"`
	}
	if err := call(ctx, t.url, t.bearer, checkBody, http.StatusOK, &dec); err != nil {
		t.stop()
		return nil, fmt.Errorf("first check: %w", err)
	}
	if !dec.Allowed {
		t.stop()
		return nil, fmt.Errorf("first check denied: %s", dec.Reason)
	}
	return t, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not ready within 30s (last error %v)", base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func call(ctx context.Context, url, bearer, body string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != want {
		return fmt.Errorf("POST %s: status %d: %s", url, res.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// measure drives t with opts.Clients callers for opts.Warmup, then for
// opts.Duration, counting only the second period.
func measure(ctx context.Context, t *target, opts Options) (Measurement, error) {
	tr := &http.Transport{MaxIdleConns: opts.Clients, MaxIdleConnsPerHost: opts.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var counting atomic.Bool
	var stop atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range opts.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			rd := bytes.NewReader(t.body)
			for !stop.Load() && ctx.Err() == nil {
				rd.Reset(t.body)
				req, _ := http.NewRequestWithContext(ctx, "POST", t.url, rd)
				req.Header.Set("Content-Type", "application/json")
				if t.bearer != "" {
					req.Header.Set("Authorization", "Bearer "+t.bearer)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if counting.Load() {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				d := time.Since(t0)
				if !counting.Load() {
					continue
				}
				if res.StatusCode != http.StatusOK {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, "status "+strconv.Itoa(res.StatusCode))
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	select {
	case <-time.After(opts.Warmup):
	case <-ctx.Done():
	}
	srv0 := procCPU(t)
	load0 := selfCPU()
	start := time.Now()
	counting.Store(true)
	select {
	case <-time.After(opts.Duration):
	case <-ctx.Done():
	}
	counting.Store(false)
	elapsed := time.Since(start)
	srv1, load1 := procCPU(t), selfCPU()
	stop.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Measurement{}, err
	}
	m := Measurement{Requests: len(lat), Errors: int(errs.Load()), Elapsed: elapsed,
		ServerCPU: srv1 - srv0, LoadCPU: load1 - load0}
	m.PerSec = float64(m.Requests) / elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		m.P50, m.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	if m.Requests == 0 {
		msg, _ := firstErr.Load().(string)
		return m, fmt.Errorf("no request answered 200 (%d errors, first: %s)", m.Errors, msg)
	}
	return m, nil
}

// selfCPU is this process's CPU time, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the server process's CPU time, from /proc (Linux); 0
// elsewhere and for the in-process echo.
func procCPU(t *target) time.Duration {
	if t.cmd == nil || t.cmd.Process == nil {
		return 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(t.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

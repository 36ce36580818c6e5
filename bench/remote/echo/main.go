// Command echo is the bare net/http JSON server package bench/remote
// measures agenttrust serve against: it decodes a check request and
// answers a response of the check's shape, nothing else. It runs as a
// process of its own, like serve, so that the two get the same share of
// the machine.
//
//	echo -listen 127.0.0.1:8481
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// request and response have the check's wire shapes.
type request struct {
	AgentID    string         `json:"agent_id"`
	ToolName   string         `json:"tool_name"`
	Resource   string         `json:"resource"`
	SessionID  string         `json:"session_id"`
	OnBehalfOf string         `json:"on_behalf_of"`
	Attributes map[string]any `json:"attributes"`
	Credential string         `json:"credential"`
}

type response struct {
	Allowed    bool   `json:"allowed"`
	Effect     string `json:"effect"`
	Reason     string `json:"reason"`
	RuleID     string `json:"rule_id"`
	DecisionID string `json:"decision_id"`
	ApprovalID string `json:"approval_id"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	var req request
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(response{Allowed: true, Effect: "allow", Reason: req.Resource, RuleID: req.ToolName,
		DecisionID: "0190a5e0-0000-7000-8000-000000000000"})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8481", "TCP `ADDRESS` to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/actions/check", echo)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	hs := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if err := hs.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

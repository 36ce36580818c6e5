package cli

import (
	"encoding/json"
	"net/http"
	"path"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// A .cedar policy file is not stored: the store holds the rule engine's
// JSON and YAML documents only. It becomes the policy engine of every
// tenant's Client and of the store API's evaluate route, so it decides
// every check; stored policies are then not read, and their rate limits
// do not apply (a Cedar policy set has none).

// loadCedar reads and validates a Cedar policy file.
func loadCedar(path string) (agenttrust.PolicyEngine, error) {
	return cedar.LoadFile(path)
}

// refusePolicyWrites answers every write to /v1/policy with 409: on a
// server deciding with a Cedar file a stored policy would be decided
// with by the node that stored it until that tenant's Client is
// reopened, and by no other, so none is taken.
func refusePolicyWrites(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Clean("/"+r.URL.Path) == "/v1/policy" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
				"code":    "conflict",
				"message": "this server decides with a Cedar policy file (serve --policy FILE.cedar) and stores no policy: change the file and restart",
			}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

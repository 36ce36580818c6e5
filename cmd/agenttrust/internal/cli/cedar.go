package cli

import (
	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// A .cedar policy file is not stored: the store holds the rule engine's
// JSON and YAML documents only. It becomes the policy engine of every
// tenant's Client and of the store API's evaluate route, so it decides
// every check; stored policies are then not read, and their rate limits
// do not apply (a Cedar policy set has none). Saving a policy is refused
// by the Client (agenttrust.ErrConflict, 409 to a caller allowed to save
// one): it would be decided with by the node that stored it until that
// tenant's Client is reopened, and by no other.

// loadCedar validates the Cedar policy file at path, read as src.
func loadCedar(path string, src []byte) (agenttrust.PolicyEngine, error) {
	return cedar.Parse(path, src)
}

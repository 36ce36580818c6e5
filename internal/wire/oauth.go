package wire

// AuthServerMetadata is the OAuth 2.0 authorization server metadata of
// RFC 8414, as GET /.well-known/oauth-authorization-server serves it.
type AuthServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ServiceDocumentation              string   `json:"service_documentation,omitempty"`
}

// OAuthToken is a successful token response (RFC 6749 section 5.1, RFC
// 8693 section 2.2.1).
type OAuthToken struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
}

// OAuthError is an error response of the token endpoint (RFC 6749
// section 5.2).
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

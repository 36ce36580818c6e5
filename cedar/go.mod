module github.com/agenttrust/agenttrust/cedar

go 1.26.0

require (
	github.com/agenttrust/agenttrust v0.0.0
	github.com/cedar-policy/cedar-go v1.9.0
	golang.org/x/text v0.43.0
)

require (
	github.com/go-json-experiment/json v0.0.0-20260820222146-c27c302e5fc3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/go-memdb v1.3.5 // indirect
	github.com/hashicorp/golang-lru v0.5.4 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/exp v0.0.0-20220921023135-46d9e7742f1e // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/agenttrust/agenttrust => ..

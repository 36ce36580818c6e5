module github.com/agenttrust/agenttrust/store/mysql

go 1.26.0

require (
	github.com/agenttrust/agenttrust v0.0.0
	github.com/go-sql-driver/mysql v1.10.2
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/agenttrust/agenttrust => ../..

module github.com/agenttrust/agenttrust/store/postgres

go 1.26.0

require (
	github.com/agenttrust/agenttrust v0.0.0
	github.com/jackc/pgx/v5 v5.12.0
)

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/agenttrust/agenttrust => ../..

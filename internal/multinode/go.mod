module github.com/agenttrust/agenttrust/internal/multinode

go 1.26.0

require (
	github.com/agenttrust/agenttrust v0.0.0
	github.com/agenttrust/agenttrust/store/mysql v0.0.0
	github.com/agenttrust/agenttrust/store/postgres v0.0.0
	github.com/go-sql-driver/mysql v1.10.2
	github.com/jackc/pgx/v5 v5.12.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260820222146-c27c302e5fc3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/go-memdb v1.3.5 // indirect
	github.com/hashicorp/golang-lru v0.5.4 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace (
	github.com/agenttrust/agenttrust => ../..
	github.com/agenttrust/agenttrust/store/mysql => ../../store/mysql
	github.com/agenttrust/agenttrust/store/postgres => ../../store/postgres
)

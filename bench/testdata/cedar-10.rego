# The 10-policy scenario of cedar-10.cedar in Rego, for OPA. Cedar's
# entities are the data document (cedar-10.data.json). Every rule tests
# input.action or input.principal for equality first, so OPA's rule index
# picks the candidates and the number of rules barely matters.
package agenttrust

default allow := false

# Cedar's semantics: some permit applies and no forbid does.
allow if {
	permit
	not forbid
}

permit if {
	input.principal == "a1"
	input.action == "transfer"
	input.context.amount < 50
}

permit if {
	input.action in {"read_file", "search"}
	"support" in data.entities.agents[input.principal].teams
	"public" in data.entities.resources[input.resource].folders
}

permit if {
	input.action == "search"
	data.entities.agents[input.principal].trusted == true
}

forbid if {
	input.action == "delete_file"
	not data.entities.agents[input.principal].admin
}

permit if {
	input.principal == "a2"
	input.action == "send_email"
}

permit if {
	input.action == "transfer"
	"finance" in data.entities.agents[input.principal].teams
	input.context.amount < 1000
	input.context.approved == true
}

forbid if {
	input.context.blocked == true
}

permit if {
	input.principal == "a3"
	"scratch" in data.entities.resources[input.resource].folders
}

permit if {
	input.action == "read_file"
	data.entities.resources[input.resource].owner == input.principal
}

forbid if {
	input.principal == "rogue"
}

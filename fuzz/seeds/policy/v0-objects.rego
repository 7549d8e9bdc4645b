package main

deny[{"msg": msg, "address": app.address}] {
	app := input.manifests[_]
	not app.labels.owner
	msg := sprintf("%s has no owner", [app.address])
}

warn[msg] {
	input.changes[_].action == "delete"
	msg := "a delete"
}

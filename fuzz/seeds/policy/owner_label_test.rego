package main

import rego.v1

test_an_application_without_owner_is_warned if {
	warned := warn with input as {"changes": [], "accounts": [], "manifests": [{"address": "orphan", "labels": {}, "capabilities": {}, "numbers": []}]}
	some finding in warned
	finding.msg == "orphan has no owner label"
	finding.address == "orphan"
}

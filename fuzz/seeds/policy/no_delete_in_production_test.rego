package main

import rego.v1

test_a_delete_in_production_is_denied if {
	denied := deny with input as {"manifests": [], "accounts": [], "changes": [{"address": "old-ivr", "account": "production", "action": "delete"}]}
	"old-ivr would be deleted from account production, where deletes are not allowed" in denied
}

test_a_delete_elsewhere_passes if {
	denied := deny with input as {"manifests": [], "accounts": [], "changes": [{"address": "old-ivr", "account": "staging", "action": "delete"}]}
	count(denied) == 0
}

test_forgetting_in_production_passes if {
	denied := deny with input as {"manifests": [], "accounts": [], "changes": [{"address": "old-ivr", "account": "production", "action": "forget"}]}
	count(denied) == 0
}

package main

import rego.v1

with_number(n) := {"address": "sales", "account": "default", "labels": {"owner": "sales"}, "capabilities": {}, "numbers": [n]}

test_a_french_number_is_denied if {
	denied := deny with input as {"changes": [], "accounts": [], "manifests": [with_number("33612345678")]}
	some msg in denied
	startswith(msg, "sales: number 33612345678 is not from a country")
}

test_a_british_number_passes if {
	denied := deny with input as {"changes": [], "accounts": [], "manifests": [with_number("447700900001")]}
	count(denied) == 0
}

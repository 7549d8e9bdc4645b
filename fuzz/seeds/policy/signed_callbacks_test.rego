package main

import rego.v1

unsigned := {"address": "legacy", "account": "default", "labels": {"owner": "ops"}, "numbers": [], "capabilities": {"voice": {"signed_callbacks": false}}}

test_unsigned_voice_is_denied if {
	denied := deny with input as {"changes": [], "accounts": [], "manifests": [unsigned]}
	"legacy: voice.signed_callbacks is off" in denied
}

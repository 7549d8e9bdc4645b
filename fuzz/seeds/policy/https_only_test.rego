package main

import rego.v1

voice(answer) := {"address": "support", "account": "default", "labels": {"owner": "support"}, "numbers": [], "capabilities": {"voice": {"signed_callbacks": true, "webhooks": {"answer_url": {"address": answer, "http_method": "GET"}}}}}

test_http_webhook_is_denied if {
	denied := deny with input as {"changes": [], "accounts": [], "manifests": [voice("http://ivr.example.com/answer")]}
	"support: capabilities.voice.webhooks.answer_url is not https (http://ivr.example.com/answer)" in denied
}

test_https_webhook_passes if {
	denied := deny with input as {"changes": [], "accounts": [], "manifests": [voice("https://ivr.example.com/answer")]}
	count(denied) == 0
}

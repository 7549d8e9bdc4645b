# Every webhook on https: Vonage would send calls, messages and their signatures over plain HTTP.
package main

import rego.v1

deny contains msg if {
	some app in input.manifests
	some capability, settings in app.capabilities
	some field, webhook in settings.webhooks
	not startswith(webhook.address, "https://")
	msg := sprintf("%s: capabilities.%s.webhooks.%s is not https (%s)", [app.address, capability, field, webhook.address])
}

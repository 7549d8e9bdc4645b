# Signed callbacks on: a voice or rtc webhook that Vonage does not sign cannot tell its caller from a
# forger.
package main

import rego.v1

deny contains msg if {
	some app in input.manifests
	some capability in ["voice", "rtc"]
	app.capabilities[capability].signed_callbacks == false
	msg := sprintf("%s: %s.signed_callbacks is off", [app.address, capability])
}

# Numbers only from the countries the company operates in, by their calling codes. Edit the list.
package main

import rego.v1

allowed_calling_codes := {"44": "United Kingdom", "49": "Germany", "1": "United States and Canada"}

deny contains msg if {
	some app in input.manifests
	some number in app.numbers
	not allowed(number)
	msg := sprintf("%s: number %s is not from a country the company operates in (%s)", [app.address, number, concat(", ", sort([name | some name in allowed_calling_codes]))])
}

allowed(number) if {
	some code, _ in allowed_calling_codes
	startswith(number, code)
}

# No application is deleted from the production account by a pull request: a delete there is done
# by hand, on purpose (a `removed:` entry, which forgets an application and leaves it in the account,
# is allowed). Rename the account here to yours.
package main

import rego.v1

protected_accounts := {"production"}

deny contains msg if {
	some change in input.changes
	change.action == "delete"
	change.account in protected_accounts
	msg := sprintf("%s would be deleted from account %s, where deletes are not allowed", [change.address, change.account])
}

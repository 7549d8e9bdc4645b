# Every application owned by a team: a manifest says `labels: { owner: TEAM }`. A warning rather than
# a deny while teams add them: change `warn` to `deny` to enforce it. The finding is an object, with the
# address beside its message.
package main

import rego.v1

warn contains {"msg": sprintf("%s has no owner label", [app.address]), "address": app.address} if {
	some app in input.manifests
	not app.labels.owner
}

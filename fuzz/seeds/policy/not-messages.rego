package main
import rego.v1
deny := 3
warn := {"msg": 1}

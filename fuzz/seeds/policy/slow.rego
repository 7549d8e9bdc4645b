package main
import rego.v1
deny contains x if { x := count([[a, b] | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000)]) }

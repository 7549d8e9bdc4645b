#!/usr/bin/env python3
"""Writes fuzz/dicts/<target>.dict (libFuzzer dictionaries): the syntax of the input format, every field
name and enum value of the manifest, plan and NCCO schemas, every key of the state seeds, and numbers at
the edges (integer limits, floats with many digits, exponents). Run from anywhere after a schema change."""
import json
import os

FUZZ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ROOT = os.path.join(FUZZ, "..")


def schema_words(path):
    words = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "properties" and isinstance(x, dict):
                    words.update(x.keys())
                if k == "enum" and isinstance(x, list):
                    words.update(str(e) for e in x if not isinstance(e, (dict, list)))
                if k == "const" and isinstance(x, (str, int)):
                    words.add(str(x))
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    with open(path) as f:
        walk(json.load(f))
    return words


def json_keys(directory):
    words = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                words.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for name in sorted(os.listdir(directory)):
        try:
            with open(os.path.join(directory, name)) as f:
                walk(json.load(f))
        except (ValueError, UnicodeDecodeError):
            pass
    return words


NUMBERS = ["0", "-0", "-1", "0.0", "-0.0", "1e3", "1E+2", "0.1", "1.5e-7", "4294967295", "4294967296",
           "9007199254740993", "18446744073709551615", "18446744073709551616", "-9223372036854775808",
           "-9223372036854775809", "1.7976931348623157e308", "1e309", "5e-324", "2.2250738585072011e-308",
           "3.141592653589793238462643383279", "123456789012345678901234567890", "1e-400", "0.30000000000000004"]
JSON_SYNTAX = ["{", "}", "[", "]", ":", ",", "\"\"", "null", "true", "false", "{}", "[]", "\\u0000",
               "\\ud800", "\\\"", "\\\\", "\\n"]
YAML_SYNTAX = ["---", "...", "- ", ": ", "? ", "&a ", "*a", "!!str ", "!!map", "!!int ", "!tag ", "|", "|-", ">",
               "'", "\"", "#", "%YAML 1.2", "<<: ", "${SET}", "${UNSET}", "${SET:-x}", "${UNSET:-d}", "$${",
               "${", "~", "0x1F", "0o17", ".inf", "-.inf", ".nan", "\t", "\r\n", "version: 1",
               "applications:", "version: 1\napplications:\n  a:\n    name: "]
REGO_SYNTAX = ["package main\n", "import rego.v1\n", "deny contains msg if {", "warn contains ", "deny[msg] {",
               "some ", " in ", "every ", "not ", "with input as ", "default ", ":=", "==", "!=", "=", "|", ";",
               "{", "}", "[", "]", "(", ")", ",", ".", "_", "\"", "`", "#", "\n", "\t", "else", "contains",
               "if", "sprintf(", "count(", "startswith(", "concat(", "numbers.range(", "regex.match(", "walk(",
               "input.changes", "input.manifests", "input.accounts", "data.main", "msg := ", "test_x if {",
               "object.get(", "json.marshal(", "set()", "true", "false", "null"]
HTTP = ["/v2/applications", "/v2/applications/", "?page_size=", "&page=", "%2F", "%00", "%FF", "..", "//",
        "application_id=", "api_key=sandbox", "api_secret=sandbox", "msisdn=", "country=GB", "app_id="]


def write(target, words, syntax):
    lines = []
    seen = set()
    for w in syntax + sorted(words) + NUMBERS:
        for token in ([w] if w in syntax or w in NUMBERS else [w, json.dumps(w)]):
            if token in seen or not token:
                continue
            seen.add(token)
            escaped = "".join(c if 32 <= ord(c) < 127 and c not in "\\\"" else
                              ("\\\\" if c == "\\" else "\\\"" if c == "\"" else "\\x%02X" % ord(c))
                              for c in token)
            lines.append(f'"{escaped}"')
    os.makedirs(os.path.join(FUZZ, "dicts"), exist_ok=True)
    with open(os.path.join(FUZZ, "dicts", f"{target}.dict"), "w") as f:
        f.write(f"# libFuzzer dictionary for {target}; written by tools/make_dicts.py\n")
        f.write("\n".join(lines) + "\n")


manifest_words = schema_words(os.path.join(ROOT, "schemas", "vapp.schema.json"))
plan_words = schema_words(os.path.join(ROOT, "schemas", "plan.schema.json"))
ncco_words = schema_words(os.path.join(ROOT, "schemas", "ncco-schema.json"))
state_words = json_keys(os.path.join(FUZZ, "seeds", "state")) | {
    "managed", "external", "unknown", "private_key_encrypted", "pending_key", "rotate_requested",
    "encryption", "argon2id", "aes-256-gcm", "vapp-state", "api_key", "api_url", "sandbox"}
write("manifest", manifest_words, YAML_SYNTAX)
write("state", state_words | manifest_words, JSON_SYNTAX)
write("saved_plan", plan_words | manifest_words | {"vapp-plan"}, JSON_SYNTAX)
write("ncco", ncco_words | {"action", "https://example.com/", "wss://", "sip:", "447700900000"}, JSON_SYNTAX)
write("policy", plan_words | {"msg", "address", "account", "action", "labels", "owner", "kind", "primary",
                          "subaccount", "existing", "https://", "http_method"}, REGO_SYNTAX)
write("emulator_request", manifest_words | {"public_key", "private_key", "id", "_links", "href"},
      JSON_SYNTAX + HTTP)

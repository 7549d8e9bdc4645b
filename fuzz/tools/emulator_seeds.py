#!/usr/bin/env python3
"""Writes fuzz/seeds/emulator_request/: requests in the layout fuzz_targets/emulator_request.rs reads,
with bodies taken from tests/integration/client.rs and emulator.rs. Run from anywhere."""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seeds", "emulator_request")
GET, POST, PUT, DELETE, PATCH = 0, 1, 2, 3, 4
AUTH_OK = 0x0F  # low nibble >= 6: the right credentials
JSON, FORM, TEXT, NO_CT = 0x00, 0xB0, 0xD0, 0xF0
# Indexes into NUMBERS in the target: "1", "2", "3", "10", "100", "101", "0", "-1", "abc", ...
N = {"1": 0, "2": 1, "3": 2, "10": 3, "100": 4, "101": 5, "0": 6, "-1": 7, "abc": 8, "2^64": 9}

EVERY = {"name": "Everything", "capabilities": {
    "voice": {"webhooks": {"answer_url": {"address": "https://e.example.com/answer", "http_method": "GET", "connect_timeout": 500, "socket_timeout": 3000},
                           "fallback_answer_url": {"address": "https://e.example.com/fallback", "http_method": "POST"},
                           "event_url": {"address": "https://e.example.com/event", "http_method": "POST", "socket_timeout": 9000}},
              "signed_callbacks": False, "conversations_ttl": 100, "leg_persistence_time": 10, "region": "apac-australia"},
    "messages": {"webhooks": {"inbound_url": {"address": "https://e.example.com/in", "http_method": "POST"},
                              "status_url": {"address": "https://e.example.com/status", "http_method": "POST"}},
                 "version": "v0.1", "authenticate_inbound_media": True},
    "rtc": {"webhooks": {"event_url": {"address": "https://e.example.com/rtc", "http_method": "GET"}}, "signed_callbacks": True},
    "vbc": {},
    "verify": {"webhooks": {"status_url": {"address": "https://e.example.com/verify", "http_method": "POST"}}, "version": "v2"},
    "meetings": {"webhooks": {"room_changed": {"address": "https://e.example.com/room", "http_method": "POST"},
                              "session_changed": {"address": "https://e.example.com/session", "http_method": "POST"},
                              "recording_changed": {"address": "https://e.example.com/rec", "http_method": "POST"}}},
    "network_apis": {"network_application_id": "net-1", "redirect_uri": "https://e.example.com/cb"},
    "video": {"webhooks": {"archive_status": {"address": "https://e.example.com/a", "active": True},
                           "sip_call_mute_forced": {"address": "https://e.example.com/m", "active": False}},
              "storage": {"server_side_encryption": True, "end_to_end_encryption": False, "cloud_storage": True}}},
    "privacy": {"improve_ai": False}}
INVALID = [
    {},
    {"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "http_method": "PUT"}}}}},
    {"name": "x", "capabilities": {"messages": {"webhooks": {"inbound_url": {"address": "https://a/", "http_method": "GET"}}}}},
    {"name": "x", "capabilities": {"verify": {"webhooks": {"status_url": {"address": "https://a/", "http_method": "GET"}}}}},
    {"name": "x", "capabilities": {"meetings": {"webhooks": {"session_changed": {"address": "https://a/", "http_method": "GET"}}}}},
    {"name": "x", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://a/", "connect_timeout": 299, "socket_timeout": 5001},
                                                          "event_url": {"address": "https://a/", "socket_timeout": 10001}}}}},
    {"name": "x", "capabilities": {"voice": {"conversations_ttl": 9001, "leg_persistence_time": 0}}},
    {"name": "x", "capabilities": {"voice": {"region": "mars"}}},
    {"name": "x", "capabilities": {"vbc": {"enabled": True}}},
    {"name": "x", "capabilities": {"rtc": {"webhooks": {"event_url": {"address": "example.com/rtc"}}}}},
    {"name": "x", "capabilities": {"voice": {"conversations_ttl": "soon"}}},
    {"name": "x", "keys": {"public_key": "not a key"}},
    {"capabilities": {"voice": {"region": "mars"}}},
    {"name": "", "capabilities": {"voice": {"region": "x"}}},
]
GOLDEN = {"name": "Golden", "capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://g.example.com/a"}}}, "vbc": {}}}
GOLDEN_2 = {"name": "Golden 2", "capabilities": {"messages": {}}}
BYOK = {"name": "Byok", "capabilities": {"voice": {}, "messages": {}}}


def seed(name, method, path, auth=AUTH_OK, ct=JSON, accept=0, suffix=b"", body=b"", app=0, size="1", page="1"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    assert len(suffix) < 32, "the target appends at most 31 bytes"
    page_index = N[page]
    head = bytes([
        method,
        (app << 4) | path,
        ct | auth,
        ((page_index >> 3) << 7) | (N[size] << 3) | accept,
        ((page_index & 7) << 5) | len(suffix),
    ])
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(head + suffix + body)


os.makedirs(OUT, exist_ok=True)
seed("post-golden", POST, 0, body=GOLDEN)
seed("post-every-capability", POST, 0, body=EVERY)
seed("post-byok-defaults", POST, 0, body=BYOK)
for i, b in enumerate(INVALID):
    seed(f"post-invalid-{i:02}", POST, 0, body=b)
seed("post-not-json", POST, 0, body=b"{name")
seed("post-text-plain", POST, 0, ct=TEXT, body=b"name=x")
seed("post-form", POST, 1, ct=FORM, body=b"name=x")
seed("get-one", GET, 2)
seed("get-second", GET, 3, app=1)
seed("get-unknown", GET, 4, app=3)
seed("get-dot-dot", GET, 2, app=3, suffix=b"/../nope")
seed("put-golden-2", PUT, 2, body=GOLDEN_2)
seed("put-every-capability", PUT, 3, app=2, body=EVERY)
seed("put-invalid", PUT, 2, body=INVALID[7])
seed("put-unmodelled-fields", PUT, 3, app=1, body={
    "name": "Kept fields", "capabilities": {"voice": {"webhooks": {}, "payments": {"gateways": [], "fee": 0.25}}},
    "future_field": {"count": 12345678901234567890, "ratio": 0.000125}})
seed("delete-one", DELETE, 2)
seed("delete-unknown", DELETE, 4, app=3)
seed("patch-list", PATCH, 0)
seed("post-to-an-id", POST, 2, body={"name": "x"})
seed("list-default", GET, 0)
seed("list-page-size-3-page-2", GET, 5, size="3", page="2")
seed("list-page-size-101", GET, 5, size="101")
seed("list-page-beyond", GET, 5, size="100", page="2^64")
seed("list-page-0", GET, 13, suffix=b"page=0")
seed("list-garbage-query", GET, 13, suffix=b"page_size=abc&page=%FF")
seed("list-unauthenticated", GET, 0, auth=0)
seed("list-wrong-secret", GET, 0, auth=1)
seed("list-accept-html", GET, 0, accept=3)
seed("list-accept-any", GET, 0, accept=1)
seed("elsewhere", GET, 15, suffix=b"v1/other")
seed("numbers-of-an-app", GET, 7, size="10", page="1")
seed("numbers-all", GET, 8)
seed("numbers-filtered", GET, 8, suffix=b"?has_application=false&size=5")
seed("numbers-query-auth", GET, 9, auth=0)
# --seed-numbers makes 447700900001, 447700900002, ...; app_id is the first seeded application.
seed("number-link-form", POST, 11, ct=FORM, body=b"country=GB&msisdn=447700900001&voiceCallbackType=app")
seed("number-unlink-form", POST, 10, ct=FORM, body=b"country=GB&msisdn=447700900001")
seed("number-update-unknown", POST, 10, ct=FORM,
     body=b"country=GB&msisdn=447700900000&app_id=00000000-0000-4000-8000-000000000000")
seed("number-update-json", POST, 11, body={"country": "GB", "msisdn": "447700900001"})

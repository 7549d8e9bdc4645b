//! `--seed-apps N`: an account that already holds N varied, dashboard-made applications.
//!
//! Seeded applications share a few fixed public keys (their private halves were never kept): making
//! thousands of RSA keys would take minutes, and nothing may hold a seeded application's private key.

use serde_json::json;

use crate::model::{defaults, Application};

pub const SEED_PUBLIC_KEYS: [&str; 3] = [
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3pOe5eViCMrkt4Ez4+lg\ns5GuYPT8KzE4dNs73K778i9lTosFA9d3CUYl71N8EvvMRcYIEy3QxtVvA1kOkpNK\nH+oCYUdNLcLjNPwSFVvq5SZhUqCwp3aQ8AyQC8MrGPhqhKgAP3Acq58DPI+etWkU\noS74eREpJ+xgHSMR9XLDVOXwUoVYD+5BEtH+HQDa8yKhwoO7vsRdsJQcM/IQ4Adg\nv5ifYpNyxi8cxCWW+kzauby1uEhruBb4/tQHQPM+h6hU1I/vkTzNM92YgFiyqUvG\naI8srg9y//DZY1xUevIOT25W0+m3lxN3byIMp2h5d3DlEVnxcN/++Mntju0zG6/8\nqwIDAQAB\n-----END PUBLIC KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApBbM3XHMQrS1BMOTLjqM\nyNkQQdvTKA+b62IGgrw3KY/k8qrK/AkQXMf9RuenNk5d4+C1kdmSnm3fnHnGZQ6w\nmotiCEPOUFRfCckOpi4Nk4yzhduqtdYPTlonWypzW9mLYQR2Cs0YgX57gAyPuNAs\nij29c3J6kIr4PzhgzqMEOEX9Femt8S8Lqtr6giLhXqjpUqoXMLV7VniHRxq3tKae\ncbNvvcHiNo4NBQyZEzZ1MQbN2wyJLyIDSyVjXITTgQG5joM+brePbxHvHDxqVJ71\nhUk2fFgJ2syiKZ6Ka0XADylzKltb+Np0gsJ0xzXYgIEVUfqiqalpNMqLQnTcr5JI\nXQIDAQAB\n-----END PUBLIC KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuU0hanISUtOv3cksITa6\nPsTLjQ+gVs2Y5e7hohDz+1MbZF9L6wFVGsad+TnTWZGEDvwqw5iAk0cAqQAY8oDD\nczDATZuurRphstOwrsz+dQ/OkW2lvNts3qW4YLrRRZ+B+LaMdOfHsn4V7pzVJ4dT\nUpqttvEacT0U86vjqJIFa2wXaQzvc4eG/zRdLKJ+xLFnC6xAi8lQxZS/JKaK4sw/\nLi3m5NCB/V4gVOZcXq1n1x+pCbx5KhXlbSZgGIuYtTALrlrJcLbPv6S021WhFPLL\nYbWG7q+7h9hCrwfXCTHH70LrW9xkUmatzU38SJAEbq1aYvduYXZOVinMM1wwhwY5\nPQIDAQAB\n-----END PUBLIC KEY-----\n",
];

/// The `index`-th seeded application (from 0); ids are random, shapes cycle through every capability.
pub fn seeded_application(index: usize) -> Application {
    let n = index + 1;
    let host = format!("https://seed{n}.example.com");
    let capabilities = match index % 8 {
        0 => json!({"voice": {"webhooks": {"answer_url": {"address": format!("{host}/answer"), "http_method": "GET"},
                                           "event_url": {"address": format!("{host}/event"), "http_method": "POST"}}}}),
        1 => {
            json!({"messages": {"webhooks": {"inbound_url": {"address": format!("{host}/inbound"), "http_method": "POST"},
                                              "status_url": {"address": format!("{host}/status"), "http_method": "POST"}}}})
        }
        2 => json!({"rtc": {"webhooks": {"event_url": {"address": format!("{host}/rtc"), "http_method": "POST"}}},
                    "voice": {"webhooks": {"answer_url": {"address": format!("{host}/answer"), "http_method": "GET"}},
                              "region": "eu-west"}}),
        3 => {
            json!({"vbc": {}, "verify": {"webhooks": {"status_url": {"address": format!("{host}/verify"), "http_method": "POST"}}}})
        }
        4 => json!({"video": {"webhooks": {"archive_status": {"address": format!("{host}/archive"), "active": true}},
                              "storage": {"server_side_encryption": false, "end_to_end_encryption": false, "cloud_storage": false}}}),
        5 => {
            json!({"meetings": {"webhooks": {"room_changed": {"address": format!("{host}/room"), "http_method": "POST"}}}})
        }
        6 => {
            json!({"network_apis": {"network_application_id": format!("seed-network-{n}"), "redirect_uri": format!("{host}/callback")}})
        }
        _ => json!({"voice": {"webhooks": {}, "payment_enabled": false, "payments": {"gateways": []}}}),
    };
    let app = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "name": format!("Seed app {n}"),
        "keys": {"public_key": SEED_PUBLIC_KEYS[index % SEED_PUBLIC_KEYS.len()]},
        "capabilities": capabilities,
        "privacy": {"improve_ai": index % 3 != 0},
    });
    let mut app: Application = serde_json::from_value(app).unwrap_or_default();
    defaults::fill_in_place(&mut app);
    super::account::answer_only_fields(&mut app);
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rules;

    #[test]
    fn seeds_are_valid_and_varied() {
        let apps: Vec<_> = (0..16).map(seeded_application).collect();
        for app in &apps {
            assert!(!app.name.is_empty());
            assert!(rules::validate(app).is_empty(), "{:?}", rules::validate(app));
            assert!(crate::keys::fingerprint(app.public_key().unwrap()).is_ok());
        }
        assert!(apps[7].capabilities.as_ref().unwrap().voice.as_ref().unwrap().extra.contains_key("payments"));
        assert_ne!(apps[0].id, apps[8].id);
    }
}

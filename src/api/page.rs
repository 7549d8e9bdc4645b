//! One page of `GET /v2/applications`: the HAL shape the API sends, which the emulator writes and the
//! client reads, so the two cannot disagree about it.
//!
//! Every count is optional on read: the official SDKs' fixtures show pages without `total_pages`, and
//! vapp must read those completely (by following `_links.next`).

use serde::{Deserialize, Serialize};

use crate::model::Application;

/// A page of `A`s: applications as the emulator writes them, or each one's raw JSON as the client
/// reads them (to read only as much of each as it needs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPage<A = Application> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
    #[serde(rename = "_embedded", default = "Embedded::empty", bound(deserialize = "A: Deserialize<'de>"))]
    pub embedded: Embedded<A>,
    #[serde(rename = "_links", default)]
    pub links: Links,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Embedded<A = Application> {
    #[serde(default = "Vec::new", bound(deserialize = "A: Deserialize<'de>"))]
    pub applications: Vec<A>,
}

impl<A> Embedded<A> {
    fn empty() -> Self {
        Embedded { applications: Vec::new() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub this: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
}

impl Link {
    pub fn new(href: impl Into<String>) -> Self {
        Link { href: href.into() }
    }
}

/// An application's own link, as every answer that shows one carries it.
pub fn self_link(id: &str) -> Links {
    Links { this: Some(Link::new(format!("/v2/applications/{id}"))), ..Default::default() }
}

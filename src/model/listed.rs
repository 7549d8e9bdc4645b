//! An account's applications as a plan holds them: whole where a plan may depend on their content,
//! as a glimpse (id, name, key) elsewhere. An account of ten thousand applications listed whole took
//! 3.3 KB an application; a plan reads only the glimpse of those vapp does not manage.

use std::collections::HashSet;

use super::{AppId, Application, Fingerprint};

/// One listed application.
#[derive(Clone, Debug, PartialEq)]
pub enum Listed {
    /// Boxed: most of a large account is glimpses, and a glimpse is a fifth of an application's size.
    Whole(Box<Whole>),
    Glimpse(Glimpse),
}

/// An application kept whole, with its key's fingerprint (worked out where its page is read, on
/// another core while the next pages arrive: a plan compares every managed application's key).
#[derive(Clone, Debug, PartialEq)]
pub struct Whole {
    pub app: Application,
    pub fingerprint: Option<Fingerprint>,
}

/// What tells an application apart: enough to name it, and to recognise a create by its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glimpse {
    pub id: AppId,
    pub name: String,
    pub public_key: Option<String>,
}

/// Which listed applications are kept whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every one (a create whose answer was lost may be any of them).
    Everything,
    /// These (the state's).
    Only(HashSet<AppId>),
}

/// The little of an application's JSON a glimpse needs: the rest is skipped, not read.
#[derive(serde::Deserialize)]
struct Peek {
    id: Option<AppId>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    keys: Option<PeekKeys>,
}

#[derive(serde::Deserialize)]
struct PeekKeys {
    #[serde(default)]
    public_key: Option<String>,
}

impl Keep {
    /// An application's JSON as a plan holds it: read whole only where it is kept whole (reading an
    /// application whole costs several times reading its glimpse).
    pub fn read(&self, json: &str) -> Result<Listed, serde_json::Error> {
        let peek: Peek = serde_json::from_str(json)?;
        match (self, peek.id) {
            (Keep::Only(ids), Some(id)) if !ids.contains(&id) => {
                let public_key = peek.keys.and_then(|k| k.public_key);
                Ok(Listed::Glimpse(Glimpse { id, name: peek.name, public_key }))
            }
            _ => Ok(self.listed(serde_json::from_str(json)?)),
        }
    }

    /// `app` as a plan holds it.
    pub fn listed(&self, app: Application) -> Listed {
        match (self, app.id.clone()) {
            (Keep::Only(ids), Some(id)) if !ids.contains(&id) => {
                Listed::Glimpse(Glimpse { public_key: app.public_key().map(str::to_string), name: app.name, id })
            }
            _ => {
                let fingerprint = app.public_key().and_then(|pem| crate::keys::fingerprint(pem).ok());
                Listed::Whole(Box::new(Whole { app, fingerprint }))
            }
        }
    }
}

impl Keep {
    /// These too (the applications the manifests import, say).
    pub fn and<'a>(self, more: impl IntoIterator<Item = &'a AppId>) -> Keep {
        match self {
            Keep::Everything => Keep::Everything,
            Keep::Only(mut ids) => {
                ids.extend(more.into_iter().cloned());
                Keep::Only(ids)
            }
        }
    }

    /// Whether `id` is kept whole.
    pub fn keeps(&self, id: &AppId) -> bool {
        match self {
            Keep::Everything => true,
            Keep::Only(ids) => ids.contains(id),
        }
    }

    /// `apps` as a plan holds them.
    pub fn list(&self, apps: Vec<Application>) -> Vec<Listed> {
        apps.into_iter().map(|app| self.listed(app)).collect()
    }
}

impl Listed {
    pub fn id(&self) -> Option<&AppId> {
        match self {
            Listed::Whole(whole) => whole.app.id.as_ref(),
            Listed::Glimpse(glimpse) => Some(&glimpse.id),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Listed::Whole(whole) => &whole.app.name,
            Listed::Glimpse(glimpse) => &glimpse.name,
        }
    }

    pub fn public_key(&self) -> Option<&str> {
        match self {
            Listed::Whole(whole) => whole.app.public_key(),
            Listed::Glimpse(glimpse) => glimpse.public_key.as_deref(),
        }
    }

    /// The whole application, where it was kept whole.
    pub fn whole(&self) -> Option<&Application> {
        self.kept().map(|whole| &whole.app)
    }

    /// The application and its key's fingerprint, where it was kept whole.
    pub fn kept(&self) -> Option<&Whole> {
        match self {
            Listed::Whole(whole) => Some(whole),
            Listed::Glimpse(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_plan_may_depend_on_is_kept_whole() {
        let app = |id: &str| -> Application {
            serde_json::from_value(serde_json::json!({"id": id, "name": id, "keys": {"public_key": "K"},
                "capabilities": {"vbc": {}}}))
            .unwrap()
        };
        let keep = Keep::Only([AppId::new("managed")].into());
        assert!(keep.listed(app("managed")).whole().is_some());
        let other = keep.listed(app("other"));
        assert_eq!((other.whole(), other.name(), other.public_key()), (None, "other", Some("K")));
        assert_eq!(other.id(), Some(&AppId::new("other")));
        assert!(Keep::Everything.listed(app("other")).whole().is_some());
        let json = serde_json::to_string(&app("other")).unwrap();
        assert_eq!(keep.read(&json).unwrap(), other, "read from JSON, the same");
        assert_eq!(Keep::Everything.read(&json).unwrap(), Keep::Everything.listed(app("other")));
    }
}

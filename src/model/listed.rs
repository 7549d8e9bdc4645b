//! An account's applications as a plan holds them: whole where a plan may depend on their content,
//! as a glimpse (id, name, key) elsewhere. An account of ten thousand applications listed whole took
//! 3.3 KB an application; a plan reads only the glimpse of those vapp does not manage.

use std::collections::HashSet;

use super::{AppId, Application};

/// One listed application.
#[derive(Clone, Debug, PartialEq)]
pub enum Listed {
    /// Boxed: most of a large account is glimpses, and a glimpse is a fifth of an application's size.
    Whole(Box<Application>),
    Glimpse(Glimpse),
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

impl Keep {
    /// `app` as a plan holds it.
    pub fn listed(&self, app: Application) -> Listed {
        match (self, app.id.clone()) {
            (Keep::Only(ids), Some(id)) if !ids.contains(&id) => {
                Listed::Glimpse(Glimpse { public_key: app.public_key().map(str::to_string), name: app.name, id })
            }
            _ => Listed::Whole(Box::new(app)),
        }
    }
}

impl Keep {
    /// `apps` as a plan holds them.
    pub fn list(&self, apps: Vec<Application>) -> Vec<Listed> {
        apps.into_iter().map(|app| self.listed(app)).collect()
    }
}

impl Listed {
    pub fn id(&self) -> Option<&AppId> {
        match self {
            Listed::Whole(app) => app.id.as_ref(),
            Listed::Glimpse(glimpse) => Some(&glimpse.id),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Listed::Whole(app) => &app.name,
            Listed::Glimpse(glimpse) => &glimpse.name,
        }
    }

    pub fn public_key(&self) -> Option<&str> {
        match self {
            Listed::Whole(app) => app.public_key(),
            Listed::Glimpse(glimpse) => glimpse.public_key.as_deref(),
        }
    }

    /// The whole application, where it was kept whole.
    pub fn whole(&self) -> Option<&Application> {
        match self {
            Listed::Whole(app) => Some(app),
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
    }
}

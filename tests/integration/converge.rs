//! The design's promise, as a property: for generated manifests, states and accounts (rotation, your
//! own keys, adoption of lost creates, recreates, protection, targets, numbers linked, moved and
//! taken over, and changes made outside vapp),
//! the real planner and the real executor, run against the emulator's account in this process (no
//! HTTP), converge in one apply: planning again shows nothing, no application is duplicated, and every
//! managed key is the one the account has.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use vapp::api::numbers::{NumberFilter, NumberUpdate, NumbersApi, OwnedNumber};
use vapp::api::{ApplicationApi, RetryPolicy};
use vapp::apply::{Cancel, Executor, KeySource};
use vapp::emulator::{InProcess, SEED_PUBLIC_KEYS};
use vapp::keys::{KeyError, KeyPair};
use vapp::manifest::{load_sources, resolve_key_files, Desired, Source};
use vapp::model::{Address, AppId, Application, Msisdn, Number};
use vapp::plan::{plan, PlanInput};
use vapp::state::{Intent, KeyRecord, State, StateStore};

use crate::harness::{key_pool, Quiet, KEY_POOL_SIZE};

/// Keys from the pool, each once per case: pairs made by "vapp" from the front, files brought by the
/// user ("your own key") from the back.
struct PoolKeys(AtomicUsize);

impl KeySource for PoolKeys {
    fn generate(&self) -> Result<KeyPair, KeyError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        assert!(n < BYO_KEYS_FROM, "the key pool ran out");
        Ok(key_pool()[n].clone())
    }
}

const BYO_KEYS_FROM: usize = KEY_POOL_SIZE - 5;

#[derive(Clone, Debug)]
struct AppSpec {
    name: String,
    answer: Option<String>,
    vbc: bool,
    rotation: u32,
    own_key: bool,
    protect: bool,
    /// Indexes into the account's [`NUMBERS`] numbers (a number another app lists first is left out).
    numbers: Vec<usize>,
}

/// How many numbers the account owns: the last is linked to a dashboard application at the start.
const NUMBERS: usize = 6;

fn msisdn(i: usize) -> Msisdn {
    vapp::emulator::seeded_number(i).shown.msisdn
}

/// Something done to the account or the state between the two applies.
#[derive(Clone, Debug)]
enum Mess {
    /// Deleted in the dashboard: recreated if still wanted.
    DeleteLive(usize),
    /// The create's answer was lost: found again by its key (adopt).
    LoseCreateAnswer(usize),
    /// The create never landed and its answer was lost: sent again after a look.
    LoseCreateEntirely(usize),
    RequestRotation(usize),
    /// The key regenerated in the dashboard: custody taken back.
    ReplaceLiveKey(usize),
    /// Renamed in the dashboard: drift, put back.
    RenameLive(usize),
    /// A number linked to an application by hand: drift, put back.
    LinkByHand {
        number: usize,
        app: usize,
    },
    /// A number unlinked by hand: drift, put back.
    UnlinkByHand(usize),
}

fn app_spec() -> impl Strategy<Value = AppSpec> {
    (
        "[A-Z][a-z]{0,6}",
        proptest::option::of("[a-z]{1,5}"),
        any::<bool>(),
        0u32..3,
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.2),
        proptest::collection::vec(0..NUMBERS, 0..3),
    )
        .prop_map(|(name, answer, vbc, rotation, own_key, protect, numbers)| AppSpec {
            name,
            answer: answer.map(|h| format!("https://{h}.example.com/answer")),
            vbc,
            rotation: if own_key { 0 } else { rotation },
            own_key,
            protect,
            numbers,
        })
}

fn mess() -> impl Strategy<Value = Mess> {
    (0usize..5, 0u8..8, 0..NUMBERS).prop_map(|(i, kind, number)| match kind {
        0 => Mess::DeleteLive(i),
        1 => Mess::LoseCreateAnswer(i),
        2 => Mess::LoseCreateEntirely(i),
        3 => Mess::RequestRotation(i),
        4 => Mess::ReplaceLiveKey(i),
        5 => Mess::RenameLive(i),
        6 => Mess::LinkByHand { number, app: i },
        _ => Mess::UnlinkByHand(number),
    })
}

/// A manifest of `apps` at addresses `app-0`, `app-1`, … (a `None` leaves the address out).
fn manifest(apps: &[Option<AppSpec>]) -> Desired {
    let named: Vec<(String, usize, &AppSpec)> =
        apps.iter().enumerate().filter_map(|(i, app)| Some((format!("app-{i}"), i, app.as_ref()?))).collect();
    manifest_named(&named, "")
}

/// A manifest of `apps` at the addresses given (each with the index its key file is named by), and
/// `extra` top-level entries (`moved:`, `import:`).
fn manifest_named(apps: &[(String, usize, &AppSpec)], extra: &str) -> Desired {
    let mut text = format!("version: 1\n{extra}applications:\n");
    let mut any = false;
    let mut listed = std::collections::BTreeSet::new();
    for (address, i, app) in apps {
        let i = *i;
        any = true;
        let numbers: Vec<Msisdn> = app.numbers.iter().filter(|n| listed.insert(**n)).map(|n| msisdn(*n)).collect();
        if !numbers.is_empty() {
            text.push_str(&format!("  # numbers of {address}\n"));
        }
        text.push_str(&format!("  {address}:\n    name: {}\n    protect: {}\n", app.name, app.protect));
        text.push_str("    capabilities:\n");
        match &app.answer {
            Some(url) => text.push_str(&format!("      voice:\n        webhooks:\n          answer_url: {url}\n")),
            None => text.push_str("      rtc: {}\n"),
        }
        if app.vbc {
            text.push_str("      vbc: {}\n");
        }
        if app.own_key {
            text.push_str(&format!("    keys: {{ public_key_file: key-{i}.pub }}\n"));
        } else if app.rotation > 0 {
            text.push_str(&format!("    keys: {{ rotation: {} }}\n", app.rotation));
        }
        if !numbers.is_empty() {
            text.push_str(&format!("    numbers: {numbers:?}\n"));
        }
    }
    if !any {
        text.push_str("  {}\n");
    }
    let mut desired = load_sources(&[Source { path: "apps.yaml".into(), text: text.clone() }], &|_| None)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    resolve_key_files(&mut desired, &|path: &Path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let i: usize = name.trim_start_matches("key-").trim_end_matches(".pub").parse().unwrap();
        Ok(key_pool()[BYO_KEYS_FROM + i].public_key.clone())
    })
    .unwrap();
    desired
}

/// The in-process account, losing a share of answers after carrying the call out (as a dropped
/// connection does): the executor must resolve each one without a duplicate or a lost key.
struct Lossy {
    inner: InProcess,
    /// Out of 100, how many answers are lost; 0 for none.
    loss_percent: std::sync::atomic::AtomicU32,
    dice: std::sync::Mutex<u64>,
}

impl Lossy {
    fn set_loss(&self, percent: u32) {
        self.loss_percent.store(percent, Ordering::SeqCst);
    }

    fn lost(&self) -> bool {
        let mut state = self.dice.lock().unwrap();
        // xorshift: reproducible for a proptest seed.
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state % 100) < u64::from(self.loss_percent.load(Ordering::SeqCst))
    }

    fn answer<T>(&self, result: Result<T, vapp::api::ApiError>) -> Result<T, vapp::api::ApiError> {
        if result.is_ok() && self.lost() {
            return Err(vapp::api::ApiError::Transport {
                url: "in-process".into(),
                maybe_sent: true,
                source: "the answer was lost".into(),
            });
        }
        result
    }
}

impl ApplicationApi for Lossy {
    async fn list_all(&self) -> Result<Vec<Application>, vapp::api::ApiError> {
        self.inner.list_all().await
    }
    async fn get(&self, id: &vapp::model::AppId) -> Result<Application, vapp::api::ApiError> {
        self.inner.get(id).await
    }
    async fn create(&self, app: &Application) -> Result<Application, vapp::api::ApiError> {
        let result = self.inner.create(app).await;
        self.answer(result)
    }
    async fn update(&self, id: &vapp::model::AppId, app: &Application) -> Result<Application, vapp::api::ApiError> {
        let result = self.inner.update(id, app).await;
        self.answer(result)
    }
    async fn delete(&self, id: &vapp::model::AppId) -> Result<(), vapp::api::ApiError> {
        let result = self.inner.delete(id).await;
        self.answer(result)
    }
}

impl NumbersApi for Lossy {
    async fn list_numbers(&self, filter: &NumberFilter) -> Result<Vec<OwnedNumber>, vapp::api::ApiError> {
        self.inner.list_numbers(filter).await
    }
    async fn update_number(&self, update: &NumberUpdate) -> Result<(), vapp::api::ApiError> {
        let result = self.inner.update_number(update).await;
        self.answer(result)
    }
}

struct World {
    api: Lossy,
    store: StateStore,
    keys: Arc<PoolKeys>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(loss_percent: u32, seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::at_path(dir.path().join("vapp.state.json"), State::new("converge".into()));
        let inner = InProcess::default();
        // Two dashboard applications nobody manages: never touched.
        let dashboard: Vec<Application> = (0..2).map(vapp::emulator::seeded_application).collect();
        let dashboard_id = dashboard[0].id.clone();
        inner.insert(dashboard).await.unwrap();
        let mut numbers: Vec<OwnedNumber> = (0..NUMBERS).map(|i| vapp::emulator::seeded_number(i).shown).collect();
        // Settings of the number's own, which every link must keep; and one number to take over.
        numbers[0].mo_http_url = Some("https://sms.example.com/inbound".into());
        numbers[NUMBERS - 1].app_id = dashboard_id;
        inner.own_numbers(numbers).await.unwrap();
        let api = Lossy { inner, loss_percent: loss_percent.into(), dice: std::sync::Mutex::new(seed | 1) };
        World { api, store, keys: Arc::new(PoolKeys(AtomicUsize::new(0))), _dir: dir }
    }

    async fn apply(&self, desired: &Desired, targets: &[Address]) -> vapp::plan::Plan {
        let report = self.try_apply(desired, targets).await;
        let failures: Vec<_> = report.1.failures().map(|o| format!("{}: {:?}", o.address, o.result)).collect();
        assert!(failures.is_empty(), "{failures:?}");
        report.0
    }

    /// Plans, saves the plan and reads it back (as `plan -o` and `apply FILE` do), and executes it.
    async fn try_apply(&self, desired: &Desired, targets: &[Address]) -> (vapp::plan::Plan, vapp::apply::Report) {
        let live = self.api.list_all().await.unwrap();
        let numbers: Vec<Number> =
            self.api.list_numbers(&NumberFilter::default()).await.unwrap().iter().map(OwnedNumber::summary).collect();
        let state = self.store.snapshot();
        // As the listing hands them to a plan: whole where the state names them.
        // (The binary reads the applications the manifests import whole, as this does.)
        let imported = desired.refactoring.imports.iter().map(|i| &i.id);
        let live = vapp::plan::listing_keeps(Some(&state)).and(imported).list(live);
        let made = plan(&PlanInput { desired, state: Some(&state), live: &live, targets, numbers: &numbers }).unwrap();
        let saved = serde_json::to_vec(&vapp::plan::SavedPlan::new(made.clone(), &live)).unwrap();
        let made = vapp::plan::SavedPlan::from_slice(&saved).unwrap();
        assert_eq!(made.staleness(Some(&state), &live, &numbers), None);
        let made = made.plan;
        let cancel = Cancel::default();
        let executor = Executor {
            api: &self.api,
            numbers: &self.api,
            store: &self.store,
            keys: self.keys.clone(),
            parallelism: 4,
            progress: &Quiet,
            cancel: &cancel,
            retry: RetryPolicy { max_attempts: 1, ..Default::default() },
            settle: Duration::ZERO,
            slots: None,
        };
        let report = executor.execute(&made).await;
        (made, report)
    }

    async fn mess(&self, mess: &Mess) {
        let address = |i: &usize| Address::new(format!("app-{i}"));
        let state = self.store.snapshot();
        let entry = |i: &usize| state.applications.get(&address(i)).cloned();
        match mess {
            Mess::DeleteLive(i) => {
                if let Some(id) = entry(i).and_then(|e| e.id) {
                    let _ = self.api.delete(&id).await;
                }
            }
            Mess::LoseCreateAnswer(i) | Mess::LoseCreateEntirely(i) => {
                let Some(e) = entry(i) else { return };
                let (Some(id), Some(fingerprint)) = (e.id.clone(), e.key.fingerprint()) else { return };
                let Ok(live) = self.api.get(&id).await else { return };
                // Only a create that sent the key the application has can have lost its answer.
                let live_fingerprint = live.public_key().and_then(|pem| vapp::keys::fingerprint(pem).ok());
                if live_fingerprint.as_ref() != Some(fingerprint) {
                    return;
                }
                if matches!(mess, Mess::LoseCreateEntirely(_)) {
                    self.api.delete(&id).await.unwrap();
                }
                let intent = Intent::Create { fingerprint: Some(fingerprint.clone()), name: Some(live.name) };
                self.store
                    .commit(|s| {
                        let entry = s.applications.get_mut(&address(i)).unwrap();
                        entry.id = None;
                        entry.applied = None;
                        entry.intent = Some(intent);
                    })
                    .await
                    .unwrap();
            }
            Mess::RequestRotation(i) => {
                if entry(i).is_some_and(|e| e.key.is_managed()) {
                    self.store
                        .commit(|s| s.applications.get_mut(&address(i)).unwrap().rotate_requested = true)
                        .await
                        .unwrap();
                }
            }
            Mess::ReplaceLiveKey(i) | Mess::RenameLive(i) => {
                let Some(id) = entry(i).and_then(|e| e.id) else { return };
                let Ok(mut live) = self.api.get(&id).await else { return };
                match mess {
                    Mess::ReplaceLiveKey(_) => {
                        live.keys = Some(vapp::model::Keys {
                            public_key: Some(SEED_PUBLIC_KEYS[2].into()),
                            ..Default::default()
                        })
                    }
                    _ => live.name = format!("{} (renamed by hand)", live.name),
                }
                self.api.update(&id, &live).await.unwrap();
            }
            Mess::LinkByHand { number, app } => {
                let Some(id) = entry(app).and_then(|e| e.id) else { return };
                self.route_by_hand(*number, Some(&id)).await;
            }
            Mess::UnlinkByHand(number) => self.route_by_hand(*number, None).await,
        }
    }

    async fn route_by_hand(&self, number: usize, app_id: Option<&AppId>) {
        let Some(now) = self.api.inner.find_number(&msisdn(number)).await.unwrap() else { return };
        // An application deleted in the dashboard is an unknown app_id: refused, as by the API.
        let _ = self.api.inner.update_number(&NumberUpdate::route(&now, app_id)).await;
    }

    /// Every live application's id and public key.
    async fn live_keys(&self) -> BTreeMap<String, String> {
        let live = self.api.list_all().await.unwrap();
        live.iter()
            .map(|a| (a.id.clone().unwrap().into_string(), a.public_key().unwrap_or_default().to_string()))
            .collect()
    }

    /// No duplicates, every managed application present, every key in custody the live one (for the
    /// addresses the manifest wants: a protected application it left is kept as it is).
    async fn check_invariants(&self, desired: &Desired) {
        let live: Vec<Application> = self.api.list_all().await.unwrap();
        let state = self.store.snapshot();
        let mut ids: Vec<&AppId> = state.applications.values().filter_map(|e| e.id.as_ref()).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "two addresses manage one application");
        assert_eq!(live.len(), 2 + ids.len(), "an application nobody manages was left behind, or one is missing");
        for (address, entry) in &state.applications {
            let id = entry.id.as_ref().unwrap_or_else(|| panic!("{address}: a create left unresolved"));
            if !desired.apps.contains_key(address) {
                assert!(entry.protect, "{address}: left the manifest but kept");
                continue;
            }
            let app = live.iter().find(|a| a.id.as_ref() == Some(id)).unwrap_or_else(|| panic!("{address}: {id} gone"));
            let live_fingerprint = vapp::keys::fingerprint(app.public_key().unwrap()).unwrap();
            assert_eq!(entry.key.fingerprint(), Some(&live_fingerprint), "{address}: custody broken");
            if let KeyRecord::Managed { .. } = &entry.key {
                let pair = entry.key.private_key().unwrap();
                assert_eq!(vapp::keys::fingerprint(&pair.public_key_pem().unwrap()).unwrap(), live_fingerprint);
            }
            assert!(entry.intent.is_none() && entry.pending_key.is_none(), "{address}: left mid-call");
        }
        // Numbers: each routes where the manifests list it; one listed nowhere routes to no managed
        // application the manifests want; the state knows what routes to each; its own settings stay.
        let numbers = self.api.list_numbers(&NumberFilter::default()).await.unwrap();
        assert!(state.numbers_pending.is_empty(), "a number update left unresolved: {:?}", state.numbers_pending);
        for number in &numbers {
            let listed_by = desired.apps.values().find(|a| a.numbers.iter().any(|n| n.msisdn == number.msisdn));
            let routes_to = number.app_id.as_ref().and_then(|id| state.address_of(id));
            match listed_by {
                Some(app) => assert_eq!(routes_to, Some(&app.address), "{}", number.msisdn),
                None => assert!(
                    routes_to.is_none_or(|address| !desired.apps.contains_key(address)),
                    "{} routes to {routes_to:?}, which does not list it",
                    number.msisdn
                ),
            }
            if number.msisdn == msisdn(0) {
                assert_eq!(number.mo_http_url.as_deref(), Some("https://sms.example.com/inbound"), "settings lost");
            }
        }
        for (address, entry) in &state.applications {
            let routed: std::collections::BTreeSet<Msisdn> = numbers
                .iter()
                .filter(|n| n.app_id.is_some() && n.app_id == entry.id)
                .map(|n| n.msisdn.clone())
                .collect();
            assert_eq!(entry.numbers, routed, "{address}: the state's numbers are not the account's");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn apply_then_plan_again_is_empty(
        first in proptest::collection::vec(proptest::option::of(app_spec()), 1..5),
        messes in proptest::collection::vec(mess(), 0..4),
        second in proptest::collection::vec(proptest::option::of(app_spec()), 0..5),
        target in proptest::option::of(0usize..5),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let world = World::new(0, 1).await;
            let first = manifest(&first);
            world.apply(&first, &[]).await;
            let again = world.apply(&first, &[]).await;
            assert!(!again.has_changes(), "{}", vapp::plan::render::render_human(&again, Default::default()));
            world.check_invariants(&first).await;

            for m in &messes {
                world.mess(m).await;
            }
            let second = manifest(&second);
            let targets: Vec<Address> = target.iter().map(|i| Address::new(format!("app-{i}"))).collect();
            world.apply(&second, &targets).await;
            let again = world.apply(&second, &targets).await;
            assert!(!again.has_changes(), "{}", vapp::plan::render::render_human(&again, Default::default()));
            // A key replaced outside vapp stays visible as drift on a protected application the
            // manifest left: vapp keeps it as it is.
            let kept = |address: &Address| !second.apps.contains_key(address);
            assert!(again.drift.iter().all(|d| kept(&d.address)), "{:?}", again.drift);
            // Without targets the whole account converged; with them, the rest converges next.
            world.apply(&second, &[]).await;
            let all = world.apply(&second, &[]).await;
            assert!(!all.has_changes(), "{}", vapp::plan::render::render_human(&all, Default::default()));
            world.check_invariants(&second).await;
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// With a share of answers lost after the call was carried out, applying again converges within a
    /// few runs, and never duplicates an application or loses a key on the way.
    #[test]
    fn lost_answers_converge_without_duplicates_or_lost_keys(
        first in proptest::collection::vec(proptest::option::of(app_spec()), 1..5),
        second in proptest::collection::vec(proptest::option::of(app_spec()), 0..5),
        loss_percent in 10u32..60,
        seed in any::<u64>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let world = World::new(loss_percent, seed).await;
            for desired in [manifest(&first), manifest(&second)] {
                let mut converged = false;
                for _ in 0..12 {
                    let (made, _) = world.try_apply(&desired, &[]).await;
                    if !made.has_changes() {
                        converged = true;
                        break;
                    }
                }
                assert!(converged, "no convergence at {loss_percent}% lost answers");
                world.check_invariants(&desired).await;
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Reorganising (some addresses renamed with `moved:` entries, some edited on the way, a dashboard
    /// application imported): one apply converges, planning again is empty, and no application is
    /// created, deleted or re-keyed by it.
    #[test]
    fn reorganising_never_recreates_or_rekeys(
        first in proptest::collection::vec(app_spec(), 1..5),
        renamed in proptest::collection::vec(any::<bool>(), 5),
        edited in proptest::collection::vec(proptest::option::of(app_spec()), 5),
        import in proptest::option::of(app_spec()),
        loss_percent in prop_oneof![Just(0u32), 10u32..40],
        seed in any::<u64>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let world = World::new(0, seed).await;
            let before_specs: Vec<(String, usize, &AppSpec)> =
                first.iter().enumerate().map(|(i, app)| (format!("app-{i}"), i, app)).collect();
            world.apply(&manifest_named(&before_specs, ""), &[]).await;
            let ids_before = world.store.snapshot().applications.iter().map(|(a, e)| (a.clone(), e.id.clone())).collect::<BTreeMap<_, _>>();
            let keys_before = world.live_keys().await;
            let dashboard = world.api.list_all().await.unwrap().into_iter().find(|a| world.store.snapshot().address_of(a.id.as_ref().unwrap()).is_none()).unwrap();

            // Renamed ones keep their key settings (a rotation is not a reorganisation); edits change the rest.
            let mut moved = String::new();
            let mut after: Vec<(String, usize, AppSpec)> = Vec::new();
            for (i, app) in first.iter().enumerate() {
                let mut spec = app.clone();
                if let Some(edit) = &edited[i] {
                    spec = AppSpec { rotation: app.rotation, own_key: app.own_key, ..edit.clone() };
                }
                let address = if renamed[i] {
                    moved.push_str(&format!("  - {{ from: app-{i}, to: renamed-{i} }}\n"));
                    format!("renamed-{i}")
                } else {
                    format!("app-{i}")
                };
                after.push((address, i, spec));
            }
            let mut extra = if moved.is_empty() { String::new() } else { format!("moved:\n{moved}") };
            if let Some(import) = &import {
                let spec = AppSpec { rotation: 0, own_key: false, ..import.clone() };
                after.push(("imported".into(), 9, spec));
                extra.push_str(&format!("import:\n  - {{ address: imported, id: {} }}\n", dashboard.id.as_ref().unwrap()));
            }
            let second: Vec<(String, usize, &AppSpec)> = after.iter().map(|(a, i, s)| (a.clone(), *i, s)).collect();
            let second = manifest_named(&second, &extra);
            world.api.set_loss(loss_percent);
            let mut converged = false;
            for _ in 0..12 {
                let (made, _) = world.try_apply(&second, &[]).await;
                if !made.has_changes() {
                    converged = true;
                    break;
                }
            }
            assert!(converged, "no convergence at {loss_percent}% lost answers");
            world.api.set_loss(0);
            let again = world.apply(&second, &[]).await;
            assert!(!again.has_changes(), "{}", vapp::plan::render::render_human(&again, Default::default()));
            // Every application kept its id under its new address, and its key.
            let state = world.store.snapshot();
            for (i, was) in first.iter().enumerate().map(|(i, _)| (i, &ids_before[&Address::new(format!("app-{i}"))])) {
                let now = if renamed[i] { format!("renamed-{i}") } else { format!("app-{i}") };
                assert_eq!(&state.applications[now.as_str()].id, was, "{now}: the same application");
                assert!(!renamed[i] || !state.applications.contains_key(format!("app-{i}").as_str()));
            }
            if import.is_some() {
                assert_eq!(state.applications["imported"].id, dashboard.id, "imported, not created");
            }
            assert_eq!(world.live_keys().await, keys_before, "nothing created, deleted or re-keyed");
        });
    }
}

//! The emulator's accounts and Subaccounts API, through the real client: each account sees only its
//! own applications and numbers, and every call answers as `spec/subaccounts.yml` says, errors
//! included.

use vapp::api::{
    ApiError, ApplicationApi, Client, Credentials, NewSubaccount, NumberFilter, NumberTransfer, NumbersApi,
    SubaccountChange, SubaccountsApi,
};
use vapp::emulator::EmulatorConfig;
use vapp::model::{Application, Msisdn};
use vapp::secret::Secret;

use crate::harness::{client_for, config, start, KEY};

const SUB_KEY: &str = "sub00001";
const SUB_SECRET: &str = "SubSecret1";

fn family(seed_numbers: usize) -> EmulatorConfig {
    EmulatorConfig { seed_numbers, subaccounts: vec![(SUB_KEY.into(), Secret::new(SUB_SECRET))], ..config() }
}

fn signed_in(primary: &Client, key: &str, secret: &str) -> Client {
    primary.for_credentials(Credentials::new(key, secret))
}

fn status(result: Result<impl std::fmt::Debug, ApiError>) -> (u16, String) {
    match result {
        Err(ApiError::Status { status, problem, .. }) => (status, problem.kind.clone()),
        other => panic!("expected an error status, got {other:?}"),
    }
}

fn new_sub(name: &str, secret: &str) -> NewSubaccount {
    NewSubaccount { name: name.into(), secret: Secret::new(secret), use_primary_account_balance: true }
}

#[tokio::test]
async fn each_account_sees_only_its_own_applications_and_numbers() {
    let emulator = start(EmulatorConfig { seed_apps: 2, ..family(3) }).await;
    let primary = client_for(&emulator.url());
    let sub = signed_in(&primary, SUB_KEY, SUB_SECRET);
    let mine = sub.create(&Application { name: "sub's own".into(), ..Default::default() }).await.unwrap();
    let primary_apps = primary.list_all().await.unwrap();
    let sub_apps = sub.list_all().await.unwrap();
    assert_eq!(primary_apps.len(), 2, "seeds cover every account");
    assert_eq!(sub_apps.len(), 3);
    assert!(primary_apps.iter().all(|a| a.id != mine.id));
    assert!(primary.get(mine.id.as_ref().unwrap()).await.unwrap_err().is_not_found());
    let everything = NumberFilter::default();
    let primary_numbers: Vec<String> =
        primary.list_numbers(&everything).await.unwrap().into_iter().map(|n| n.msisdn.to_string()).collect();
    let sub_numbers: Vec<String> =
        sub.list_numbers(&everything).await.unwrap().into_iter().map(|n| n.msisdn.to_string()).collect();
    assert_eq!(primary_numbers, ["447700900001", "447700900002", "447700900003"]);
    assert_eq!(sub_numbers, ["447700900004", "447700900005", "447700900006"], "numbers are unique in the family");
    assert_eq!(status(signed_in(&primary, SUB_KEY, "wrong").list_all().await).0, 401);
}

#[tokio::test]
async fn subaccounts_are_created_read_modified_and_suspended() {
    let emulator = start(family(0)).await;
    let primary = client_for(&emulator.url());
    let created = primary.create_subaccount(&new_sub("ACME Corp", "AcmeSecret9")).await.unwrap();
    assert_eq!((created.name.as_str(), created.primary_account_api_key.as_str()), ("ACME Corp", KEY));
    assert!(created.use_primary_account_balance && !created.suspended);
    let acme = signed_in(&primary, created.api_key.as_str(), "AcmeSecret9");
    assert!(acme.list_all().await.unwrap().is_empty(), "the secret vapp made works at once");

    let listed = primary.list_subaccounts().await.unwrap();
    let keys: Vec<&str> = listed.iter().map(|s| s.api_key.as_str()).collect();
    assert_eq!(keys, [SUB_KEY, created.api_key.as_str()]);
    assert_eq!(primary.get_subaccount(&created.api_key).await.unwrap(), created);

    let rename = SubaccountChange {
        name: Some("ACME Ltd".into()),
        use_primary_account_balance: Some(false),
        ..Default::default()
    };
    let renamed = primary.modify_subaccount(&created.api_key, &rename).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.use_primary_account_balance), ("ACME Ltd", false));
    let suspend = SubaccountChange { suspended: Some(true), ..Default::default() };
    assert!(primary.modify_subaccount(&created.api_key, &suspend).await.unwrap().suspended);
    assert_eq!(status(acme.list_all().await).0, 401, "a suspended subaccount's credentials open nothing");
}

#[tokio::test]
async fn the_subaccounts_api_refuses_as_the_spec_says() {
    let emulator = start(family(0)).await;
    let primary = client_for(&emulator.url());
    let sub = signed_in(&primary, SUB_KEY, SUB_SECRET);
    let errors = "https://developer.nexmo.com/api-errors";
    assert_eq!(
        status(signed_in(&primary, KEY, "wrong").list_subaccounts().await),
        (401, format!("{errors}#unauthorized"))
    );
    assert_eq!(
        status(sub.list_subaccounts().await),
        (403, format!("{errors}#unprovisioned")),
        "a subaccount's own credentials"
    );
    assert_eq!(
        status(primary.get_subaccount(&vapp::model::ApiKey::new("nosuchkey")).await),
        (404, format!("{errors}#invalid-api-key"))
    );
    let unknown = SubaccountChange { name: Some("x".into()), ..Default::default() };
    assert_eq!(status(primary.modify_subaccount(&vapp::model::ApiKey::new("nosuchkey"), &unknown).await).0, 404);
    for (name, secret) in
        [("ok", "weak"), ("ok", "alllowercase1"), ("", "Valid1Secret"), (&*"n".repeat(81), "Valid1Secret")]
    {
        let (code, kind) = status(primary.create_subaccount(&new_sub(name, secret)).await);
        assert_eq!(
            (code, kind.as_str()),
            (422, "https://developer.nexmo.com/api-errors/subaccounts#validation"),
            "{name:?} {secret:?}"
        );
    }
    assert_eq!(primary.list_subaccounts().await.unwrap().len(), 1, "nothing refused was made");
}

#[tokio::test]
async fn numbers_transfer_within_the_family_only() {
    let emulator = start(EmulatorConfig { seed_apps: 1, ..family(2) }).await;
    let primary = client_for(&emulator.url());
    let sub = signed_in(&primary, SUB_KEY, SUB_SECRET);
    let other = primary.create_subaccount(&new_sub("Other", "OtherSecret1")).await.unwrap();
    let number = Msisdn::new("447700900001");
    let transfer = |from: &str, to: &str, number: &str| NumberTransfer {
        from: from.into(),
        to: to.into(),
        number: Msisdn::new(number),
        country: "GB".into(),
    };
    primary.transfer_number(&transfer(KEY, SUB_KEY, "447700900001")).await.unwrap();
    assert!(primary.find_number(&number).await.unwrap().is_none());
    let moved = sub.find_number(&number).await.unwrap().expect("the subaccount owns it now");
    assert_eq!(moved.app_id, None, "a transferred number arrives linked to nothing");

    let kinds = "https://developer.nexmo.com/api-errors/subaccounts";
    assert_eq!(
        status(primary.transfer_number(&transfer(KEY, SUB_KEY, "447700900001")).await),
        (409, format!("{kinds}#transfer-conflict")),
        "to owns it already"
    );
    assert_eq!(
        status(primary.transfer_number(&transfer(KEY, other.api_key.as_str(), "447700900001")).await),
        (404, format!("{kinds}#missing-number-transfer")),
        "from does not own it"
    );
    assert_eq!(
        status(primary.transfer_number(&transfer(SUB_KEY, other.api_key.as_str(), "447700900001")).await),
        (403, format!("{kinds}#invalid-number-transfer")),
        "two subaccounts are not primary and sub"
    );
    assert_eq!(status(primary.transfer_number(&transfer(KEY, "nosuchkey", "447700900002")).await).0, 404);
    assert_eq!(
        status(sub.transfer_number(&transfer(SUB_KEY, KEY, "447700900001")).await).0,
        403,
        "only the primary transfers"
    );
    primary.transfer_number(&transfer(SUB_KEY, KEY, "447700900001")).await.unwrap();
    assert!(primary.find_number(&number).await.unwrap().is_some(), "and back again");
}

#[tokio::test]
async fn every_account_outlives_a_restart_in_the_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let configured = || EmulatorConfig { data_file: Some(data.clone()), ..family(1) };
    let emulator = start(configured()).await;
    let primary = client_for(&emulator.url());
    let created = primary.create_subaccount(&new_sub("Kept", "KeptSecret1")).await.unwrap();
    let kept = signed_in(&primary, created.api_key.as_str(), "KeptSecret1");
    kept.create(&Application { name: "kept app".into(), ..Default::default() }).await.unwrap();
    emulator.stop().await;

    let emulator = start(configured()).await;
    let primary = client_for(&emulator.url());
    let kept = signed_in(&primary, created.api_key.as_str(), "KeptSecret1");
    assert_eq!(kept.list_all().await.unwrap().len(), 1);
    assert_eq!(primary.list_subaccounts().await.unwrap().len(), 2);
    assert_eq!(primary.list_numbers(&NumberFilter::default()).await.unwrap().len(), 1, "seeds are not added again");
}

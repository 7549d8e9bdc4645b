//! `vapp check`'s work: every webhook rung once as Vonage would ring it, signed webhooks probed with
//! a forged signature, and a failed `answer_url` given the verdict of its fallback.
//!
//! Invariants: only the URLs in the targets are called (redirects are not followed, NCCO `notify`
//! URLs are not called); at most [`IN_FLIGHT`] requests are out at once; results come back in the
//! targets' order whatever order the answers arrive in.

use futures::StreamExt;
use serde::Serialize;

use super::call::Caller;
use super::events::{representative, Traffic};
use super::hooks::{Hook, Kind, Method, WebhookUrl};
use super::ring::{accepts_forgery, request, ring, ring_answer, Problem, Signing};
use super::sign::Signer;
use crate::model::{AccountName, Address};

/// How many requests `vapp check` has out at once.
pub const IN_FLIGHT: usize = 8;

/// One webhook to check.
#[derive(Clone, Debug)]
pub struct Target {
    pub address: Address,
    pub account: AccountName,
    /// The application's id (the state's), for the signature's `application_id` claim; `None` before
    /// it is first applied.
    pub application_id: Option<crate::model::AppId>,
    pub hook: Hook,
    /// The account's signer, when it has a signature secret and the webhook is signed.
    pub signer: Option<Signer>,
    /// The sample call or message: the same for every webhook of one application, so that its fallback
    /// request carries the answer request's fields, as Vonage's does.
    pub traffic: Traffic,
    /// The application's `messages.version`, which shapes its messages webhooks' bodies.
    pub messages_version: super::rules::MessagesVersion,
}

/// One webhook's result, as the JSON report has it.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub address: Address,
    pub account: AccountName,
    pub capability: crate::model::Capability,
    pub webhook: &'static str,
    #[serde(serialize_with = "crate::model::webhook_url::serialize_redacted")]
    pub url: WebhookUrl,
    pub method: Method,
    pub ok: bool,
    /// `null` when no answer came.
    pub status: Option<u16>,
    pub ms: u64,
    /// `null` when ok.
    pub problem: Option<String>,
    /// Only on a failed `answer_url` with a fallback: whether the fallback would have served the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_ok: Option<bool>,
    /// Something to know about a webhook that passed (it answered on its second attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    pub kind: Kind,
    /// Why the fallback would or would not have served the call, in words.
    #[serde(skip)]
    pub fallback_note: Option<String>,
    #[serde(skip)]
    calls_for_fallback: bool,
    /// Whether it answered Vonage's genuine request well (a forgery accepted aside).
    #[serde(skip)]
    serves: bool,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub results: Vec<CheckResult>,
    pub summary: Summary,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.summary.failed == 0
    }
}

/// What the edges give a check: the time and fresh ids.
pub trait Clock: Sync {
    /// Unix seconds.
    fn now(&self) -> u64;
    /// ISO 8601, UTC.
    fn timestamp(&self) -> String;
    fn uuid(&self) -> String;
    /// The time now (a simulated call's clock starts here).
    fn wall(&self) -> std::time::SystemTime;
}

/// The system's clock and random ids.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
    fn timestamp(&self) -> String {
        humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
    }
    fn uuid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
    fn wall(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }
}

/// Checks every target, [`IN_FLIGHT`] at a time.
pub async fn check(caller: &Caller, targets: &[Target], clock: &dyn Clock) -> Report {
    let mut results: Vec<CheckResult> =
        futures::stream::iter(targets).map(|t| check_one(caller, t, clock)).buffered(IN_FLIGHT).collect().await;
    judge_fallbacks(&mut results);
    let failed = results.iter().filter(|r| !r.ok).count();
    Report { format_version: 1, summary: Summary { passed: results.len() - failed, failed }, results }
}

async fn check_one(caller: &Caller, target: &Target, clock: &dyn Clock) -> CheckResult {
    let hook = &target.hook;
    let traffic = &target.traffic;
    let body = representative(hook.kind, hook.webhook, traffic, target.messages_version);
    let signer = target.signer.as_ref().filter(|_| hook.signed);
    let outgoing = request(hook, traffic, Some(&body), signer.map(|s| signing(s, target, clock)));
    // Rung as Vonage rings it: an answer URL once more after a transient failure, a fallback twice.
    let rungs = match hook.kind {
        Kind::Answer => ring_answer(caller, hook, &outgoing).await,
        Kind::FallbackAnswer => {
            let mut rungs = Vec::new();
            for _ in 0..super::rules::FALLBACK_ATTEMPTS {
                let rung = ring(caller, hook, &outgoing).await;
                let ok = rung.ok();
                rungs.push(rung);
                if ok {
                    break;
                }
            }
            rungs
        }
        _ => vec![ring(caller, hook, &outgoing).await],
    };
    let note = match rungs.as_slice() {
        [first, .., last] if last.ok() => first
            .verdict
            .as_ref()
            .err()
            .map(|problem| format!("answered on attempt {} of {}; the first: {problem}", rungs.len(), rungs.len())),
        _ => None,
    };
    let elapsed = rungs.iter().map(|r| r.elapsed).sum::<std::time::Duration>();
    let Some(rung) = rungs.into_iter().last() else { unreachable!("one attempt at least") };
    // A valid NCCO with fields Vonage ignores (likely misspelt) passes, with a note naming them.
    let ncco_notes = match &rung.verdict {
        Ok(Some(ncco)) if !ncco.notes.is_empty() => {
            Some(ncco.notes.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        }
        _ => None,
    };
    let note = match (note, ncco_notes) {
        (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
        (a, b) => a.or(b),
    };
    let mut verdict = rung.verdict.map(|_| ());
    // Whether it serves Vonage's genuine requests: what the fallback rules look at.
    let serves = verdict.is_ok();
    let calls_for_fallback = verdict.as_ref().err().is_some_and(super::rules::calls_for_fallback);
    // The forgery probe matters only for a webhook that works (a failing one would wait out its
    // timeout twice for nothing).
    if let Some(signer) = signer.filter(|_| serves) {
        let forger = signer.forger();
        let forged = request(hook, traffic, Some(&body), Some(signing(&forger, target, clock)));
        if accepts_forgery(caller, &forged).await {
            verdict = Err(Problem::AcceptsForgery);
        }
    }
    CheckResult {
        address: target.address.clone(),
        account: target.account.clone(),
        capability: hook.capability,
        webhook: hook.webhook,
        url: hook.url.clone(),
        method: hook.method,
        ok: verdict.is_ok(),
        status: rung.status,
        ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        problem: verdict.err().map(|p| p.to_string()),
        fallback_ok: None,
        note,
        kind: hook.kind,
        fallback_note: None,
        calls_for_fallback,
        serves,
    }
}

fn signing<'a>(signer: &'a Signer, target: &'a Target, clock: &dyn Clock) -> Signing<'a> {
    let application_id = target.application_id.as_ref().map_or("", |id| id.as_str());
    Signing { signer, application_id, now: clock.now(), jti: clock.uuid() }
}

/// The number sample traffic comes from.
pub const SAMPLE_CALLER: &str = "447700900999";

/// Gives each failed `answer_url` whose application has a fallback the fallback's verdict.
fn judge_fallbacks(results: &mut [CheckResult]) {
    let fallbacks: Vec<(AccountName, Address, bool)> = results
        .iter()
        .filter(|r| r.kind == Kind::FallbackAnswer)
        .map(|r| (r.account.clone(), r.address.clone(), r.serves))
        .collect();
    // An answer URL whose only failure is taking forgeries still serves calls: no fallback verdict.
    for result in results.iter_mut().filter(|r| r.kind == Kind::Answer && !r.serves) {
        let Some((_, _, fallback_ok)) =
            fallbacks.iter().find(|(account, address, _)| *account == result.account && *address == result.address)
        else {
            continue;
        };
        let (ok, note) = match (result.calls_for_fallback, fallback_ok) {
            (true, true) => (true, "fallback_answer_url would have served the call"),
            (true, false) => (false, "fallback_answer_url fails too: the call would be ended"),
            (false, _) => (false, "fallback_answer_url would not be fetched: the call would fail"),
        };
        result.fallback_ok = Some(ok);
        result.fallback_note = Some(note.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::call::CallFailure;
    use crate::webhooks::report::{render_human, render_json, render_markdown};

    fn result(address: &str, kind: Kind, webhook: &'static str, problem: Option<Problem>) -> CheckResult {
        CheckResult {
            address: Address::new(address),
            account: AccountName::default_account(),
            capability: crate::model::Capability::Voice,
            webhook,
            url: WebhookUrl::new(format!("https://user:pw@{address}.example/{webhook}")),
            method: Method::Get,
            ok: problem.is_none(),
            status: match &problem {
                Some(Problem::Http { status }) => Some(*status),
                Some(Problem::Call(_)) => None,
                _ => Some(200),
            },
            ms: 12,
            calls_for_fallback: problem.as_ref().is_some_and(crate::webhooks::rules::calls_for_fallback),
            serves: problem.is_none(),
            problem: problem.map(|p| p.to_string()),
            fallback_ok: None,
            note: None,
            kind,
            fallback_note: None,
        }
    }

    fn report(mut results: Vec<CheckResult>) -> Report {
        judge_fallbacks(&mut results);
        let failed = results.iter().filter(|r| !r.ok).count();
        Report { format_version: 1, summary: Summary { passed: results.len() - failed, failed }, results }
    }

    #[test]
    fn a_failed_answer_url_gets_its_fallbacks_verdict_and_the_report_reads_well() {
        let bad_ncco = crate::webhooks::ncco::read_ncco(br#"[{"action":"talk"}]"#).unwrap_err();
        let report = report(vec![
            result("saved", Kind::Answer, "answer_url", Some(Problem::Http { status: 500 })),
            result("saved", Kind::FallbackAnswer, "fallback_answer_url", None),
            result("lost", Kind::Answer, "answer_url", Some(Problem::Ncco(bad_ncco))),
            result("lost", Kind::FallbackAnswer, "fallback_answer_url", None),
            result("alone", Kind::Answer, "answer_url", Some(Problem::Call(CallFailure::Refused))),
        ]);
        let verdicts: Vec<Option<bool>> = report.results.iter().map(|r| r.fallback_ok).collect();
        // Every failure of the answer URL calls for the fallback, an invalid NCCO too.
        assert_eq!(verdicts, [Some(true), None, Some(true), None, None]);
        let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
        assert_eq!(json["summary"], serde_json::json!({"passed": 2, "failed": 3}));
        assert_eq!(json["results"][0]["url"], "https://user:***@saved.example/answer_url");
        assert!(json["results"][1].get("fallback_ok").is_none());
        assert_eq!(json["results"][4]["status"], serde_json::Value::Null);
        insta::assert_snapshot!(render_human(&report), @r#"
        ✗ saved voice answer_url GET https://user:***@saved.example/answer_url: HTTP 500
            fallback_answer_url would have served the call
        ✓ saved voice fallback_answer_url GET https://user:***@saved.example/fallback_answer_url: 200 in 12 ms
        ✗ lost voice answer_url GET https://user:***@lost.example/answer_url: /0 (talk): missing "text"
            fallback_answer_url would have served the call
        ✓ lost voice fallback_answer_url GET https://user:***@lost.example/fallback_answer_url: 200 in 12 ms
        ✗ alone voice answer_url GET https://user:***@alone.example/answer_url: connection refused

        Checked 5 webhooks: 2 passed, 3 failed.
        "#);
        insta::assert_snapshot!(render_markdown(&report), @r#"
        ### vapp check: 3 of 5 webhooks failed

        | | application | webhook | request | answer | problem |
        |---|---|---|---|---|---|
        | ❌ | `saved` | voice `answer_url` | GET https://user:***@saved.example/answer_url | 500 in 12 ms | HTTP 500<br>fallback_answer_url would have served the call |
        | ✅ | `saved` | voice `fallback_answer_url` | GET https://user:***@saved.example/fallback_answer_url | 200 in 12 ms |  |
        | ❌ | `lost` | voice `answer_url` | GET https://user:***@lost.example/answer_url | 200 in 12 ms | /0 (talk): missing "text"<br>fallback_answer_url would have served the call |
        | ✅ | `lost` | voice `fallback_answer_url` | GET https://user:***@lost.example/fallback_answer_url | 200 in 12 ms |  |
        | ❌ | `alone` | voice `answer_url` | GET https://user:***@alone.example/answer_url | no answer | connection refused |
        "#);
    }
}

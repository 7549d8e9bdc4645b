//! The Application API's error answers, as the real service words them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;

use crate::api::Problem;
use crate::model::rules::InvalidParameter;

const ERRORS: &str = "https://developer.vonage.com/api-errors";
const APPLICATION_ERRORS: &str = "https://developer.vonage.com/api-errors/application";

/// A problem+json answer. Sent as `application/json`: the Node SDK parses only that type, and the
/// Python SDK needs a Content-Type on every error.
pub fn respond(status: StatusCode, problem: Problem) -> Response {
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn instance() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn problem(kind: String, title: &str, detail: impl Into<String>) -> Problem {
    Problem {
        kind,
        title: title.to_string(),
        detail: Some(detail.into()),
        instance: Some(instance()),
        invalid_parameters: vec![],
    }
}

pub fn unauthorized() -> Response {
    respond(
        StatusCode::UNAUTHORIZED,
        problem(
            format!("{ERRORS}#unauthorized"),
            "Invalid credentials supplied",
            "You did not provide correct credentials.",
        ),
    )
}

pub fn not_found(id: &str) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        problem(
            format!("{ERRORS}#not-found"),
            "Not Found",
            format!("ID '{id}' does not exist, or you do not have access"),
        ),
    )
}

pub fn no_such_path(path: &str) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        problem(format!("{ERRORS}#not-found"), "Not Found", format!("The requested resource '{path}' does not exist")),
    )
}

pub fn wrong_verb(method: &str) -> Response {
    respond(
        StatusCode::METHOD_NOT_ALLOWED,
        problem(
            format!("{ERRORS}#wrong-verb"),
            "Request method not allowed",
            format!("Request method '{method}' not supported"),
        ),
    )
}

pub fn bad_accept() -> Response {
    respond(
        StatusCode::NOT_ACCEPTABLE,
        problem(
            format!("{ERRORS}#accept-header"),
            "Invalid Accept header",
            "Invalid Accept header provided. Must be one of the following: 'application/json'",
        ),
    )
}

pub fn bad_content_type() -> Response {
    respond(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        problem(
            format!("{ERRORS}#content-type-header"),
            "Unsupported Content-Type header",
            "Unsupported Content-Type header provided. Must be one of the following: 'application/json'",
        ),
    )
}

fn validation(kind: &str, invalid_parameters: Vec<InvalidParameter>) -> Response {
    let mut p =
        problem(format!("{APPLICATION_ERRORS}#{kind}"), "Bad Request", "The request failed due to validation errors");
    p.invalid_parameters = invalid_parameters;
    respond(StatusCode::BAD_REQUEST, p)
}

pub fn payload_validation(invalid_parameters: Vec<InvalidParameter>) -> Response {
    validation("payload-validation", invalid_parameters)
}

pub fn list_validation(name: &str, reason: &str) -> Response {
    validation("list-validation", vec![InvalidParameter { name: name.to_string(), reason: reason.to_string() }])
}

pub fn throttled(retry_after_secs: u64) -> Response {
    let mut response = respond(
        StatusCode::TOO_MANY_REQUESTS,
        problem(format!("{ERRORS}#throttled"), "Rate Limit Hit", "Please wait, then retry your request"),
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

pub fn server_error(status: StatusCode) -> Response {
    let title = status.canonical_reason().unwrap_or("Server Error");
    respond(
        status,
        problem(format!("{ERRORS}#internal-error"), title, "Something went wrong on our side. Please try again later."),
    )
}

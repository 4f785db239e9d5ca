//! The pages a browser sees during sign-in: "Pick an account" (one button per known account,
//! each with `data-username`, and a labelled field for another address) and the error page
//! Entra shows when it cannot send the browser back to the app. Minimal HTML5, no script.

use axum::response::Response;

use crate::microsoft_login::errors::Aadsts;
use crate::wire::{self, html_escape};

/// The account picker. Both forms go to `action` by GET, carrying `params` (the authorize
/// request's own, `username` left out) as hidden inputs; the chosen account travels as
/// `username`. `error` is a sentence shown above the accounts.
pub(super) fn pick_page(
    action: &str,
    params: &[(String, String)],
    accounts: &[String],
    error: Option<&str>,
) -> Response {
    let hidden: String = params
        .iter()
        .filter(|(name, _)| name != "username")
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                html_escape(name),
                html_escape(value)
            )
        })
        .collect();
    let action = html_escape(action);
    let mut body = String::from("<h1>Pick an account</h1>\n");
    if let Some(error) = error {
        body.push_str(&format!(
            "<p id=\"error\" role=\"alert\">{}</p>\n",
            html_escape(error)
        ));
    }
    body.push_str(&format!(
        "<form method=\"get\" action=\"{action}\" aria-labelledby=\"accounts-label\">\n\
         <p id=\"accounts-label\">Accounts</p>\n{hidden}"
    ));
    if accounts.is_empty() {
        body.push_str("<p>No accounts.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for email in accounts {
            let email = html_escape(email);
            body.push_str(&format!(
                "<li><button type=\"submit\" name=\"username\" value=\"{email}\" data-username=\"{email}\">{email}</button></li>\n"
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</form>\n");
    body.push_str(&format!(
        "<form method=\"get\" action=\"{action}\">\n{hidden}\
         <label for=\"other-username\">Use another account</label>\n\
         <input id=\"other-username\" name=\"username\" type=\"email\" autocomplete=\"username\" required>\n\
         <button type=\"submit\">Next</button>\n</form>\n"
    ));
    wire::html(200, document("Pick an account", &body))
}

/// The page Entra shows instead of redirecting (an unknown app, a redirect URI that is not
/// registered, an unknown tenant, a fault).
pub(super) fn error_page(status: u16, err: &Aadsts) -> Response {
    let body = format!(
        "<h1>Sorry, but we’re having trouble signing you in.</h1>\n\
         <p id=\"error\" role=\"alert\" data-error=\"{}\" data-code=\"AADSTS{}\">{}</p>\n",
        html_escape(err.error),
        err.code,
        html_escape(&err.text())
    );
    wire::html(status, document("Sign in to your account", &body))
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        html_escape(title)
    )
}

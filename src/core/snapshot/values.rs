//! Rules for single values, whatever field they are in: ids and email addresses, and how input is
//! quoted in a message. Public so that every input format (this JSON, and OneRoster CSV as
//! its reader maps it) holds ids and addresses to the same rules.

use crate::core::domain::normalise_email;

/// RFC 5321's limit on a forward path, the practical limit on an address.
const MAX_EMAIL_CHARS: usize = 254;
const MAX_ID_CHARS: usize = 100;

/// `id`s are used in URLs, `externalId`s and Classroom aliases, hence the narrow alphabet (CONTRACT §4).
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(
            "the id is empty: use 1–100 characters of A–Z, a–z, 0–9, `.`, `_`, `-`".to_string(),
        );
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{}` is not a valid id: it contains {}; use only A–Z, a–z, 0–9, `.`, `_`, `-`",
            shown(id),
            describe_char(bad)
        ));
    }
    if id.len() > MAX_ID_CHARS {
        return Err(format!(
            "the id is {} characters long; at most {MAX_ID_CHARS} are allowed",
            id.len()
        ));
    }
    Ok(())
}

/// An email address as users are identified by (the Microsoft UPN and the Google account): checked
/// for shape only, and returned normalised (trimmed, lower-case) so that comparisons ignore case.
pub fn check_email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    let not_email = |why: &str| format!("`{}` is not an email address: {why}", shown(email));
    if email.is_empty() {
        return Err("the email address is empty".to_string());
    }
    let chars = email.chars().count();
    if chars > MAX_EMAIL_CHARS {
        return Err(format!(
            "the email address is {chars} characters long; at most {MAX_EMAIL_CHARS} are allowed"
        ));
    }
    if let Some(bad) = email.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_email(&format!("it contains {}", describe_char(bad))));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(not_email("it has no `@`"));
    };
    if domain.contains('@') {
        return Err(not_email("it has more than one `@`"));
    }
    if local.is_empty() {
        return Err(not_email("nothing comes before the `@`"));
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(not_email(
            "the part after the `@` is not a domain name like hwbcymru.net",
        ));
    }
    Ok(normalise_email(email))
}

/// A name for a character in a message, readable even when the character is invisible.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

/// Input quoted in a message, cut short so that one absurd value cannot flood the output.
pub fn shown(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or(s)),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::parse_snapshot;
    use crate::core::snapshot::tests::{ctx, with_group_field, years};

    #[test]
    fn email_rules() {
        let long = format!("{}@hwbcymru.net", "a".repeat(242));
        assert_eq!(long.len(), 255);
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "the email address is empty"),
            ("   ", "the email address is empty"),
            ("jonesa12", "it has no `@`"),
            ("a@b@hwbcymru.net", "more than one `@`"),
            ("@hwbcymru.net", "nothing comes before the `@`"),
            ("a@localhost", "not a domain name"),
            ("a@hwbcymru.", "not a domain name"),
            ("a@.net", "not a domain name"),
            ("a@hwb..net", "not a domain name"),
            ("jones a@hwbcymru.net", "it contains a space"),
            ("jones\ta@hwbcymru.net", "it contains the character U+0009"),
            ("jones\u{7}a@hwbcymru.net", "it contains the character U+0007"),
            (&long, "255 characters long; at most 254"),
        ];
        for (email, message) in cases {
            assert_eq!(
                check_email(email)
                    .as_deref()
                    .map_err(|e| e.contains(message)),
                Err(true),
                "{email:?}"
            );
        }
        assert_eq!(check_email(&long[1..]).as_deref(), Ok(&long[1..]));
        // Through the JSON, a control character arrives escaped and is shown escaped.
        let text = with_group_field("learners", r#"["a\u001b[31m@b.cymru"]"#);
        let years = years();
        let problems = parse_snapshot(&text, &ctx(&years)).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            !problems[0].message.chars().any(char::is_control),
            "{:?}",
            problems[0].message
        );
    }
}

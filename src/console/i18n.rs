//! The console's words, in Welsh and English (the Welsh Language Standards apply to Hwb): one
//! Fluent file per language (`locales/en.ftl`, `locales/cy.ftl`), compiled in, and the choice of
//! language: the person's own choice (a cookie) first, then the browser's `Accept-Language`.
//!
//! Must not: hold a string outside the two files. A message missing from a file renders as
//! `⟦id⟧`, which the tests look for on every page in both languages; a unit test checks that the
//! two files hold the same messages.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The two languages of every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Cy,
}

impl Lang {
    /// The code in `lang=""`, the cookie and the switch's link.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Cy => "cy",
        }
    }

    /// The other language, which the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Cy,
            Lang::Cy => Lang::En,
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "cy" => Some(Lang::Cy),
            _ => None,
        }
    }

    /// The person's choice (the cookie) if any, else the first of `en`/`cy` the browser's
    /// `Accept-Language` ranks highest (`cy-GB` counts as `cy`), else English.
    pub fn choose(chosen: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = chosen.and_then(Lang::from_code) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for (i, item) in accept_language.unwrap_or("").split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Lang::from_code(primary) else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Earlier items win ties: the order the browser sent.
            let q = q - i as f32 * 1e-6;
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }
}

const EN: &str = include_str!("locales/en.ftl");
const CY: &str = include_str!("locales/cy.ftl");

/// Both languages' messages, loaded once.
pub struct Texts {
    en: FluentBundle<FluentResource>,
    cy: FluentBundle<FluentResource>,
}

impl Texts {
    /// Loads the compiled-in files. They are part of the binary, checked by the tests: a syntax
    /// error in one is a bug of this build, reported with the file's name.
    pub fn load() -> Result<Texts, String> {
        Ok(Texts {
            en: bundle("en", EN)?,
            cy: bundle("cy", CY)?,
        })
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::En => &self.en,
            Lang::Cy => &self.cy,
        }
    }

    /// The message `id` in `lang`.
    pub fn get(&self, lang: Lang, id: &str) -> String {
        self.format(lang, id, None)
    }

    /// The message `id` in `lang` with its variables.
    pub fn with(&self, lang: Lang, id: &str, args: &[(&str, FluentValue)]) -> String {
        let mut a = FluentArgs::new();
        for (k, v) in args {
            a.set(*k, v.clone());
        }
        self.format(lang, id, Some(&a))
    }

    fn format(&self, lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
        let bundle = self.bundle(lang);
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::error!(id, lang = lang.code(), "console message missing");
            return format!("⟦{id}⟧");
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::error!(
                id,
                lang = lang.code(),
                ?errors,
                "console message misformatted"
            );
        }
        text.into_owned()
    }
}

fn bundle(code: &str, text: &'static str) -> Result<FluentBundle<FluentResource>, String> {
    let resource = FluentResource::try_new(text.to_string())
        .map_err(|(_, e)| format!("locales/{code}.ftl: {e:?}"))?;
    let langid = code
        .parse()
        .map_err(|e| format!("locales/{code}.ftl: language {code}: {e}"))?;
    let mut bundle = FluentBundle::new_concurrent(vec![langid]);
    // Unicode isolation marks around variables would land in the HTML and in copied text.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|e| format!("locales/{code}.ftl: {e:?}"))?;
    Ok(bundle)
}

/// The message ids of a Fluent file, in order.
#[cfg(test)]
fn ids(text: &str) -> Vec<String> {
    let resource = FluentResource::try_new(text.to_string()).expect("parses");
    resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_hold_every_message() {
        let (en, cy) = (ids(EN), ids(CY));
        let missing_in_cy: Vec<_> = en.iter().filter(|id| !cy.contains(id)).collect();
        let missing_in_en: Vec<_> = cy.iter().filter(|id| !en.contains(id)).collect();
        assert!(
            missing_in_cy.is_empty(),
            "missing in cy.ftl: {missing_in_cy:?}"
        );
        assert!(
            missing_in_en.is_empty(),
            "missing in en.ftl: {missing_in_en:?}"
        );
        assert!(en.len() > 50, "{} messages", en.len());
    }

    #[test]
    fn every_message_formats_without_errors_in_both() {
        let texts = Texts::load().unwrap();
        for lang in [Lang::En, Lang::Cy] {
            for id in ids(EN) {
                let bundle = texts.bundle(lang);
                let pattern = bundle.get_message(&id).and_then(|m| m.value()).unwrap();
                let mut args = FluentArgs::new();
                for (k, v) in [
                    ("person", FluentValue::from("a@b")),
                    ("reason", FluentValue::from("r")),
                    ("total", FluentValue::from(2)),
                    ("count", FluentValue::from(2)),
                    ("school", FluentValue::from("s")),
                    ("group", FluentValue::from("g")),
                    ("target", FluentValue::from("t")),
                    ("days", FluentValue::from(3)),
                    ("year", FluentValue::from("2025-26")),
                    ("jobs", FluentValue::from(4)),
                ] {
                    args.set(k, v);
                }
                let mut errors = Vec::new();
                bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{}: {id}: {errors:?}", lang.code());
            }
        }
    }

    #[test]
    fn the_choice_comes_first_then_the_browser() {
        assert_eq!(Lang::choose(Some("cy"), Some("en")), Lang::Cy);
        assert_eq!(Lang::choose(Some("en"), Some("cy")), Lang::En);
        assert_eq!(
            Lang::choose(None, Some("cy-GB,cy;q=0.9,en;q=0.8")),
            Lang::Cy
        );
        assert_eq!(
            Lang::choose(None, Some("en-GB,en;q=0.9,cy;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::choose(None, Some("fr, cy;q=0.5")), Lang::Cy);
        assert_eq!(Lang::choose(None, Some("en;q=0.2, cy;q=0.7")), Lang::Cy);
        assert_eq!(Lang::choose(Some("xx"), None), Lang::En);
        assert_eq!(Lang::choose(None, Some("cy;q=0")), Lang::En);
        assert_eq!(Lang::choose(None, Some(";;,q=,")), Lang::En);
    }
}

//! The frame of every page: language, title, the skip link, the header with the navigation (View
//! Groups for everyone signed in, the operator pages for operators), the language switch and the
//! sign-out form.

use super::Ctx;
use maud::{DOCTYPE, Markup, html};

/// A whole HTML page.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let other = ctx.lang.other();
    let back = url::form_urlencoded::byte_serialize(ctx.here.as_bytes()).collect::<String>();
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (ctx.t("app-name")) }
                link rel="stylesheet" href="/console.css";
                script src="/console.js" defer {}
            }
            body {
                a.skip href="#main" { (ctx.t("skip-to-content")) }
                header {
                    p.brand { a href="/" { (ctx.t("app-name")) } }
                    @if let Some(person) = &ctx.person {
                        nav aria-label=(ctx.t("nav-label")) {
                            ul {
                                li { a href="/groups" { (ctx.t("nav-groups")) } }
                                @if person.operator {
                                    li { a href="/status" { (ctx.t("nav-status")) } }
                                    li { a href="/schools" { (ctx.t("nav-schools")) } }
                                    li { a href="/audit" { (ctx.t("nav-audit")) } }
                                }
                            }
                        }
                    }
                    div.who {
                        a.lang href={ "/lang/" (other.code()) "?back=" (back) } lang=(other.code()) hreflang=(other.code()) {
                            (ctx.t("lang-switch"))
                        }
                        @if let Some(person) = &ctx.person {
                            span.person { (ctx.tw("signed-in-as", &[("person", person.email.as_str().into())])) }
                            form method="post" action="/auth/sign-out" {
                                input type="hidden" name="csrf" value=(person.session.csrf);
                                button type="submit" { (ctx.t("sign-out")) }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

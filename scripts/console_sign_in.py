#!/usr/bin/env python3
"""Signs one account in to the console of a running `class-sync demo --serve` and prints its
session cookie (`name=value`), for load tools that cannot follow a sign-in themselves.

    scripts/console_sign_in.py BASE_URL EMAIL

It goes the way a browser goes: `/auth/sign-in` → the mocks' "Pick an account" page → the
account's button (a GET form with hidden fields) → the console's `/auth/callback`, keeping cookies
throughout. Standard library only.
"""
import html.parser
import http.cookiejar
import sys
import urllib.parse
import urllib.request


class PickPage(html.parser.HTMLParser):
    """The form's action and hidden fields, and whether the account has a button."""

    def __init__(self, email):
        super().__init__()
        self.email = email
        self.action = None
        self.fields = []
        self.has_account = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields.append((a.get("name"), a.get("value", "")))
        elif tag == "button" and a.get("data-username") == self.email:
            self.has_account = True


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: console_sign_in.py BASE_URL EMAIL")
    base, email = sys.argv[1].rstrip("/"), sys.argv[2]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/auth/sign-in", timeout=30) as answer:
        pick_url, page = answer.geturl(), answer.read().decode()
    pick = PickPage(email)
    pick.feed(page)
    if pick.action is None or not pick.has_account:
        sys.exit(f"no 'Pick an account' button for {email} at {pick_url}")
    query = urllib.parse.urlencode(pick.fields + [("username", email)])
    action = urllib.parse.urljoin(pick_url, pick.action)
    with opener.open(f"{action}?{query}", timeout=30) as answer:
        if not answer.geturl().startswith(base):
            sys.exit(f"the sign-in ended at {answer.geturl()}, not the console")
    session = [c for c in jar if c.name.endswith("session")]
    if not session:
        sys.exit(f"the console set no session cookie (cookies: {[c.name for c in jar]})")
    print(f"{session[0].name}={session[0].value}")


if __name__ == "__main__":
    main()

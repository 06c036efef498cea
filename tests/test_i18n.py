"""The interface's languages: choosing one from Accept-Language, and the message catalogs
(up to date with the sources, complete, and used).

English is the source language; every other language of ``comity.i18n.LOCALES`` has a
catalog that must translate every message of ``src/comity/locale/messages.pot``. How to
re-extract and update them is in ``docs/translating.md``.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from comity import i18n
from comity.i18n import LOCALES, negotiate, text_direction
from comity.node import Node
from comity.web.requests import LOCALE_COOKIE

# -- choosing the language ---------------------------------------------------------------

tags = st.sampled_from([*LOCALES, "de", "es", "zh", "*", "EN", "fr-CA", "ar-EG", "", "x-klingon"])
qualities = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1).map(lambda q: f"q={q:.3f}"),
    st.text(max_size=8),
)
headers = st.one_of(
    st.text(),
    st.lists(st.tuples(tags, qualities), max_size=6).map(
        lambda parts: ",".join(tag if q is None else f"{tag};{q}" for tag, q in parts)
    ),
)


@given(header=st.one_of(st.none(), headers), default=st.sampled_from(LOCALES))
def test_negotiate_always_returns_a_supported_locale(header: str | None, default: str) -> None:
    assert negotiate(header, default) in LOCALES


@given(
    ranked=st.lists(st.sampled_from(LOCALES), min_size=1, max_size=3, unique=True),
    default=st.sampled_from(LOCALES),
)
def test_the_supported_language_of_highest_quality_wins(ranked: list[str], default: str) -> None:
    """``ranked`` is best first; the header lists it worst first, behind unsupported ones."""
    parts = [f"{lang}-XX;q={0.3 + 0.2 * i:.1f}" for i, lang in enumerate(reversed(ranked))]
    header = ", ".join(["de;q=1.0", *parts, "es"])
    assert negotiate(header, default) == ranked[0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "fr"),
        ("", "fr"),
        ("de, es", "fr"),
        ("ar;q=0", "fr"),
        ("ar;q=zero", "fr"),
        ("AR", "ar"),
        ("en-GB, fr;q=0.9", "en"),
        ("de, fr;q=0.1, en;q=0.1", "fr"),
    ],
)
def test_negotiate_examples(header: str | None, expected: str) -> None:
    assert negotiate(header, "fr") == expected


def test_a_swiss_french_browser_gets_french() -> None:
    assert negotiate("fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert negotiate("fr-CH, fr;q=0.9, en;q=0.8", "ar") == "fr"


def test_arabic_is_written_right_to_left() -> None:
    assert {locale: text_direction(locale) for locale in LOCALES} == {
        "en": "ltr",
        "fr": "ltr",
        "ar": "rtl",
    }


# -- the catalogs ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src"
MAPPING = ROOT / "babel.cfg"
LOCALE_DIR = SOURCES / "comity" / "locale"
TEMPLATE = LOCALE_DIR / "messages.pot"
TRANSLATED = [code for code in LOCALES if code != "en"]

# The commands of docs/translating.md, run from the repository root.
EXTRACT = (
    "pybabel extract -F babel.cfg -o src/comity/locale/messages.pot"
    ' --project=Comity --version=0.1.0 --copyright-holder="Comity contributors"'
    ' --msgid-bugs-address="Comity contributors" --last-translator="Comity contributors"'
    ' --header-comment="# Translations template for PROJECT.'
    ' Copyright (C) ORGANIZATION; AGPL-3.0-or-later." src'
)
UPDATE = "pybabel update -i src/comity/locale/messages.pot -d src/comity/locale"

# A printf-style conversion: named ("%(name)s") or not ("%d"); "%%" is a literal percent.
CONVERSION = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[a-zA-Z%]")
# Jinja's newstyle ngettext passes the count as "num".
COUNT = "num"


def placeholders(text: str) -> set[str]:
    """The conversions of ``text``: names of named ones, the conversion itself otherwise."""
    found = set()
    for match in CONVERSION.finditer(text):
        if match.group(0) != "%%":
            found.add(match.group("name") or match.group(0))
    return found


def msgid_key(message: Message) -> str | tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else message.id


@cache
def template() -> Catalog:
    with TEMPLATE.open("rb") as handle:
        return read_po(handle)


@cache
def catalog(locale: str) -> Catalog:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    assert path.is_file(), f"no catalog for {locale!r}: create it with pybabel init (see docs)"
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=i18n.DOMAIN)


def msgids(messages: Catalog) -> set[str | tuple[str, ...]]:
    return {msgid_key(message) for message in messages if message.id}


@cache
def extracted_msgids() -> set[str | tuple[str, ...]]:
    """What ``pybabel extract -F babel.cfg ... src`` finds in the sources now."""
    with MAPPING.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(MAPPING))
    fresh = Catalog()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(SOURCES), method_map, options_map
    ):
        fresh.add(message, None, context=context)
    return msgids(fresh)


def one_valued_forms(locale: str) -> set[int]:
    """Plural forms that only ever apply to a single number (Arabic's 0, 1 and 2)."""
    plural = i18n.translations(locale).plural  # type: ignore[attr-defined]
    numbers: dict[int, set[int]] = {}
    for n in range(1000):
        numbers.setdefault(plural(n), set()).add(n)
    return {form for form, ns in numbers.items() if len(ns) == 1}


def test_template_is_up_to_date_with_the_sources() -> None:
    in_sources, in_template = extracted_msgids(), msgids(template())
    new, gone = in_sources - in_template, in_template - in_sources
    assert in_sources == in_template, (
        f"{TEMPLATE.relative_to(ROOT)} is out of date with the templates and Python sources"
        f" (new: {sorted(map(str, new))}; gone: {sorted(map(str, gone))}).\n"
        "From the repository root, re-extract and update every catalog:\n"
        f"  {EXTRACT}\n  {UPDATE}\n"
        "then translate the new messages in each src/comity/locale/*/LC_MESSAGES/messages.po"
        " (see docs/translating.md)."
    )


def test_extraction_does_not_trim_what_the_runtime_looks_up_untrimmed() -> None:
    """Extracted msgids equal runtime lookups only if both agree on trimming."""
    from comity.web.templating import environment

    with MAPPING.open(encoding="utf-8") as handle:
        _method_map, options_map = parse_mapping_cfg(handle, str(MAPPING))
    templates = [opts for pattern, opts in options_map.items() if "templates" in pattern]
    assert templates, "babel.cfg has no section for the templates"
    runtime = bool(environment("en").policies.get("ext.i18n.trimmed", False))
    for options in templates:
        extracted = options.get("trimmed", "false").lower() in {"1", "on", "yes", "true"}
        assert extracted == runtime, "babel.cfg and comity.web.templating disagree on trimming"


def test_every_locale_of_the_interface_has_a_catalog_and_no_other() -> None:
    on_disk = {path.parent.parent.name for path in LOCALE_DIR.glob("*/LC_MESSAGES/*.po")}
    assert on_disk == set(TRANSLATED)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_header(locale: str) -> None:
    po = catalog(locale)
    headers = dict(po.mime_headers)
    assert str(po.locale) == locale
    assert headers["Language"] == locale
    assert "charset=utf-8" in headers["Content-Type"].lower()
    assert "nplurals=" in headers.get("Plural-Forms", ""), "Plural-Forms header is missing"
    assert not po.fuzzy, "the header is marked fuzzy"
    for name, value in headers.items():
        assert "@" not in value, f"{name} holds an e-mail address; use 'Comity contributors'"
    if locale == "ar":
        assert po.num_plurals == 6


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_is_complete(locale: str) -> None:
    po = catalog(locale)
    expected = msgids(template())
    stale = expected ^ msgids(po)
    assert not stale, (
        f"{locale} catalog does not match the template ({sorted(map(str, stale))});"
        f" run from the repository root: {UPDATE}"
    )
    single = one_valued_forms(locale)
    problems: list[str] = []
    for source in template():
        if not source.id:
            continue
        message = po.get(source.id, context=source.context)
        assert message is not None
        if message.fuzzy:
            problems.append(f"fuzzy: {source.id!r}")
        if source.pluralizable:
            wanted = placeholders(source.id[0]) | placeholders(source.id[1])
            forms = message.string if isinstance(message.string, list | tuple) else ()
            if len(forms) != po.num_plurals:
                problems.append(f"{len(forms)} of {po.num_plurals} plural forms: {source.id!r}")
            for index, form in enumerate(forms):
                found = placeholders(form)
                # As msgfmt --check-format allows: a form used for one number only
                # ("one event", Arabic "two events") may leave the count out.
                optional = {COUNT} if index in single else set()
                if not form:
                    problems.append(f"untranslated form {index}: {source.id!r}")
                elif not (wanted - optional <= found <= wanted):
                    problems.append(f"placeholders {found} in form {index} of {source.id!r}")
        elif not message.string:
            problems.append(f"untranslated: {source.id!r}")
        elif placeholders(message.string) != placeholders(source.id):
            problems.append(
                f"placeholders {placeholders(message.string)} in {message.string!r},"
                f" want {placeholders(source.id)}"
            )
    assert not problems, f"{locale}: " + "\n".join(problems)


# -- the runtime uses them ---------------------------------------------------------------


def test_translations_are_looked_up() -> None:
    assert i18n.translations("fr").gettext("Sign in") == "Se connecter"
    assert i18n.translations("ar").gettext("Sign in") == "تسجيل الدخول"
    assert i18n.translations("en").gettext("Sign in") == "Sign in"
    arabic = i18n.translations("ar")
    forms = {arabic.ngettext("%(num)d event", "%(num)d events", n) for n in (0, 1, 2, 3, 11, 100)}
    assert len(forms) == 6, "Arabic has six plural forms"


def test_login_page_in_french_and_arabic(node: Node) -> None:
    from comity.web.app import create_app

    app = create_app(node)
    pages = {}
    for locale in ("fr", "ar"):
        with TestClient(
            app, base_url="https://testserver", cookies={LOCALE_COOKIE: locale}
        ) as client:
            response = client.get("/login")
        assert response.status_code == 200
        pages[locale] = html.unescape(response.text)
    assert '<html lang="ar" dir="rtl">' in pages["ar"]
    assert "تسجيل الدخول" in pages["ar"]
    assert "اسم المستخدم" in pages["ar"]
    assert '<html lang="fr" dir="ltr">' in pages["fr"]
    assert "Se connecter" in pages["fr"]
    assert "Nom d'utilisateur" in pages["fr"]
    for text in pages.values():
        assert "Sign in" not in text
        assert "User name" not in text

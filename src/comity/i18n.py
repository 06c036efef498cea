"""Languages of the interface and their message catalogs.

Catalogs are kept as gettext ``.po`` files under ``comity/locale`` (English is the source
language). They are compiled in memory when first needed, so a checkout works without a
build step. Arabic is laid out right to left.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

logger = logging.getLogger(__name__)

LOCALES: tuple[str, ...] = ("en", "fr", "ar")
LOCALE_NAMES: dict[str, str] = {"en": "English", "fr": "Français", "ar": "العربية"}
RTL_LOCALES = frozenset({"ar"})
DOMAIN = "messages"


def mark(message: str) -> str:
    """Mark a constant for translation where it is defined; templates translate it on use."""
    return message


def text_direction(locale: str) -> str:
    return "rtl" if locale in RTL_LOCALES else "ltr"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for ``locale``; English (the source) needs none."""
    if locale not in LOCALES or locale == "en":
        return NullTranslations()
    po_path = resources.files("comity") / "locale" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.is_file():
        # A broken installation should still show pages, in English, rather than fail.
        logger.error("message catalog for %r is missing at %s; showing English", locale, po_path)
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """Pick a supported locale from an ``Accept-Language`` header."""
    if not accept_language:
        return default
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, position, tag.strip().lower().split("-")[0]))
    for negative_quality, _, language in sorted(weighted):
        if negative_quality < 0 and language in LOCALES:
            return language
    return default

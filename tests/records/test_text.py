"""Folding for search: case, diacritics and the Arabic letter variants people mix."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from comity.records.text import MAX_WORD, fold, index_text, query_words, words


def test_latin_diacritics_and_case_fold_away() -> None:
    assert words("École Saint-Étienne, Straße") == ["ecole", "saint", "etienne", "strasse"]


def test_cyrillic_folds_case_and_marks() -> None:
    assert words("Харків ШКОЛА") == ["харків", "школа"]
    ukrainian_i = "\u0456"
    assert fold("Ї") == fold("ї") == fold(ukrainian_i) == ukrainian_i


def test_arabic_harakat_tatweel_and_letter_variants_fold() -> None:
    vowelled = "مَدْرَسَة"  # madrasa with short vowels and ta marbuta
    plain = "مدرسه"
    assert words(vowelled) == words(plain) == [plain]
    assert words("أحمد") == words("احمد") == words("إحمد")
    assert words("مـــدرسة") == [plain]


def test_punctuation_separates_and_long_runs_are_cut() -> None:
    assert index_text("a-b_c", "d.e") == "a b c d e"
    assert len(words("x" * 500)[0]) == MAX_WORD


def test_query_words_are_distinct_and_bounded() -> None:
    assert query_words("Market market MARKET shelling") == ["market", "shelling"]
    assert len(query_words(" ".join(f"w{n}" for n in range(50)))) == 12


@given(st.text())
def test_folding_is_idempotent_and_words_hold_only_letters_and_digits(text: str) -> None:
    once = index_text(text)
    assert index_text(once) == once
    for word in once.split():
        assert all(ch.isalnum() for ch in word)


@given(st.text())
def test_no_combining_mark_survives_folding(text: str) -> None:
    assert not any(unicodedata.combining(ch) for ch in fold(text))
    assert fold(text) == unicodedata.normalize("NFC", fold(text))

"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from hypothesis import assume, given
from hypothesis import strategies as st

from comity.errors import ValidationError
from comity.identity.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    check_policy,
    hash_password,
    needs_rehash,
    one_time_password,
    verify_password,
)

usernames = st.from_regex(r"[a-z0-9][a-z0-9._-]{1,10}[a-z0-9]", fullmatch=True)


def test_hashes_are_salted_argon2id_and_verify() -> None:
    password = "purple lantern over the harbour"
    first, second = hash_password(password), hash_password(password)
    assert first.startswith("$argon2id$")
    assert first != second
    assert password not in first
    assert verify_password(first, password)
    assert verify_password(second, password)
    assert not verify_password(first, password + "!")
    assert not verify_password(first, password.upper())


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA"])
def test_verify_refuses_missing_and_malformed_hashes(stored: str | None) -> None:
    assert verify_password(stored, "purple lantern over the harbour") is False


def test_weaker_hashes_need_rehashing() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("a password")
    assert verify_password(weak, "a password")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("a password"))


def refusal(password: str, username: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check_policy(password, username=username)
    assert caught.value.message
    return caught.value


@given(password=st.text(max_size=MIN_LENGTH - 1), username=usernames)
def test_short_passwords_are_refused(password: str, username: str) -> None:
    assert refusal(password, username).fields == {"password": "too_short"}


@given(
    password=st.text(min_size=MAX_LENGTH + 1, max_size=MAX_LENGTH + 50),
    username=usernames,
)
def test_overlong_passwords_are_refused(password: str, username: str) -> None:
    assert refusal(password, username).fields == {"password": "too_long"}


@given(
    before=st.text(max_size=20),
    after=st.text(max_size=20),
    username=usernames,
    shout=st.booleans(),
)
def test_passwords_containing_the_user_name_are_refused(
    before: str, after: str, username: str, shout: bool
) -> None:
    password = before + (username.upper() if shout else username) + after + "Zq9!#w@xY%vb"
    assert refusal(password, username).fields == {"password": "contains_name"}


@given(
    alphabet=st.lists(st.characters(), min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_passwords_of_few_distinct_characters_are_refused(
    alphabet: list[str], data: st.DataObject
) -> None:
    password = data.draw(
        st.text(alphabet=alphabet, min_size=MIN_LENGTH, max_size=MAX_LENGTH), label="password"
    )
    assert refusal(password, "").fields == {"password": "too_simple"}


@given(
    password=st.text(min_size=MIN_LENGTH, max_size=MAX_LENGTH).filter(lambda p: len(set(p)) >= 5),
    username=usernames,
)
def test_long_varied_passwords_without_the_name_are_accepted(password: str, username: str) -> None:
    assume(username not in password.lower())
    check_policy(password, username=username)


@given(username=usernames)
def test_the_policy_ignores_an_empty_user_name(username: str) -> None:
    check_policy(username + "-Zq9!#w@xY%vb", username="")


def test_one_time_passwords_are_long_and_fresh() -> None:
    issued = {one_time_password() for _ in range(50)}
    assert len(issued) == 50
    assert all(len(p) >= MIN_LENGTH for p in issued)

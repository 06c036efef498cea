"""The ledger against test material published by others (``../shared/testdata/ledger``).

Every transparency-dev probe and every CCTV vector is its own test. Where our rules differ
from transparency-dev's on purpose, the table below says so and the test pins our outcome.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from comity.ledger.errors import NoteError, ProofError
from comity.ledger.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    root_at,
)
from comity.ledger.note import NoteSigner, NoteVerifier, open_note, sign_note
from comity.ledger.proofs import verify_consistency, verify_inclusion
from conftest import cannot_run

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "ledger"
TRANSPARENCY_DEV = TESTDATA / "transparency-dev"
CCTV = TESTDATA / "cctv"

# Probes whose outcome we deliberately do not share (we assert the opposite of wantErr).
EXPECTED_TO_DIFFER = {
    # Equal sizes, equal roots, empty proof: fine by us too, but its roots are 12-byte
    # placeholders and we refuse every hash that is not 32 bytes (see merkle's docstring).
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty": "12 bytes long",
}

# Probes that expect an error because transparency-dev refuses any consistency proof from
# size 0. Our rule accepts the empty proof from the empty tree, so these agree with us only
# because something else is wrong with them; we pin that other reason. The probes from
# size 0 with a non-empty proof or a wrong old root fail for the same reason under both rules.
SAME_OUTCOME_OTHER_REASON = {
    "consistency/additional/size1-is-zero-and-size2-is-not-zero": "new root is 12 bytes",
    "consistency/additional/size1-is-zero-and-does-not-equal-size2": "old root is 12 bytes",
    "consistency/additional/sizes-are-equal-zero-and-proof-is-empty": "old root is 12 bytes",
}


@pytest.fixture(autouse=True)
def _testdata_present() -> None:
    if not TESTDATA.is_dir():
        cannot_run(f"the shared test data is not at {TESTDATA}")


def _missing() -> list[Any]:
    return [pytest.param(None, id="shared-testdata-missing")]


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _proof(items: list[str] | None) -> list[bytes]:
    return [_b64(item) for item in items or []]


def _probes(kind: str) -> list[Any]:
    if not TESTDATA.is_dir():
        return _missing()
    return [
        pytest.param(path, id=str(path.relative_to(TRANSPARENCY_DEV).with_suffix("")))
        for path in sorted((TRANSPARENCY_DEV / kind).rglob("*.json"))
    ]


def _outcome(name: str, want_err: bool, check: Any) -> None:
    if name in EXPECTED_TO_DIFFER:
        assert not want_err
        with pytest.raises(ProofError, match=EXPECTED_TO_DIFFER[name]):
            check()
    elif name in SAME_OUTCOME_OTHER_REASON:
        assert want_err
        with pytest.raises(ProofError, match=SAME_OUTCOME_OTHER_REASON[name]):
            check()
    elif want_err:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", _probes("inclusion"))
def test_transparency_dev_inclusion_probe(path: Path) -> None:
    probe = json.loads(path.read_text())
    _outcome(
        str(path.relative_to(TRANSPARENCY_DEV).with_suffix("")),
        probe["wantErr"],
        lambda: verify_inclusion(
            _b64(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            _proof(probe["proof"]),
            _b64(probe["root"]),
        ),
    )


@pytest.mark.parametrize("path", _probes("consistency"))
def test_transparency_dev_consistency_probe(path: Path) -> None:
    probe = json.loads(path.read_text())
    _outcome(
        str(path.relative_to(TRANSPARENCY_DEV).with_suffix("")),
        probe["wantErr"],
        lambda: verify_consistency(
            probe["size1"],
            probe["size2"],
            _b64(probe["root1"]),
            _b64(probe["root2"]),
            _proof(probe["proof"]),
        ),
    )


def test_the_size_zero_rule_is_where_we_differ_from_transparency_dev() -> None:
    """Their "size1 is zero and size2 is not zero" probe with a real root for size 1:
    transparency-dev refuses it, C2SP/CCTV and we accept it."""
    probe = json.loads(
        (
            TRANSPARENCY_DEV / "consistency/additional/size1-is-zero-and-size2-is-not-zero.json"
        ).read_text()
    )
    assert probe["wantErr"]
    assert probe["size1"] == 0
    assert probe["proof"] == []
    verify_consistency(0, probe["size2"], _b64(probe["root1"]), leaf_hash(b"a"), [])


# --- CCTV -------------------------------------------------------------------------------


def _cctv(name: str) -> list[Any]:
    if not TESTDATA.is_dir():
        return _missing()
    cases = json.loads((CCTV / f"{name}.json").read_text())
    return [
        pytest.param(case, id=f"{name}/{number}{_slug(case.get('comment', ''))}")
        for number, case in enumerate(cases)
    ]


def _slug(comment: str) -> str:
    """``mutated "old_size"`` becomes ``-mutated-old_size``."""
    words = re.findall(r"\w+", comment)
    return "".join(f"-{word}" for word in words)


def _cctv_leaves() -> list[bytes]:
    return [
        leaf_hash(case["leaf_data"].encode())
        for case in json.loads((CCTV / "merkle_tree.json").read_text())
    ]


@pytest.mark.parametrize("case", _cctv("merkle_tree"))
def test_cctv_tree_hash(case: dict[str, str]) -> None:
    leaves = _cctv_leaves()
    size = leaves.index(_b64(case["leaf_hash"])) + 1
    assert leaf_hash(case["leaf_data"].encode()) == _b64(case["leaf_hash"])
    assert root(leaves[:size]) == _b64(case["root_hash"])
    assert root_at(MemoryTree(leaves), size) == _b64(case["root_hash"])


@pytest.mark.parametrize("case", _cctv("inclusion-valid"))
def test_cctv_valid_inclusion(case: dict[str, Any]) -> None:
    path = _proof(case["inclusion_path"])
    verify_inclusion(
        _b64(case["leaf_hash"]),
        case["leaf_index"],
        case["tree_size"],
        path,
        _b64(case["root_hash"]),
    )
    # The vectors' tree is merkle_tree.json's: our own proof must be the same path.
    assert (
        inclusion_proof(MemoryTree(_cctv_leaves()), case["leaf_index"], case["tree_size"]) == path
    )


@pytest.mark.parametrize("case", _cctv("inclusion-invalid"))
def test_cctv_invalid_inclusion(case: dict[str, Any]) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(
            _b64(case["leaf_hash"]),
            case["leaf_index"],
            case["tree_size"],
            _proof(case["inclusion_path"]),
            _b64(case["root_hash"]),
        )


@pytest.mark.parametrize("case", _cctv("consistency-valid"))
def test_cctv_valid_consistency(case: dict[str, Any]) -> None:
    path = _proof(case["consistency_path"])
    verify_consistency(
        case["old_size"], case["new_size"], _b64(case["old_root"]), _b64(case["new_root"]), path
    )
    assert consistency_proof(MemoryTree(_cctv_leaves()), case["old_size"], case["new_size"]) == path


@pytest.mark.parametrize("case", _cctv("consistency-invalid"))
def test_cctv_invalid_consistency(case: dict[str, Any]) -> None:
    with pytest.raises(ProofError):
        verify_consistency(
            case["old_size"],
            case["new_size"],
            _b64(case["old_root"]),
            _b64(case["new_root"]),
            _proof(case["consistency_path"]),
        )


# --- Signed-note known answer -----------------------------------------------------------


@pytest.fixture
def kat() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TESTDATA / "signed-note-kat.json").read_text())
    return data


def test_signed_note_kat_signs_exactly(kat: dict[str, Any]) -> None:
    signer = NoteSigner.from_skey(kat["signer_key"])
    assert sign_note(kat["text"], [signer]) == kat["signed_by_peter"]
    assert signer.verifier().vkey == kat["verifier_keys"]["PeterNeumann"]


@pytest.mark.parametrize("name", ["PeterNeumann", "EnochRoot"])
def test_signed_note_kat_verifier_keys_round_trip(kat: dict[str, Any], name: str) -> None:
    vkey = kat["verifier_keys"][name]
    verifier = NoteVerifier.from_vkey(vkey)
    assert (verifier.name, verifier.vkey) == (name, vkey)


def test_signed_note_kat_opens_with_both_signatures(kat: dict[str, Any]) -> None:
    note = kat["signed_by_peter"] + kat["enoch_signature_line"]
    verifiers = [NoteVerifier.from_vkey(vkey) for vkey in kat["verifier_keys"].values()]
    assert open_note(note, verifiers) == (kat["text"], ["PeterNeumann", "EnochRoot"])
    assert open_note(note, verifiers[1:]) == (kat["text"], ["EnochRoot"])


@pytest.mark.parametrize("position", range(2))
def test_signed_note_kat_bad_verifier_keys(kat: dict[str, Any], position: int) -> None:
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey(kat["bad_verifier_keys"][position])


def test_signed_note_kat_any_changed_byte_is_rejected(kat: dict[str, Any]) -> None:
    """Each byte of the two-signature note, changed: a note whose text or whose signature
    line by a key changed no longer opens for that key."""
    note = (kat["signed_by_peter"] + kat["enoch_signature_line"]).encode()
    peter, enoch = (
        NoteVerifier.from_vkey(kat["verifier_keys"][n]) for n in ("PeterNeumann", "EnochRoot")
    )
    text_end = len(kat["text"].encode()) + 1  # the text and the blank line
    enoch_start = len(kat["signed_by_peter"].encode())
    for position in range(len(note)):
        changed = bytearray(note)
        changed[position] ^= 0x01
        affected = (
            [peter, enoch]
            if position < text_end
            else [peter]
            if position < enoch_start
            else [enoch]
        )
        for verifier in affected:
            with pytest.raises(NoteError):
                open_note(bytes(changed), [verifier])


def test_signed_note_kat_any_changed_key_character_is_rejected(kat: dict[str, Any]) -> None:
    for vkey in kat["verifier_keys"].values():
        for position in range(len(vkey)):
            changed = vkey[:position] + chr(ord(vkey[position]) ^ 0x01) + vkey[position + 1 :]
            with pytest.raises(NoteError):
                NoteVerifier.from_vkey(changed)

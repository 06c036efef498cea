"""The ciphertext of an envelope is a standard age file: the reference ``age`` tool
(Debian package ``age``) decrypts it with the recipient's key written as an age
identity, and finds the inner part the format document describes. A missing tool is a
"cannot run here"."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from comity.exchange.envelope_format import Attachment, parse_document
from comity.vault.age_keys import X25519Identity
from conftest import cannot_run
from exchange.enveloping import CONVERSATION, LEGAL_AID, NGO, PROSECUTOR, encryption, sealed


def _age() -> str:
    path = shutil.which("age")
    if path is None:
        cannot_run("the age command is not on PATH (install Debian's 'age' package)")
    assert path is not None
    return path


def test_age_decrypts_the_ciphertext_for_each_recipient(tmp_path: Path) -> None:
    age = _age()
    body = bytes(range(256)) * 300 + b"\n"
    evidence = Attachment("statement.pdf", 4096, "ef" * 32)
    data = sealed(
        body=body,
        attachments=[evidence],
        recipients={
            PROSECUTOR: encryption(PROSECUTOR).public_key(),
            LEGAL_AID: encryption(LEGAL_AID).public_key(),
        },
    )
    document = parse_document(data)
    ciphertext = tmp_path / "envelope.age"
    ciphertext.write_bytes(document.ciphertext)
    for node in (PROSECUTOR, LEGAL_AID):
        identity = X25519Identity(encryption(node).private_bytes_raw())
        key_file = tmp_path / f"{node}.key"
        key_file.write_text(identity.secret_text() + "\n")
        done = subprocess.run(  # noqa: S603 - the age tool, on files of this test
            [age, "-d", "-i", str(key_file), str(ciphertext)], capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        line, newline, rest = done.stdout.partition(b"\n")
        assert newline
        assert rest == body
        assert json.loads(line) == {
            "attachments": [{"name": "statement.pdf", "sha256": "ef" * 32, "size": 4096}],
            "conversation_id": CONVERSATION,
            "message_id": document.header.message_id,
            "sender": NGO,
            "sequence": 1,
            "type": "mla.request",
        }

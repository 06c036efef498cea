"""The report of a package check: the problems found, each naming the file, item or
ledger entry it concerns, and notes; and the check every listed file goes through (a
plain relative path inside the package, present, with the SHA-256 the manifest gives)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Problem:
    where: str
    """The file, item or ledger entry concerned."""
    what: str


@dataclass
class PackageReport:
    key: str = ""
    key_trusted: bool = False
    """False when the key was taken from the manifest rather than given by the verifier."""
    checkpoint_size: int = 0
    items: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def inside(root: Path, relative: object) -> Path | None:
    """``root / relative`` if ``relative`` is a plain relative path inside the package."""
    if not isinstance(relative, str) or not relative:
        return None
    pure = PurePosixPath(relative)
    if pure.is_absolute() or any(part in {"", ".", ".."} for part in pure.parts):
        return None
    return root.joinpath(*pure.parts)


def check_listed_file(
    report: PackageReport, root: Path, relative: object, sha256: object
) -> Path | None:
    """The listed file at ``relative``, if it is one; each problem is reported."""
    path = inside(root, relative)
    where = str(relative)
    if path is None:
        report.fail(where, "the path is not a plain relative path inside the package")
        return None
    if not path.is_file():
        report.fail(where, "the file is missing")
        return None
    if sha256_file(path) != sha256:
        report.fail(where, f"its SHA-256 is not {sha256}, the one in the manifest")
    return path

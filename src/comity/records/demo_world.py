"""The invented land of the demo data: its regions, districts and towns, and its names.

Nothing here is real. The land is an island that does not exist, placed in open ocean in
the South Atlantic (around 31° S, 24.5° W, hundreds of kilometres from any coast), so a
map shows at a glance that the places are made up. Its main town is Varesh, the town of
the project's scenarios; every other name is built from a small set of syllables, each
written in Latin, Cyrillic (Ukrainian spelling) and Arabic letters, so that the same
place can be named in the English, French, Ukrainian and Arabic descriptions the demo
writes. People's names are built from syllables too, in Latin letters only.

The land (:func:`towns`) is the same for every seed, so the examples the ``comity demo``
command prints work on every demo node; who and what happened where varies with the seed.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

# Each syllable in Latin, Cyrillic and Arabic letters.
_SYLLABLES = (
    ("va", "ва", "فا"),
    ("resh", "реш", "رش"),
    ("tol", "тол", "تول"),
    ("mar", "мар", "مار"),
    ("ka", "ка", "كا"),
    ("lin", "лін", "لين"),
    ("do", "до", "دو"),
    ("sa", "са", "سا"),  # noqa: RUF001 - Cyrillic letters
    ("ren", "рен", "رين"),
    ("bo", "бо", "بو"),  # noqa: RUF001 - Cyrillic letters
    ("vel", "вел", "فيل"),
    ("na", "на", "نا"),
    ("zir", "зір", "زير"),
    ("ta", "та", "تا"),
    ("mo", "мо", "مو"),
    ("dar", "дар", "دار"),
    ("ri", "рі", "ري"),  # noqa: RUF001 - Cyrillic letters
    ("kon", "кон", "كون"),
    ("lo", "ло", "لو"),
    ("gar", "гар", "غار"),  # noqa: RUF001 - Cyrillic letters
    ("hel", "гел", "هيل"),
    ("pra", "пра", "برا"),
    ("sel", "сел", "سيل"),
    ("nor", "нор", "نور"),
)
_VARESH = (_SYLLABLES[0], _SYLLABLES[1])
# Syllables can happen to spell a real name; those noticed are not used for places.
_REAL = frozenset({"Karen", "Nahel", "Marren", "Vaka", "Saka", "Lolo", "Kalin", "Mona", "Kari"})
# The island's centre, and where each region's centre lies from it (degrees).
CENTRE = (-31.0, -24.5)
_REGION_OFFSETS = ((0.55, -0.7), (0.5, 0.65), (-0.5, -0.6), (-0.55, 0.7))
_DISTRICTS_PER_REGION = 3
_TOWNS_PER_DISTRICT = 4

_FEMALE_ENDINGS = ("a", "ia", "ine", "el", "e")
_MALE_ENDINGS = ("", "an", "or", "ek", "im")
_FAMILY_ENDINGS = ("i", "an", "el", "ur", "es", "")


@dataclass(frozen=True)
class Name:
    """A name of the invented land in the three alphabets the demo writes."""

    latin: str
    cyrillic: str
    arabic: str


@dataclass(frozen=True)
class Town:
    name: Name
    district: Name
    region: Name
    latitude: float
    longitude: float
    weight: int


def _compose(parts: tuple[tuple[str, str, str], ...]) -> Name:
    latin = "".join(part[0] for part in parts)
    cyrillic = "".join(part[1] for part in parts)
    return Name(latin.capitalize(), cyrillic.capitalize(), "".join(part[2] for part in parts))


def place_name(rng: random.Random, taken: set[str] | None = None) -> Name:
    """A new place name of two or three syllables, not among ``taken`` (which it joins)."""
    taken = set() if taken is None else taken
    while True:
        count = rng.choice((2, 3, 3))
        name = _compose(tuple(rng.choice(_SYLLABLES) for _ in range(count)))
        if name.latin not in taken:
            taken.add(name.latin)
            return name


@functools.cache
def towns() -> tuple[Town, ...]:
    """Every town of the land, the same for every seed. Varesh, the first, weighs most:
    more incidents happen in the larger towns."""
    rng = random.Random("varesh-geography")  # noqa: S311 - invented places, not secrets
    varesh = _compose(_VARESH)
    taken = {varesh.latin, *_REAL}
    made: list[Town] = []
    for region_number, (north, east) in enumerate(_REGION_OFFSETS):
        region = varesh if region_number == 0 else place_name(rng, taken)
        for district_number in range(_DISTRICTS_PER_REGION):
            district = varesh if made == [] else place_name(rng, taken)
            d_lat = CENTRE[0] + north + rng.uniform(-0.3, 0.3)
            d_lon = CENTRE[1] + east + rng.uniform(-0.35, 0.35)
            for town_number in range(_TOWNS_PER_DISTRICT):
                first = made == []
                name = varesh if first else place_name(rng, taken)
                weight = 12 if first else 4 if town_number == 0 else 1 + district_number % 2
                made.append(
                    Town(
                        name=name,
                        district=district,
                        region=region,
                        latitude=round(d_lat + (0 if first else rng.uniform(-0.12, 0.12)), 5),
                        longitude=round(d_lon + (0 if first else rng.uniform(-0.14, 0.14)), 5),
                        weight=weight,
                    )
                )
    return tuple(made)


def regions() -> tuple[Name, ...]:
    """The land's regions (admin1), in order."""
    seen: dict[str, Name] = {}
    for town in towns():
        seen.setdefault(town.region.latin, town.region)
    return tuple(seen.values())


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_SYLLABLES)[0] for _ in range(syllables))


def person_name(rng: random.Random, sex: str) -> str:
    """An invented given and family name; the given name follows ``sex`` when known."""
    endings: tuple[str, ...] = _FEMALE_ENDINGS + _MALE_ENDINGS
    if sex in ("female", "male"):
        endings = _FEMALE_ENDINGS if sex == "female" else _MALE_ENDINGS
    given = (_word(rng, rng.choice((1, 2))) + rng.choice(endings)).capitalize()
    family = (_word(rng, rng.choice((2, 3))) + rng.choice(_FAMILY_ENDINGS)).capitalize()
    return f"{given} {family}"


def unit_name(rng: random.Random) -> str:
    """An invented proper name for a unit or an outlet, in Latin letters."""
    return _word(rng, rng.choice((2, 3))).capitalize()

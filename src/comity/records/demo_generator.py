"""The demo's records, invented one after another from a seed.

:class:`DemoGenerator` invents the records of a documented conflict in the land of
:mod:`comity.records.demo_world` and hands each to a function that stores it and returns
its id (a :class:`~comity.records.bulk.BulkWriter`'s ``add``, or a recorder in tests):
first the armed units with their chain of command and commanders, the monitoring
network's interviewers and the sources (:meth:`DemoGenerator.foundation`), then one
incident at a time with its victims, witnesses and acts (:meth:`DemoGenerator.incident`).

Everything comes from one ``random.Random(seed)``: the same seed and number of incidents
give the same records, field for field, whatever ids the store gives them (ids only flow
into links, never into choices). Every record's reference starts with ``DEMO-``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from comity.records.demo_harms import HARMS
from comity.records.demo_stories import (
    ATTACK,
    FICTIONAL,
    LANGUAGE_WEIGHTS,
    LANGUAGES,
    MEANS,
    OCCUPATIONS,
    TARGETS,
    TIMES_OF_DAY,
    Story,
)
from comity.records.demo_world import Name, Town, person_name, regions, towns, unit_name
from comity.records.schema import AGE_BANDS, Kind

PREFIX = "DEMO-"
STORIES = (ATTACK, *HARMS)
FIRST_DAY = dt.date(2019, 1, 1)
LAST_DAY = dt.date(2024, 12, 31)
NOTE = "Fictional, generated for the Comity demo."
NO_ITEMS: Mapping[str, Sequence[str]] = {}

SOURCE_TYPES = (
    "interview",
    "social media post",
    "local media report",
    "medical record",
    "NGO field report",
    "satellite imagery analysis",
)

AddRecord = Callable[[Kind, dict[str, Any]], str]
"""Stores a record of a kind with these values and returns its id."""


@dataclass(frozen=True)
class _Organisation:
    id: str
    name: str


@dataclass(frozen=True)
class _Unit:
    """A unit incidents name as suspected perpetrator, where it operates ("" anywhere)."""

    id: str
    name: str
    commander: str
    region: str
    state: bool


def _link(kind: str, target: str) -> dict[str, str]:
    return {"type": kind, "target": target}


def _band(age: int) -> str:
    return next(code for code, upper in AGE_BANDS if age <= upper)


class DemoGenerator:
    """Invents the demo's records in a fixed order from ``seed`` (see the module)."""

    def __init__(self, seed: int, incidents: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - invented data, not secrets
        self._incidents = incidents
        self._towns = towns()
        self._weights = [town.weight for town in self._towns]
        self._story_weights = [story.weight for story in STORIES]
        self._numbers: Counter[str] = Counter()
        self._actors: list[_Unit] = []
        self._interviewers: list[str] = []
        self._sources: list[str] = []

    def _reference(self, code: str) -> str:
        self._numbers[code] += 1
        return f"{PREFIX}{code}-{self._numbers[code]:07d}"

    # The foundation: units, commanders, interviewers and sources.

    def foundation(self, add: AddRecord) -> None:
        rng = self._rng
        for _ in range(6):
            sex = rng.choice(("female", "male"))
            interviewer = "Interviewer of the Varesh Monitoring Network (fictional)."
            self._interviewers.append(
                self._person(add, sex, rng.randint(26, 58), "documenter", interviewer)
            )
        army = self._unit(add, "Littoral Defence Forces", "armed-forces.army")
        militia = self._unit(
            add, f"{unit_name(rng)} Volunteer Militia", "militia.pro-government", actor=""
        )
        for number, region in enumerate(regions()):
            commanding = [_link("commands", militia.id)] if number == 0 else []
            command = self._unit(
                add, f"{region.latin} Operational Command", "armed-forces.army", army, commanding
            )
            for _ in range(2):
                brigade = self._unit(
                    add, f"{unit_name(rng)} Brigade", "armed-forces.army", command, actor=region
                )
                for battalion in ("1st", "2nd"):
                    name = f"{battalion} Battalion, {brigade.name}"
                    self._unit(add, name, "armed-forces.army", brigade, actor=region)
        guard = self._unit(add, "Internal Guard", "paramilitary.internal-troops")
        for number, region in enumerate(regions()[:2], start=1):
            name = f"Internal Guard Detachment {number}"
            self._unit(add, name, "paramilitary.internal-troops", guard, actor=region)
        self._unit(add, "Directorate of Public Order", "police.public-order", actor="")
        front = self._unit(
            add, f"{unit_name(rng)} Liberation Front", "non-state-armed-group.insurgent"
        )
        for region in regions():
            name = f"{unit_name(rng)} Company"
            kind = "non-state-armed-group.insurgent"
            self._unit(add, name, kind, front, actor=region, state=False)
        for _ in range(min(2000, max(12, self._incidents // 25))):
            self._sources.append(self._source(add))

    def _unit(
        self,
        add: AddRecord,
        name: str,
        kind: str,
        parent: _Organisation | None = None,
        links: list[dict[str, str]] | None = None,
        *,
        actor: Name | str | None = None,
        state: bool = True,
    ) -> _Organisation:
        """An organisation, part of ``parent``, and its commander; ``actor`` makes it one
        that incidents name as suspected perpetrator (in that region; "" anywhere)."""
        values = {
            "reference": self._reference("ORG"),
            "name": name,
            "organisation_type": kind,
            "notes": NOTE,
            "links": [*([_link("part_of", parent.id)] if parent else []), *(links or [])],
        }
        unit_id = add(Kind.ORGANISATION, values)
        rng = self._rng
        rank = rng.choice(("Colonel", "Major", "Commander", "Captain"))
        commander = self._person(
            add,
            rng.choice(("male", "male", "female")),
            rng.randint(35, 62),
            "officer",
            f"{rank}, commander of the {name} (fictional).",
            links=[_link("member_of", unit_id), _link("commands", unit_id)],
        )
        if actor is not None:
            region = actor.latin if isinstance(actor, Name) else actor
            self._actors.append(_Unit(unit_id, name, commander, region, state))
        return _Organisation(unit_id, name)

    def _source(self, add: AddRecord) -> str:
        rng = self._rng
        town = rng.choices(self._towns, self._weights)[0].name.latin
        kind = rng.choices(SOURCE_TYPES, (40, 15, 15, 10, 15, 5))[0]
        names = {
            "interview": lambda: person_name(rng, rng.choice(("female", "male"))),
            "social media post": lambda: f"Channel of {unit_name(rng)} Today",
            "local media report": lambda: f"The {town} {rng.choice(('Courier', 'Radio'))}",
            "medical record": lambda: f"{town} District Hospital",
        }
        name = names.get(kind, lambda: f"{kind[0].upper()}{kind[1:]}, {town}")()
        interview = kind == "interview"
        return add(
            Kind.SOURCE,
            {
                "reference": self._reference("SRC"),
                "name": name,
                "source_type": kind,
                "reliability": rng.choices("abcdef", (10, 35, 30, 10, 5, 10))[0],
                "credibility": rng.choices("123456", (10, 35, 30, 10, 5, 10))[0],
                "protected": interview and rng.random() < 0.4,
                "notes": NOTE,
                "links": [_link("interviewer", rng.choice(self._interviewers))]
                if interview
                else [],
            },
        )

    def _person(
        self,
        add: AddRecord,
        sex: str,
        age: int | None,
        occupation: str,
        notes: str,
        *,
        protected: bool = False,
        links: list[dict[str, str]] | None = None,
        town: Town | None = None,
    ) -> str:
        """A person, with an age given exactly, as a band, or not known."""
        rng = self._rng
        values: dict[str, Any] = {
            "reference": self._reference("PER"),
            "name": person_name(rng, sex),
            "sex": sex,
            "occupation": occupation,
            "notes": f"{notes} {NOTE}",
            "protected": protected,
            "links": links or [],
        }
        shown = rng.random()
        if age is None or shown > 0.85:
            values["age_band"] = "unknown"
        elif shown < 0.55:
            values["age"] = age
        else:
            values["age_band"] = _band(age)
        if town is not None and rng.random() < 0.3:
            values["address"] = f"{rng.randint(1, 90)} {unit_name(rng)} Street, {town.name.latin}"
        return add(Kind.PERSON, values)

    # Incidents, one at a time.

    def _date(self) -> tuple[str, int]:
        """A date in one of the notations of :mod:`comity.records.dates`, and an hour."""
        rng = self._rng
        day = FIRST_DAY + dt.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
        hour, minute = rng.choice((2, 7, 9, 10, 11, 13, 15, 17, 19, 21)), rng.randrange(0, 60, 5)
        moment = f"{day}T{hour:02d}:{minute:02d}"
        month = f"{day:%Y-%m}"
        until = f"{day}T{min(hour + rng.randint(1, 3), 23):02d}:{minute:02d}"
        # Each notation, and how often it is written (in hundredths).
        notations: tuple[tuple[int, Callable[[], str]], ...] = (
            (28, lambda: moment),
            (24, lambda: str(day)),
            (14, lambda: f"{moment}/{until}"),
            (8, lambda: f"{day}/{day + dt.timedelta(days=rng.randint(1, 4))}"),
            (9, lambda: month),
            (7, lambda: f"{rng.choice((str(day), month))}~"),
            (6, lambda: f"../{day}"),
            (2, lambda: f"{month}/.."),
            (2, lambda: f"{day:%Y}"),
        )
        write = rng.choices([n for _, n in notations], [w for w, _ in notations])[0]
        return write(), hour

    def _perpetrator(self, story: Story, town: Town) -> _Unit:
        near = [
            unit
            for unit in self._actors
            if unit.region in ("", town.region.latin) and (unit.state or not story.by_state)
        ]
        return self._rng.choice(near)

    def _victim(self, add: AddRecord, story: Story, town: Town) -> tuple[str, str]:
        """A victim of ``story``, and what happened to them."""
        rng = self._rng
        sex = story.sex or rng.choices(("female", "male", "unknown"), (45, 50, 5))[0]
        age = rng.randint(*story.ages)
        outcome = story.outcome
        if story is ATTACK:
            outcome = rng.choice(("Killed", "Injured", "Injured"))
        occupation = story.occupation or ("pupil" if age < 18 else rng.choice(OCCUPATIONS))
        protected = rng.random() < story.protected or (age < 18 and rng.random() < 0.5)
        victim = self._person(
            add, sex, age, occupation, f"{outcome}.", protected=protected, town=town
        )
        return victim, outcome

    def _witness(self, add: AddRecord, town: Town) -> str:
        rng = self._rng
        sex, age = rng.choice(("female", "male")), rng.randint(18, 80)
        protected = rng.random() < 0.25
        occupation = rng.choice(OCCUPATIONS)
        return self._person(add, sex, age, occupation, "Witness.", protected=protected, town=town)

    def incident(self, add: AddRecord, evidence: Mapping[str, Sequence[str]] = NO_ITEMS) -> None:
        """One incident with its victims, witnesses and acts; ``evidence`` names the items
        to link by incident reference (they change no other choice)."""
        rng = self._rng
        reference = self._reference("INC")
        story = rng.choices(STORIES, self._story_weights)[0]
        town = rng.choices(self._towns, self._weights)[0]
        language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        date, hour = self._date()
        unit = self._perpetrator(story, town)
        harmed = [self._victim(add, story, town) for _ in range(rng.randint(*story.victims))]
        victims = [victim for victim, _ in harmed]
        witnesses = [self._witness(add, town) for _ in range(rng.choice((0, 1, 1, 1, 2)))]
        event_type = rng.choice(story.event_types)
        target = TARGETS[rng.choice(story.targets)] if story.targets else None
        killed = sum(1 for _, outcome in harmed if outcome == "Killed")
        injured = sum(1 for _, outcome in harmed if outcome == "Injured")
        other = rng.choice(self._towns)
        words = {
            "when": next(w for start, w in reversed(TIMES_OF_DAY) if hour >= start)[language],
            "place": _in(town.name, language),
            "district": _in(town.district, language),
            "other": _in(other.name, language),
            "target": target.words[language] if target else "",
            "means": MEANS.get(event_type, {}).get(language, ""),
            "unit": f"the {unit.name}",
            "killed": killed,
            "injured": injured + rng.randint(0, 5),
        }
        description = rng.choice(story.descriptions[language]).format(**words)
        sources = rng.sample(self._sources, rng.choice((1, 1, 2)))
        links = [
            *(_link("victim", v) for v in victims),
            *(_link("witness", w) for w in witnesses),
            _link("suspected_perpetrator", unit.id),
            *(_link("source", s) for s in sources),
            *([_link("interviewer", rng.choice(self._interviewers))] if rng.random() < 0.6 else []),
            *(_link("evidence", item) for item in evidence.get(reference, ())),
        ]
        incident_id = add(
            Kind.INCIDENT,
            {
                "reference": reference,
                "title": story.titles[language].format(**words),
                "description": f"{description} {FICTIONAL[language]}",
                "date": date,
                "place": town.name.latin,
                "admin2": town.district.latin,
                "admin1": town.region.latin,
                "latitude": round(town.latitude + rng.uniform(-0.01, 0.01), 6),
                "longitude": round(town.longitude + rng.uniform(-0.01, 0.01), 6),
                "precision_m": rng.choice((10, 50, 100, 500, 1000, 5000)),
                "event_types": [event_type],
                "violations": [*story.violations, *([target.violation] if target else [])],
                "links": links,
            },
        )
        acts = (*story.acts, *([target.act] if target and target.act else []))
        for act in acts:
            if act.chance < 1 and rng.random() >= act.chance:
                continue
            by = [unit.id, *([unit.commander] if rng.random() < 0.3 else [])]
            add(
                Kind.ACT,
                {
                    "reference": self._reference("ACT"),
                    "incident": incident_id,
                    "crimes": list(act.crimes),
                    "violations": list(act.violations),
                    "date": date if rng.random() < 0.7 else "",
                    "description": f"{act.phrase}, {town.name.latin}.",
                    "links": [
                        *(_link("victim", v) for v in (victims if act.victims else [])),
                        *(_link("suspected_perpetrator", b) for b in by),
                    ],
                },
            )


def _in(name: Name, language: str) -> str:
    """A place's name as a text in ``language`` writes it."""
    return {"ar": name.arabic, "uk": name.cyrillic}.get(language, name.latin)


def plan(
    seed: int, incidents: int, *, upto: int | None = None
) -> list[tuple[Kind, dict[str, Any]]]:
    """The records a demo of ``incidents`` incidents from ``seed`` writes, in order, with
    links naming references instead of ids; only up to the ``upto``-th incident if given."""
    made: list[tuple[Kind, dict[str, Any]]] = []

    def keep(kind: Kind, values: dict[str, Any]) -> str:
        made.append((kind, values))
        return str(values["reference"])

    generator = DemoGenerator(seed, incidents)
    generator.foundation(keep)
    for _ in range(incidents if upto is None else min(upto, incidents)):
        generator.incident(keep)
    return made

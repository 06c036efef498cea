"""What happens in the demo data: kinds of incident, their classification and their words.

Each :class:`Story` is one kind of incident a monitor documents in an armed conflict not
of an international character: its conflict event types, the violations of the incident,
the acts it is made of (each classified with Rome Statute terms and violation types
consistent with what happened), who its victims are, and a title and description in
English, French, Arabic and Ukrainian, with slots for the place, the time of day and,
for attacks, the target. This module holds the types, the attacks (:data:`ATTACK`, with
their means and targets) and the words every story shares; the other harms are in
:mod:`comity.records.demo_harms`. Codes are those of the shipped vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LANGUAGES = ("en", "fr", "ar", "uk")
# How often each language is written, in hundredths.
LANGUAGE_WEIGHTS = (70, 10, 10, 10)

# The time of day (by the hour it begins), in each language.
TIMES_OF_DAY = (
    (0, {"en": "At night", "fr": "Pendant la nuit", "ar": "ليلاً", "uk": "Вночі"}),
    (6, {"en": "In the morning", "fr": "Le matin", "ar": "في الصباح", "uk": "Вранці"}),
    (11, {"en": "Around noon", "fr": "Vers midi", "ar": "عند الظهر", "uk": "Опівдні"}),
    (13, {"en": "In the afternoon", "fr": "L'après-midi", "ar": "بعد الظهر", "uk": "По обіді"}),
    (18, {"en": "In the evening", "fr": "En soirée", "ar": "في المساء", "uk": "Увечері"}),
    (22, {"en": "At night", "fr": "Pendant la nuit", "ar": "ليلاً", "uk": "Вночі"}),
)


@dataclass(frozen=True)
class Act:
    """One act of a story: its crimes, violations, a phrase, and whether victims are named."""

    crimes: tuple[str, ...]
    violations: tuple[str, ...]
    phrase: str
    victims: bool = True
    chance: float = 1.0


@dataclass(frozen=True)
class Target:
    """What an attack hit: words in each language, and the act it adds."""

    words: dict[str, str]
    violation: str
    act: Act | None = None


@dataclass(frozen=True)
class Story:
    key: str
    weight: int
    event_types: tuple[str, ...]
    violations: tuple[str, ...]
    acts: tuple[Act, ...]
    victims: tuple[int, int]
    titles: dict[str, str]
    descriptions: dict[str, tuple[str, ...]]
    outcome: str = "Injured"
    sex: str = ""
    ages: tuple[int, int] = (1, 85)
    protected: float = 0.15
    occupation: str = ""
    by_state: bool = True
    targets: tuple[str, ...] = field(default=())


_CIVILIANS = Act(("art8.2.e.i",), ("life.conflict-killing",), "Attack directed against civilians")
_SCHOOL_OR_HOSPITAL = Act(
    ("art8.2.e.iv",), (), "Attack on a building dedicated to education or a hospital", False
)
TARGETS = {
    "market": Target(
        {"en": "the market", "fr": "du marché", "ar": "السوق", "uk": "ринку"},
        "hostilities.direct-attack",
    ),
    "school": Target(
        {"en": "the school", "fr": "de l'école", "ar": "المدرسة", "uk": "школи"},
        "children.schools-hospitals",
        _SCHOOL_OR_HOSPITAL,
    ),
    "hospital": Target(
        {"en": "the hospital", "fr": "de l'hôpital", "ar": "المستشفى", "uk": "лікарні"},
        "property.medical",
        _SCHOOL_OR_HOSPITAL,
    ),
    "homes": Target(
        {
            "en": "a residential quarter",
            "fr": "d'un quartier résidentiel",
            "ar": "حي سكني",
            "uk": "житлового кварталу",
        },
        "property.homes",
    ),
    "bread": Target(
        {
            "en": "a bread queue",
            "fr": "d'une file d'attente devant la boulangerie",
            "ar": "طابور الخبز",
            "uk": "черги за хлібом",
        },
        "hostilities.direct-attack",
    ),
    "water": Target(
        {
            "en": "the water pumping station",
            "fr": "de la station de pompage",
            "ar": "محطة ضخ المياه",
            "uk": "водонасосної станції",
        },
        "property.objects-indispensable",
    ),
}
# Means of attack: event type, and the words that start a title in each language.
MEANS = {
    "indirect-fire.artillery-mortar": {
        "en": "Shelling of",
        "fr": "Bombardement",
        "ar": "قصف مدفعي على",
        "uk": "Обстріл",
    },
    "indirect-fire.rocket": {
        "en": "Rocket attack on",
        "fr": "Tir de roquettes aux abords",
        "ar": "هجوم صاروخي على",
        "uk": "Ракетний обстріл",
    },
    "aerial-attack.armed-drone": {
        "en": "Drone strike on",
        "fr": "Frappe de drone aux abords",
        "ar": "غارة بطائرة مسيّرة على",
        "uk": "Удар безпілотника в районі",
    },
}

ATTACK = Story(
    key="attack",
    weight=34,
    event_types=tuple(MEANS),
    violations=("hostilities.indiscriminate",),
    acts=(_CIVILIANS,),
    victims=(1, 4),
    targets=tuple(TARGETS),
    outcome="Killed",
    by_state=False,
    titles={
        "en": "{means} {target} in {place}",
        "fr": "{means} {target} à {place}",
        "ar": "{means} {target} في {place}",
        "uk": "{means} {target}, {place}",
    },
    descriptions={
        "en": (
            "{when}, an attack hit {target} in {place}, {district} district. Victims: "
            "{killed} killed, {injured} injured, according to witnesses. Residents said no "
            "armed personnel were present in the area.",
            "Witnesses in {place} describe a strike on {target} while people were gathered "
            "there. Medical staff counted {killed} killed and {injured} injured. Fragments "
            "were collected at the site and photographed.",
        ),
        "fr": (
            "{when}, des projectiles ont frappé les abords {target} à {place}, dans le "
            "district de {district}. Bilan selon les témoins : {killed} morts, {injured} "
            "blessés. Aucune présence militaire n'a été signalée sur place.",
        ),
        "ar": (
            "{when} استهدف هجوم {target} في {place} بمنطقة {district}. وبحسب شهود عيان بلغ "
            "عدد القتلى {killed} وعدد الجرحى {injured}، ولم يكن هناك أي وجود عسكري في المكان.",
        ),
        "uk": (
            "{when} снаряди влучили в район {target} в громаді {place} (район {district}). "
            "Як повідомляють свідки, кількість загиблих: {killed}, поранених: {injured}. "
            "Військових поблизу не було.",
        ),
    },
)


# The end of every description, so nobody mistakes a demo record for a real one.
FICTIONAL = {
    "en": "Fictional record generated for the Comity demo.",
    "fr": "Fiche fictive créée pour la démonstration de Comity.",
    "ar": "سجل خيالي أُنشئ لعرض Comity.",
    "uk": "Вигаданий запис, створений для демонстрації Comity.",
}
OCCUPATIONS = (
    "farmer", "teacher", "student", "nurse", "driver", "shopkeeper", "baker", "mechanic",
    "fisher", "labourer", "doctor", "engineer", "retired", "tailor", "electrician",
)  # fmt: skip

"""The guard instruction compiler: a table of instructions and the exact rules they become."""

from __future__ import annotations

from typing import Any

import pytest

from orin.guards.amounts import CROWD_SIZE, HIGH_CONFIDENCE, LOITER_DWELL_S, LOW_CONFIDENCE
from orin.guards.compiler import MAX_INSTRUCTION_CHARS, Compilation, compile_instruction
from orin.guards.objects import SIMILARITY_THRESHOLD
from orin.guards.rule import LEFT_OBJECT_DWELL_S, ObjectClass, Rule
from orin.text import TextEmbedder, default_embedder

ZONES = ["front door", "driveway", "yard", "porch", "gate"]

PERSON = ObjectClass.PERSON
CAR = ObjectClass.CAR
TRUCK = ObjectClass.TRUCK
BUS = ObjectClass.BUS
MOTORCYCLE = ObjectClass.MOTORCYCLE
BICYCLE = ObjectClass.BICYCLE
PACKAGE = ObjectClass.PACKAGE
DOG = ObjectClass.DOG
CAT = ObjectClass.CAT
BIRD = ObjectClass.BIRD
ANIMALS = [DOG, CAT, BIRD, ObjectClass.HORSE, ObjectClass.SHEEP, ObjectClass.COW, ObjectClass.BEAR]
VEHICLES = [CAR, TRUCK, BUS, MOTORCYCLE]
WEEKDAYS = [0, 1, 2, 3, 4]
WEEKEND = [5, 6]


def rule(*objects: ObjectClass, **fields: Any) -> Rule:
    """The expected rule: every field not given keeps its default."""
    return Rule.model_validate({"objects": list(objects), **fields})


def win(start: str, end: str, days: list[int] | None = None) -> dict[str, Any]:
    return {"days": days or list(range(7)), "start": start, "end": end}


def windows(*items: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "windows", "windows": list(items)}


NIGHT = {"kind": "night"}
DAY = {"kind": "day"}

VALID = [
    # objects and synonyms
    pytest.param(
        "Alert me if someone is at the front door",
        rule(PERSON, zones=["front door"]),
        id="someone-front-door",
    ),
    pytest.param("people in the yard", rule(PERSON, zones=["yard"]), id="people"),
    pytest.param("anyone on the porch", rule(PERSON, zones=["porch"]), id="anyone"),
    pytest.param("somebody at the gate", rule(PERSON, zones=["gate"]), id="somebody"),
    pytest.param("an intruder in the yard", rule(PERSON, zones=["yard"]), id="intruder"),
    pytest.param("a man or a woman at the gate", rule(PERSON, zones=["gate"]), id="man-woman"),
    pytest.param("a child in the driveway", rule(PERSON, zones=["driveway"]), id="child"),
    pytest.param("a burglar in the yard", rule(PERSON, zones=["yard"]), id="burglar"),
    pytest.param(
        "tell me about visitors at the front door",
        rule(PERSON, zones=["front door"]),
        id="visitors",
    ),
    pytest.param("a car in the driveway", rule(CAR, zones=["driveway"]), id="car"),
    pytest.param("any vehicle in the driveway", rule(*VEHICLES, zones=["driveway"]), id="vehicle"),
    pytest.param("a van in the driveway", rule(CAR, TRUCK, zones=["driveway"]), id="van"),
    pytest.param("a truck at the gate", rule(TRUCK, zones=["gate"]), id="truck"),
    pytest.param("a lorry at the gate", rule(TRUCK, zones=["gate"]), id="lorry"),
    pytest.param("a bike in the driveway", rule(BICYCLE, zones=["driveway"]), id="bike"),
    pytest.param(
        "a bicycle or a motorbike in the driveway",
        rule(BICYCLE, MOTORCYCLE, zones=["driveway"]),
        id="bicycle-motorbike",
    ),
    pytest.param(
        "a motorcycle in the driveway", rule(MOTORCYCLE, zones=["driveway"]), id="motorcycle"
    ),
    pytest.param("a bus at the gate", rule(BUS, zones=["gate"]), id="bus"),
    pytest.param("a parcel on the porch", rule(PACKAGE, zones=["porch"]), id="parcel"),
    pytest.param("a box at the front door", rule(PACKAGE, zones=["front door"]), id="box"),
    pytest.param(
        "a delivery at the front door", rule(PACKAGE, zones=["front door"]), id="delivery"
    ),
    pytest.param("a dog in the yard", rule(DOG, zones=["yard"]), id="dog"),
    pytest.param("cats on the porch", rule(CAT, zones=["porch"]), id="cats"),
    pytest.param("any animal in the yard", rule(*ANIMALS, zones=["yard"]), id="animal"),
    pytest.param("a pet in the yard", rule(DOG, CAT, zones=["yard"]), id="pet"),
    pytest.param("a bird on the porch", rule(BIRD, zones=["porch"]), id="bird"),
    pytest.param(
        "any animal except cats in the yard",
        rule(*[a for a in ANIMALS if a != CAT], zones=["yard"]),
        id="except-cats",
    ),
    pytest.param("a person with a dog", rule(PERSON, DOG), id="two-kinds-anywhere"),
    # zones
    pytest.param("someone in the DRIVEWAY", rule(PERSON, zones=["driveway"]), id="zone-case"),
    pytest.param("a person near the gate", rule(PERSON, zones=["gate"]), id="zone-near"),
    pytest.param(
        "a person at the door", rule(PERSON, zones=["front door"]), id="zone-partial-name"
    ),
    pytest.param(
        "anyone comes to the door", rule(PERSON, zones=["front door"]), id="zone-to-the-door"
    ),
    pytest.param(
        "a person in the driveway or on the porch",
        rule(PERSON, zones=["driveway", "porch"]),
        id="two-zones",
    ),
    pytest.param("a person in front of the house", rule(PERSON), id="anywhere-phrase"),
    # times and days
    pytest.param(
        "someone at the front door after 22:00",
        rule(PERSON, zones=["front door"], schedule=windows(win("22:00", "06:00"))),
        id="after-22",
    ),
    pytest.param(
        "a person in the driveway after 10pm",
        rule(PERSON, zones=["driveway"], schedule=windows(win("22:00", "06:00"))),
        id="after-10pm",
    ),
    pytest.param(
        "a person in the yard after 10 p.m.",
        rule(PERSON, zones=["yard"], schedule=windows(win("22:00", "06:00"))),
        id="after-10-pm-dots",
    ),
    pytest.param(
        "a person in the yard after 9am",
        rule(PERSON, zones=["yard"], schedule=windows(win("09:00", "00:00"))),
        id="after-9am",
    ),
    pytest.param(
        "a car in the driveway before 7am",
        rule(CAR, zones=["driveway"], schedule=windows(win("00:00", "07:00"))),
        id="before-7am",
    ),
    pytest.param(
        "someone in the yard between 9pm and 6am",
        rule(PERSON, zones=["yard"], schedule=windows(win("21:00", "06:00"))),
        id="between",
    ),
    pytest.param(
        "someone in the yard from 22:00 to 06:00",
        rule(PERSON, zones=["yard"], schedule=windows(win("22:00", "06:00"))),
        id="from-to",
    ),
    pytest.param(
        "someone on the porch 9pm-6am",
        rule(PERSON, zones=["porch"], schedule=windows(win("21:00", "06:00"))),
        id="dash-range",
    ),
    pytest.param(
        "a person after 10pm and before 5am",
        rule(PERSON, schedule=windows(win("22:00", "05:00"))),
        id="after-and-before",
    ),
    pytest.param(
        "a person before 7am or after 10pm",
        rule(PERSON, schedule=windows(win("22:00", "06:00"), win("00:00", "07:00"))),
        id="before-or-after",
    ),
    pytest.param(
        "a person on the porch between 10:30pm and 5:45am",
        rule(PERSON, zones=["porch"], schedule=windows(win("22:30", "05:45"))),
        id="minutes",
    ),
    pytest.param(
        "anyone at the gate after midnight",
        rule(PERSON, zones=["gate"], schedule=windows(win("00:00", "06:00"))),
        id="after-midnight",
    ),
    pytest.param(
        "people on the porch on weekends",
        rule(PERSON, zones=["porch"], schedule=windows(win("00:00", "00:00", WEEKEND))),
        id="weekends",
    ),
    pytest.param(
        "a car in the driveway on weekdays",
        rule(CAR, zones=["driveway"], schedule=windows(win("00:00", "00:00", WEEKDAYS))),
        id="weekdays",
    ),
    pytest.param(
        "a person at the gate on mondays and wednesdays",
        rule(PERSON, zones=["gate"], schedule=windows(win("00:00", "00:00", [0, 2]))),
        id="mondays-wednesdays",
    ),
    pytest.param(
        "a person from monday to friday after 6pm",
        rule(PERSON, schedule=windows(win("18:00", "06:00", WEEKDAYS))),
        id="day-range",
    ),
    pytest.param(
        "cars in the driveway between 9pm and 6am on weekdays",
        rule(CAR, zones=["driveway"], schedule=windows(win("21:00", "06:00", WEEKDAYS))),
        id="range-weekdays",
    ),
    pytest.param(
        "an intruder between 11pm and 5am except on sundays",
        rule(PERSON, schedule=windows(win("23:00", "05:00", [0, 1, 2, 3, 4, 5]))),
        id="except-sundays",
    ),
    pytest.param(
        "a dog in the yard at night", rule(DOG, zones=["yard"], schedule=NIGHT), id="night"
    ),
    pytest.param(
        "someone on the porch overnight",
        rule(PERSON, zones=["porch"], schedule=NIGHT),
        id="overnight",
    ),
    pytest.param(
        "a burglar in the yard at night on weekends",
        rule(PERSON, zones=["yard"], schedule={"kind": "night", "days": WEEKEND}),
        id="night-weekends",
    ),
    pytest.param(
        "a person in the yard during the day",
        rule(PERSON, zones=["yard"], schedule=DAY),
        id="during-the-day",
    ),
    pytest.param(
        "a car in the driveway in the daytime",
        rule(CAR, zones=["driveway"], schedule=DAY),
        id="daytime",
    ),
    pytest.param(
        "a person at the gate day and night", rule(PERSON, zones=["gate"]), id="day-and-night"
    ),
    pytest.param(
        "a bird on the porch in the morning",
        rule(BIRD, zones=["porch"], schedule=windows(win("06:00", "12:00"))),
        id="morning",
    ),
    pytest.param(
        "a car in the driveway during business hours",
        rule(CAR, zones=["driveway"], schedule=windows(win("09:00", "17:00", WEEKDAYS))),
        id="business-hours",
    ),
    pytest.param(
        "a person outside business hours",
        rule(
            PERSON,
            schedule=windows(win("17:00", "09:00", WEEKDAYS), win("00:00", "00:00", WEEKEND)),
        ),
        id="outside-business-hours",
    ),
    # dwell and loitering
    pytest.param(
        "someone at the front door for more than 30 seconds",
        rule(PERSON, zones=["front door"], min_dwell_s=30),
        id="dwell-seconds",
    ),
    pytest.param(
        "a truck in the driveway longer than 2 minutes",
        rule(TRUCK, zones=["driveway"], min_dwell_s=120),
        id="dwell-longer-than",
    ),
    pytest.param(
        "a car at the gate for 5 min",
        rule(CAR, zones=["gate"], min_dwell_s=300),
        id="dwell-for-5-min",
    ),
    pytest.param(
        "a car in the driveway for half an hour",
        rule(CAR, zones=["driveway"], min_dwell_s=1800),
        id="dwell-half-hour",
    ),
    pytest.param(
        "someone loitering near the gate",
        rule(PERSON, zones=["gate"], min_dwell_s=LOITER_DWELL_S),
        id="loitering",
    ),
    pytest.param(
        "lingering at the front door",
        rule(PERSON, zones=["front door"], min_dwell_s=LOITER_DWELL_S),
        id="lingering-implies-person",
    ),
    pytest.param(
        "someone hanging around the gate",
        rule(PERSON, zones=["gate"], min_dwell_s=LOITER_DWELL_S),
        id="hanging-around",
    ),
    pytest.param(
        "someone loitering in the yard for more than 2 minutes",
        rule(PERSON, zones=["yard"], min_dwell_s=120),
        id="loitering-explicit",
    ),
    # counts
    pytest.param(
        "more than 3 people in the yard",
        rule(PERSON, zones=["yard"], count={"op": "gt", "value": 3}),
        id="more-than-3",
    ),
    pytest.param(
        "at least 2 cars in the driveway",
        rule(CAR, zones=["driveway"], count={"op": "gte", "value": 2}),
        id="at-least-2",
    ),
    pytest.param(
        "two or more people at the gate",
        rule(PERSON, zones=["gate"], count={"op": "gte", "value": 2}),
        id="two-or-more",
    ),
    pytest.param(
        "2 people at the gate",
        rule(PERSON, zones=["gate"], count={"op": "gte", "value": 2}),
        id="bare-number",
    ),
    pytest.param(
        "no more than 3 cars in the driveway",
        rule(CAR, zones=["driveway"], count={"op": "lte", "value": 3}),
        id="no-more-than",
    ),
    pytest.param(
        "fewer than 2 people in the yard",
        rule(PERSON, zones=["yard"], count={"op": "lt", "value": 2}),
        id="fewer-than",
    ),
    pytest.param(
        "exactly 4 dogs in the yard",
        rule(DOG, zones=["yard"], count={"op": "eq", "value": 4}),
        id="exactly",
    ),
    pytest.param(
        "a crowd in the yard",
        rule(PERSON, zones=["yard"], count={"op": "gte", "value": CROWD_SIZE}),
        id="crowd",
    ),
    pytest.param(
        "a group of people at the gate",
        rule(PERSON, zones=["gate"], count={"op": "gte", "value": 3}),
        id="group",
    ),
    pytest.param(
        "more than 3 people for more than 30 seconds",
        rule(PERSON, count={"op": "gt", "value": 3}, min_dwell_s=30),
        id="count-and-dwell",
    ),
    # left objects
    pytest.param(
        "tell me when a package is left on the porch",
        rule(PACKAGE, zones=["porch"], left_object=True, min_dwell_s=LEFT_OBJECT_DWELL_S),
        id="package-left",
    ),
    pytest.param(
        "notify me if a parcel is delivered",
        rule(PACKAGE, left_object=True, min_dwell_s=LEFT_OBJECT_DWELL_S),
        id="delivered",
    ),
    pytest.param(
        "let me know when something is delivered",
        rule(PACKAGE, left_object=True, min_dwell_s=LEFT_OBJECT_DWELL_S),
        id="delivered-implies-package",
    ),
    pytest.param(
        "a box dropped off at the front door",
        rule(PACKAGE, zones=["front door"], left_object=True, min_dwell_s=LEFT_OBJECT_DWELL_S),
        id="dropped-off",
    ),
    pytest.param(
        "a bag left behind on the porch",
        rule(
            ObjectClass.BACKPACK,
            ObjectClass.HANDBAG,
            ObjectClass.SUITCASE,
            zones=["porch"],
            left_object=True,
            min_dwell_s=LEFT_OBJECT_DWELL_S,
        ),
        id="left-behind",
    ),
    pytest.param(
        "a courier drops off a package",
        rule(PACKAGE, left_object=True, min_dwell_s=LEFT_OBJECT_DWELL_S),
        id="drops-off-people-dropped",
    ),
    pytest.param(
        "a package left on the porch for 10 minutes",
        rule(PACKAGE, zones=["porch"], left_object=True, min_dwell_s=600),
        id="left-with-dwell",
    ),
    # severity, channels, confidence, cooldown, size
    pytest.param(
        "urgent: someone in the yard",
        rule(PERSON, zones=["yard"], severity="critical"),
        id="urgent",
    ),
    pytest.param(
        "an intruder in the yard, tell me immediately",
        rule(PERSON, zones=["yard"], severity="critical"),
        id="immediately",
    ),
    pytest.param(
        "a cat in the yard, just let me know",
        rule(CAT, zones=["yard"], severity="info"),
        id="just-let-me-know",
    ),
    pytest.param(
        "FYI a car in the driveway", rule(CAR, zones=["driveway"], severity="info"), id="fyi"
    ),
    pytest.param(
        "a person at the gate, text me",
        rule(PERSON, zones=["gate"], channels=["sms"]),
        id="text-me",
    ),
    pytest.param(
        "a person in the driveway, email me",
        rule(PERSON, zones=["driveway"], channels=["email"]),
        id="email-me",
    ),
    pytest.param(
        "push notification when a bus is at the gate",
        rule(BUS, zones=["gate"], channels=["push"]),
        id="push",
    ),
    pytest.param(
        "call the webhook when a lorry is in the driveway",
        rule(TRUCK, zones=["driveway"], channels=["webhook"]),
        id="webhook",
    ),
    pytest.param(
        "someone at the gate, send an sms and an email",
        rule(PERSON, zones=["gate"], channels=["sms", "email"]),
        id="two-channels",
    ),
    pytest.param(
        "a person on the porch only if you are sure",
        rule(PERSON, zones=["porch"], min_confidence=HIGH_CONFIDENCE),
        id="only-if-sure",
    ),
    pytest.param(
        "a dog in the yard even if you are not sure",
        rule(DOG, zones=["yard"], min_confidence=LOW_CONFIDENCE),
        id="even-if-unsure",
    ),
    pytest.param(
        "people in the yard, confidence above 90%",
        rule(PERSON, zones=["yard"], min_confidence=0.9),
        id="explicit-confidence",
    ),
    pytest.param(
        "someone on the porch, at most once every 10 minutes",
        rule(PERSON, zones=["porch"], cooldown_s=600),
        id="cooldown-once-every",
    ),
    pytest.param(
        "a car in the driveway, no more than once an hour",
        rule(CAR, zones=["driveway"], cooldown_s=3600),
        id="cooldown-once-an-hour",
    ),
    pytest.param(
        "a person in the yard every time",
        rule(PERSON, zones=["yard"], cooldown_s=0),
        id="every-time",
    ),
    pytest.param("a person close to the camera", rule(PERSON, min_size=0.1), id="close-to-camera"),
    pytest.param(
        "a person bigger than 5% of the frame", rule(PERSON, min_size=0.05), id="explicit-size"
    ),
    # valid with a warning
    pytest.param("a red car in the driveway", rule(CAR, zones=["driveway"]), id="colour"),
    pytest.param("someone wearing a mask at the gate", rule(PERSON, zones=["gate"]), id="mask"),
    pytest.param(
        "a car with licence plate AB12 CDE in the driveway",
        rule(CAR, zones=["driveway"]),
        id="plate",
    ),
    pytest.param("faces at the front door", rule(PERSON, zones=["front door"]), id="faces"),
    pytest.param("a stranger at the front door", rule(PERSON, zones=["front door"]), id="stranger"),
    pytest.param("a fox in the yard", rule(*ANIMALS, zones=["yard"]), id="unsupported-animal"),
    pytest.param("a tesla in the driveway", rule(CAR, zones=["driveway"]), id="car-make"),
    # everything at once
    pytest.param(
        "Urgent! More than 2 people loitering at the front door between 11pm and 5am on weekdays, "
        "only if you are sure. Text me and email me.",
        rule(
            PERSON,
            zones=["front door"],
            schedule=windows(win("23:00", "05:00", WEEKDAYS)),
            min_dwell_s=LOITER_DWELL_S,
            count={"op": "gt", "value": 2},
            min_confidence=HIGH_CONFIDENCE,
            severity="critical",
            channels=["sms", "email"],
        ),
        id="everything",
    ),
]

REFUSED = [
    pytest.param("", "empty", id="empty"),
    pytest.param("   \n\t ", "empty", id="whitespace"),
    pytest.param(
        "a person " * 60, f"longer than {MAX_INSTRUCTION_CHARS} characters", id="too-long"
    ),
    pytest.param("asdf qwerty", "could not be understood", id="nonsense"),
    pytest.param("alert me", "could not be understood", id="only-filler"),
    pytest.param("after 10pm in the driveway", "no object to watch for", id="no-object"),
    pytest.param("when John arrives", "'John'", id="named-person"),
    pytest.param("let me know when my wife is at the front door", "'my wife'", id="relation"),
    pytest.param("recognise my neighbour's face", "cannot tell who a person is", id="recognise"),
    pytest.param("a person with a gun at the gate", "weapons", id="gun"),
    pytest.param("someone carrying a knife", "weapons", id="knife"),
    pytest.param("fire in the yard", "fire or smoke", id="fire"),
    pytest.param("smoke coming from the porch", "fire or smoke", id="smoke"),
    pytest.param("glass breaking", "cannot hear", id="glass-breaking"),
    pytest.param("someone screaming in the yard", "cannot hear", id="screaming"),
    pytest.param("the garage door is open", "open", id="door-open"),
    pytest.param("more than 5 and fewer than 3 people", "contradict", id="contradictory-counts"),
    pytest.param("exactly 2 and more than 3 cars", "contradict", id="contradictory-exact"),
    pytest.param("a person in the pool area", "unknown zone 'pool area'", id="unknown-zone"),
    pytest.param(
        "a car in the garage",
        "front door, driveway, yard, porch, gate",
        id="unknown-zone-lists-known",
    ),
    pytest.param("don't alert me about cats", "not what to ignore", id="negated"),
    pytest.param("ignore cats", "nothing is left to watch for", id="all-excluded"),
    pytest.param("a person between 9 and 5", "ambiguous", id="ambiguous-hours"),
    pytest.param("a person after 25:00", "not a valid time", id="invalid-time"),
    pytest.param("someone in the yard for 3 days", "longer than 24 hours", id="dwell-too-long"),
    pytest.param(
        "a person at the yard, except the driveway", "excluding a zone", id="excluded-zone"
    ),
]

#: Instructions whose object word only the embedding fallback knows.
BY_EMBEDDING = [
    pytest.param("a cyclist on the driveway", rule(BICYCLE, zones=["driveway"]), id="cyclist"),
    pytest.param("a puppy in the yard", rule(DOG, zones=["yard"]), id="puppy"),
    pytest.param("a kitten on the porch", rule(CAT, zones=["porch"]), id="kitten"),
    pytest.param("an SUV in the driveway", rule(CAR, zones=["driveway"]), id="suv"),
    pytest.param(
        "a sedan in the driveway after 10pm",
        rule(CAR, zones=["driveway"], schedule=windows(win("22:00", "06:00"))),
        id="sedan",
    ),
    pytest.param("a pigeon on the porch", rule(BIRD, zones=["porch"]), id="pigeon"),
    pytest.param("a lamb in the yard", rule(ObjectClass.SHEEP, zones=["yard"]), id="lamb"),
]


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return default_embedder()


def _compile(text: str, embedder: TextEmbedder | None = None) -> Compilation:
    return compile_instruction(text, zone_names=ZONES, embedder=embedder)


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_instruction_compiles_to_rule(text: str, expected: Rule) -> None:
    compilation = _compile(text)
    assert compilation.status == "valid", compilation.reason
    assert compilation.rule == expected
    assert compilation.reason is None


@pytest.mark.parametrize(("text", "expected"), VALID[::6])
def test_the_embedder_does_not_change_lexicon_results(
    text: str, expected: Rule, embedder: TextEmbedder
) -> None:
    assert _compile(text, embedder).rule == expected


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_instruction_is_refused(text: str, reason: str) -> None:
    compilation = _compile(text)
    assert compilation.status == "invalid"
    assert compilation.rule is None
    assert compilation.reason is not None
    assert reason in compilation.reason


@pytest.mark.parametrize(("text", "expected"), BY_EMBEDDING)
def test_embedding_fallback_finds_the_object(
    text: str, expected: Rule, embedder: TextEmbedder
) -> None:
    compilation = _compile(text, embedder)
    assert compilation.rule == expected
    by_similarity = [item for item in compilation.understood if item.similarity is not None]
    assert len(by_similarity) == 1
    assert by_similarity[0].similarity is not None
    assert by_similarity[0].similarity >= SIMILARITY_THRESHOLD
    assert "similarity" in by_similarity[0].meaning


@pytest.mark.parametrize(("text", "expected"), BY_EMBEDDING)
def test_without_the_embedder_those_words_are_not_understood(text: str, expected: Rule) -> None:
    compilation = _compile(text)
    assert compilation.status == "invalid"
    assert compilation.reason is not None
    assert "no object to watch for" in compilation.reason


@pytest.mark.parametrize("text", ["banana in the yard", "a wobble on the porch", "qwerty"])
def test_the_embedder_does_not_invent_objects(text: str, embedder: TextEmbedder) -> None:
    assert _compile(text, embedder).status == "invalid"


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("a red car in the driveway", "colours are not recognised"),
        ("someone wearing a mask at the gate", "clothing is not recognised"),
        ("a car with licence plate AB12 CDE in the driveway", "licence plates are not read"),
        ("faces at the front door", "faces are not recognised"),
        ("a stranger at the front door", "faces are not recognised"),
        ("a fox in the yard", "any animal will match"),
        ("a courier drops off a package", "only the left object is watched"),
        ("between 2 and 5 people in the yard", "only one count limit is kept"),
        ("a person near the car", "relative to other objects"),
        ("someone at the gate tonight", "every night"),
        ("someone at the gate, call me", "phone calls are not supported"),
        ("someone at the gate at night or on weekends", "make a second guard"),
    ],
)
def test_valid_with_a_warning(text: str, warning: str) -> None:
    compilation = _compile(text)
    assert compilation.status == "valid"
    assert any(warning in item for item in compilation.warnings), compilation.warnings


def test_understood_maps_phrases_to_meanings() -> None:
    compilation = _compile("Alert me if someone is at the front door after 22:00")
    pairs = [(item.text, item.meaning) for item in compilation.understood]
    assert pairs == [
        ("someone", "person"),
        ("at the front door", 'in zone "front door"'),
        ("after 22:00", "between 22:00 and 06:00 every day"),
    ]


def test_leftover_words_are_reported() -> None:
    compilation = _compile("a person at the door and do a backflip")
    assert compilation.status == "valid"
    assert compilation.not_understood == ["backflip"]


def test_zone_names_with_underscores_match_spoken_words() -> None:
    compilation = compile_instruction("a person at the front door", zone_names=["front_door"])
    assert compilation.rule == rule(PERSON, zones=["front_door"])


def test_ambiguous_partial_zone_is_refused() -> None:
    compilation = compile_instruction(
        "a person at the door", zone_names=["front door", "back door"]
    )
    assert compilation.reason is not None
    assert "could be any of the zones front door, back door" in compilation.reason


def test_a_camera_without_zones_refuses_a_named_place() -> None:
    compilation = compile_instruction("a person in the driveway", zone_names=[])
    assert compilation.reason is not None
    assert "has no zones" in compilation.reason


def test_compiling_is_deterministic(embedder: TextEmbedder) -> None:
    text = "a cyclist or a puppy in the yard after 10pm, text me"
    first = _compile(text, embedder)
    assert all(_compile(text, embedder) == first for _ in range(3))


def test_the_table_is_large_enough() -> None:
    assert len(VALID) + len(REFUSED) >= 70
    assert len(REFUSED) >= 12

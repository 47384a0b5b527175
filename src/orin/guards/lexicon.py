"""The words the guard compiler knows: object synonyms, numbers, and words it must not miss.

Every phrase here is lowercase; multi-word phrases match with spaces or hyphens between words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from orin.guards.rule import ObjectClass

__all__ = [
    "ACTION_WORDS",
    "ANIMALS",
    "ANYWHERE_NOUNS",
    "BRAND_WORDS",
    "CAR_MAKES",
    "CLOTHING_WORDS",
    "COLOUR_WORDS",
    "FILLER_WORDS",
    "LABEL_DESCRIPTIONS",
    "NUMBER_WORDS",
    "OBJECT_WORDS",
    "RELATION_WORDS",
    "SIZE_WORDS",
    "UNSUPPORTED_ANIMALS",
    "VEHICLES",
]

OC = ObjectClass

#: "animal" and the animals the detector does not know (fox, deer, …) mean these.
ANIMALS: tuple[ObjectClass, ...] = (OC.DOG, OC.CAT, OC.BIRD, OC.HORSE, OC.SHEEP, OC.COW, OC.BEAR)
#: "vehicle" means motor vehicles; bicycles are named on their own.
VEHICLES: tuple[ObjectClass, ...] = (OC.CAR, OC.TRUCK, OC.BUS, OC.MOTORCYCLE)
PETS: tuple[ObjectClass, ...] = (OC.DOG, OC.CAT)
BAGS: tuple[ObjectClass, ...] = (OC.BACKPACK, OC.HANDBAG, OC.SUITCASE)


def _words(*lines: str) -> frozenset[str]:
    """The space-separated words of ``lines`` (commas separate multi-word phrases)."""
    found: set[str] = set()
    for line in lines:
        if "," in line:
            found.update(phrase.strip() for phrase in line.split(",") if phrase.strip())
        else:
            found.update(line.split())
    return frozenset(found)


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _forms(*lines: str, plurals: bool = True) -> list[str]:
    """Words of ``lines`` (comma-separated phrases), each with its regular plural."""
    forms: list[str] = []
    for line in lines:
        for phrase in (p.strip() for p in line.split(",")):
            if phrase:
                forms += [phrase, _plural(phrase)] if plurals else [phrase]
    return forms


def _table(
    groups: Iterable[tuple[Iterable[str], tuple[ObjectClass, ...]]],
) -> dict[str, tuple[ObjectClass, ...]]:
    table: dict[str, tuple[ObjectClass, ...]] = {}
    for words, classes in groups:
        for word in words:
            table[word] = classes
    return table


#: Object words and phrases → the detector classes they stand for.
OBJECT_WORDS: Mapping[str, tuple[ObjectClass, ...]] = _table(
    [
        (
            _forms(
                "person, someone, somebody, anyone, anybody, man, men, woman, women, child",
                "children, thief, thieves, lady, ladies, gentleman, gentlemen, postman, postmen",
                "postwoman, mailman, mailmen, delivery man, delivery men, delivery woman",
                "delivery person, delivery people, people",
                plurals=False,
            )
            + _forms(
                "intruder, kid, burglar, visitor, stranger, human, guy, trespasser, prowler",
                "pedestrian, boy, girl, teenager, adult, guest, robber, vandal, courier",
                "delivery driver, mail carrier, youth, individual, walker, jogger, runner",
            ),
            (OC.PERSON,),
        ),
        (_forms("bicycle, bike, push bike, pushbike, e-bike, ebike, pedal bike"), (OC.BICYCLE,)),
        (_forms("car, automobile, taxi, hatchback"), (OC.CAR,)),
        (_forms("vehicle, motor vehicle"), VEHICLES),
        (_forms("van, minivan"), (OC.CAR, OC.TRUCK)),
        (
            _forms("motorcycle, motorbike, motor bike, moped, scooter, motorcyclist"),
            (OC.MOTORCYCLE,),
        ),
        ([*_forms("bus, minibus, coach"), "busses"], (OC.BUS,)),
        (
            [*_forms("truck, pickup truck, fire truck, fire engine"), "lorry", "lorries"],
            (OC.TRUCK,),
        ),
        (_forms("boat, ship"), (OC.BOAT,)),
        ([*_forms("package, parcel, box, cardboard box"), "delivery", "deliveries"], (OC.PACKAGE,)),
        (_forms("dog, hound"), (OC.DOG,)),
        (_forms("cat"), (OC.CAT,)),
        (_forms("bird"), (OC.BIRD,)),
        (_forms("horse"), (OC.HORSE,)),
        (["sheep"], (OC.SHEEP,)),
        ([*_forms("cow"), "cattle"], (OC.COW,)),
        (_forms("bear"), (OC.BEAR,)),
        ([*_forms("animal, critter, creature"), "wildlife"], ANIMALS),
        (_forms("pet"), PETS),
        (_forms("backpack, rucksack"), (OC.BACKPACK,)),
        (_forms("handbag"), (OC.HANDBAG,)),
        ([*_forms("suitcase"), "luggage"], (OC.SUITCASE,)),
        (_forms("bag"), BAGS),
        (_forms("umbrella"), (OC.UMBRELLA,)),
    ]
)

#: Animals people name that the detector has no class for: they match any animal.
UNSUPPORTED_ANIMALS: frozenset[str] = frozenset(
    [
        *_forms("fox, raccoon, squirrel, badger, hedgehog, coyote, rabbit, rat"),
        *("deer", "wolf", "wolves", "mouse", "mice"),
    ]
)

#: Car makes: read as "car", with a warning that the make is not recognised.
CAR_MAKES: frozenset[str] = _words(
    "tesla bmw ford toyota audi mercedes honda volkswagen vw nissan kia hyundai volvo"
)

#: Short phrasings compared with unknown words by the embedding fallback.
LABEL_DESCRIPTIONS: Mapping[ObjectClass, tuple[str, ...]] = {
    OC.PERSON: ("person", "a human being"),
    OC.BICYCLE: ("bicycle", "bike"),
    OC.CAR: ("car", "automobile"),
    OC.MOTORCYCLE: ("motorcycle", "motorbike"),
    OC.BUS: ("bus",),
    OC.TRUCK: ("truck", "lorry"),
    OC.BOAT: ("boat",),
    OC.BIRD: ("bird",),
    OC.CAT: ("cat",),
    OC.DOG: ("dog",),
    OC.HORSE: ("horse",),
    OC.SHEEP: ("sheep",),
    OC.COW: ("cow",),
    OC.BEAR: ("bear",),
    OC.BACKPACK: ("backpack",),
    OC.UMBRELLA: ("umbrella",),
    OC.HANDBAG: ("handbag",),
    OC.SUITCASE: ("suitcase",),
    OC.PACKAGE: ("package", "parcel"),
}

_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
NUMBER_WORDS: Mapping[str, int] = {
    **{word: value for value, word in enumerate(_UNITS)},
    **{
        "eleven": 11,
        "twelve": 12,
        "fifteen": 15,
        "twenty": 20,
        "thirty": 30,
        "forty": 40,
        "forty-five": 45,
    },
    **{"fifty": 50, "sixty": 60, "ninety": 90, "a": 1, "an": 1},
    **{"a couple of": 2, "a couple": 2, "a pair of": 2, "a few": 3, "a dozen": 12},
}

#: Family and household words: "my wife" names a particular person, which ORIN cannot tell.
RELATION_WORDS: frozenset[str] = _words(
    "wife husband son sons daughter daughters kid kids child children mum mom mother dad father",
    "parents partner boyfriend girlfriend brother sister neighbour neighbours neighbor neighbors",
    "nanny cleaner family friend friends roommate flatmate boss grandma grandpa teenager baby",
)

COLOUR_WORDS: frozenset[str] = _words(
    "red blue green white black grey gray silver yellow orange brown purple pink gold golden",
    "beige maroon navy",
)
CLOTHING_WORDS: frozenset[str] = _words(
    "mask masks masked balaclava hood hooded hoodie hoodies wearing wears uniform hat hats",
    "helmet cap jacket coat shirt gloves",
)
ACTION_WORDS: frozenset[str] = _words(
    "running runs run fighting fight fights climbing climbs climb jumping jumps jump falling",
    "falls fell fallen speeding stealing steals stole steal stolen taking takes took breaking",
    "trying tries opening opens smashing",
)
SIZE_WORDS: frozenset[str] = _words("big large small tall huge little tiny giant")
BRAND_WORDS: frozenset[str] = _words("amazon ups fedex dhl usps dpd evri hermes")

#: Nouns after "in/at/on the …" that mean the whole view rather than a zone.
ANYWHERE_NOUNS: frozenset[str] = _words(
    "camera cameras view frame picture image screen feed footage video shot property premises",
    "house home place area",
)

#: Words that carry no rule meaning; they are consumed silently.
FILLER_WORDS: frozenset[str] = _words(
    "a an the any some every each this that these those it its there here",
    "and or but nor so then also too just only even",
    "i me my we us our you your they them their he she his her him",
    "is are was were be been being am do does did done has have had having get gets got getting",
    "will would should could can may might must shall",
    "if when whenever once while as where who which what whether until till",
    "to of for with without by from into onto upon about",
    "please kindly alert alerts alerted alerting notify notifies notified notification",
    "notifications tell warn warned message send let know inform ping flag report",
    "see sees seen saw spot spots spotted detect detects detected detection notice noticed",
    "appear appears appeared appearing show shows showing shown up present visible",
    "come comes coming came arrive arrives arrived arriving",
    "walk walks walking walked move moves moving moved movement motion",
    "go goes going went enter enters entered entering approach approaches approaching",
    "pass passes passing passed parks parked parking stops stopped stand stands",
    "standing stood sit sits sitting wait waits waiting stay stays staying remain remains",
    "remaining pull pulls pulled drive drives driving drove ride rides riding",
    "happen happens happening guard watch watching look looking monitor monitoring",
    "camera cameras want need like i'd i'm it's there's someone's",
    "around near in at on over under inside outside",
    "something anything everything thing things object objects",
)

"""Realistic household notes, made up deterministically for the benchmarks.

Each note belongs to one category and reads like what families keep: service
logs with dated visits, contractor quotes, manual excerpts and checklists, as
markdown with headings or as plain text. Lengths vary from a few lines to a few
pages, roughly as they do in a real notes folder (many short, some long).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

# category -> (things in it, parts or materials, who does the work)
TOPICS = {
    "appliances": (
        ["dishwasher", "chest freezer", "dryer", "washing machine", "oven"],
        ["door gasket", "drain pump", "heating element", "control board", "belt"],
        ["Reliable Appliance Repair", "Sears Home Services", "Appliance Doctor"],
    ),
    "brick work": (
        ["front steps", "chimney", "patio pavers", "garden wall", "mailbox pillar"],
        ["mortar joints", "capstones", "flashing", "sealer", "polymeric sand"],
        ["Stonecraft Masonry", "Heritage Brick Co", "Martinez & Sons Masonry"],
    ),
    "car": (
        ["Subaru Outback", "Honda Odyssey", "Toyota Corolla", "the trailer"],
        ["brake pads", "cabin air filter", "winter tyres", "battery", "wipers"],
        ["Main Street Auto", "the dealership", "Quick Lube on 5th"],
    ),
    "cooking": (
        ["sourdough starter", "cast iron pan", "Sunday roast", "pressure cooker"],
        ["flour", "seasoning oil", "sealing ring", "thermometer probe"],
        ["Grandma's recipe card", "the cooking class", "the butcher"],
    ),
    "doorbell": (
        ["video doorbell", "back door chime", "gate intercom"],
        ["battery pack", "transformer", "chime kit", "mounting wedge"],
        ["Secure Home Installers", "the electrician", "support chat"],
    ),
    "electric": (
        ["main panel", "garage subpanel", "kitchen outlets", "attic wiring"],
        ["GFCI breaker", "AFCI breaker", "surge protector", "junction box"],
        ["Bright Spark Electric", "Volt Pros", "the city inspector"],
    ),
    "fence": (
        ["back fence", "side gate", "pool fence", "front picket fence"],
        ["cedar boards", "gate hinges", "post concrete", "stain", "latch"],
        ["Fence Masters", "Northside Fencing", "the neighbour"],
    ),
    "fountain": (
        ["garden fountain", "koi pond waterfall", "birdbath bubbler"],
        ["submersible pump", "tubing", "algae treatment", "float valve"],
        ["Pond & Stone", "Garden Water Features Inc", "the garden centre"],
    ),
    "garden lights": (
        ["path lights", "deck lights", "tree uplights", "driveway lamps"],
        ["transformer", "LED bulbs", "photocell timer", "low-voltage cable"],
        ["Lumen Landscapes", "Evening Glow Lighting", "the hardware store"],
    ),
    "gutters": (
        ["front gutters", "garage downspout", "back roof valley"],
        ["gutter guards", "downspout extension", "hangers", "sealant"],
        ["Clear Flow Gutters", "Rain Pro Exteriors", "the roofer"],
    ),
    "hvac": (
        ["furnace", "heat pump", "upstairs AC", "bathroom fan", "thermostat"],
        ["16x25x1 filter", "capacitor", "condensate line", "flame sensor"],
        ["Comfort Air Heating", "Polar Bear HVAC", "the gas company"],
    ),
    "irrigation": (
        ["sprinkler system", "drip line", "front lawn zones", "backflow device"],
        ["rotor heads", "solenoid valve", "controller", "drip emitters"],
        ["Green Acres Irrigation", "Rain Bird dealer", "the water district"],
    ),
    "mosquito": (
        ["mosquito spraying", "backyard treatment", "standing water checks"],
        ["larvicide dunks", "barrier spray", "trap attractant"],
        ["Mosquito Squad", "Bug Busters", "the county vector office"],
    ),
    "painting": (
        ["living room", "exterior trim", "kids' bedroom", "front door", "deck"],
        ["eggshell finish", "primer", "colour code SW 7015", "caulk"],
        ["Fresh Coat Painters", "Brush & Roller Co", "the paint store"],
    ),
    "pool": (
        ["pool pump", "sand filter", "pool heater", "salt cell", "pool cover"],
        ["pump seal", "filter sand", "chlorine tablets", "skimmer basket"],
        ["Blue Wave Pools", "Crystal Clear Pool Service", "Leslie's"],
    ),
    "tree service": (
        ["oak in the front yard", "maple by the driveway", "hedges", "old stump"],
        ["cabling", "deadwood", "stump grinding", "root flare"],
        ["Tall Timber Tree Care", "Arbor Pros", "the certified arborist"],
    ),
    "water heater": (
        ["water heater", "tankless heater", "recirculation pump"],
        ["anode rod", "pressure relief valve", "thermocouple", "expansion tank"],
        ["Rapid Rooter Plumbing", "Hot Water Heroes", "the plumber"],
    ),
    "window service": (
        ["bay window", "skylight", "sliding door", "upstairs windows", "screens"],
        ["double-pane seal", "window screen", "weatherstripping", "glass"],
        ["Crystal Window Cleaning", "Pane Masters", "Window Works"],
    ),
}
KINDS = ("service log", "quote", "manual notes", "checklist", "notes")

SENTENCES = (
    "{pro} came out on {date} to look at the {thing}.",
    "They said the {part} was worn and quoted ${price} to replace it.",
    "Paid ${price} by card, invoice #{number} is in the blue folder.",
    "Model number {model}, serial {serial}, bought in {year}.",
    "Next check is due in {months} months; set a reminder for {date}.",
    "The {thing} started making a noise again after the cold snap.",
    "Warranty covers the {part} until {year}, labour is not included.",
    "Call {pro} at 555-{phone} and ask for the same technician as last time.",
    "We decided to wait on the {part} until spring because of the cost.",
    "Remember: turn the {thing} off at the breaker before opening it.",
    "The manual says to clean the {part} every {months} months.",
    "Second opinion from {pro}: about ${price}, two weeks lead time.",
    "It took about {hours} hours, and they cleaned up afterwards.",
    "Bought a spare {part} at the hardware store, receipt in the drawer.",
)


@dataclass(frozen=True)
class Note:
    name: str  # file name, with .md or .txt
    category: str
    text: str


def make_notes(count: int, seed: int = 0) -> list[Note]:
    """`count` notes spread over every category, the same for the same seed."""
    rng = random.Random(seed)
    categories = list(TOPICS)
    notes = []
    for i in range(count):
        category = categories[i % len(categories)]
        notes.append(_note(rng, i, category))
    return notes


def write_notes(folder: Path, notes: list[Note]) -> dict[str, Path]:
    """Write notes as files, one subfolder per category; returns the folders."""
    folders: dict[str, Path] = {}
    for note in notes:
        where = folders.setdefault(note.category, folder / note.category)
        where.mkdir(parents=True, exist_ok=True)
        (where / note.name).write_text(note.text, encoding="utf-8")
    return folders


def _note(rng: random.Random, index: int, category: str) -> Note:
    things, _, _ = TOPICS[category]
    thing, kind = rng.choice(things), rng.choice(KINDS)
    title = f"{thing.capitalize()} {kind}"
    # Most notes are short; about one in eight runs to several pages.
    sections = rng.choice([1, 1, 1, 2, 2, 3, 4, 6]) * (3 if rng.random() < 0.12 else 1)
    markdown = rng.random() < 0.7

    parts = [f"# {title}" if markdown else title]
    for _ in range(sections):
        heading = f"{_date(rng)} {rng.choice(['visit', 'update', 'call', 'note'])}"
        parts.append(f"## {heading}" if markdown else heading.upper())
        for _ in range(rng.randint(1, 3)):
            parts.append(_paragraph(rng, category, thing))
    slug = "-".join(thing.replace("'", "").split())
    name = f"{index:04d}-{slug}{'.md' if markdown else '.txt'}"
    return Note(name, category, "\n\n".join(parts) + "\n")


def _paragraph(rng: random.Random, category: str, thing: str) -> str:
    _, parts, pros = TOPICS[category]
    sentences = rng.sample(SENTENCES, rng.randint(2, 6))
    return " ".join(
        s.format(
            pro=rng.choice(pros),
            thing=thing,
            part=rng.choice(parts),
            date=_date(rng),
            price=rng.randint(40, 2400),
            number=rng.randint(10000, 99999),
            model=f"{rng.choice('ABKXZ')}{rng.randint(100, 999)}-{rng.randint(10, 99)}",
            serial=rng.randint(10**7, 10**8),
            year=rng.randint(2015, 2027),
            months=rng.choice([3, 6, 12, 24]),
            phone=rng.randint(1000, 9999),
            hours=rng.randint(1, 8),
        )
        for s in sentences
    )


def _date(rng: random.Random) -> str:
    return (
        f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    )

"""Aftercare instructions per kind of treatment: which text a treatment gets, and the clinic's Dutch defaults.

A treatment's aftercare sheet takes, in this order: the text stored for its catalogue item, the text stored for its
topic, the default text of its topic below. The topic follows the technique; a treatment without a technique (or
with "other") is an acne treatment when its indication is in the acne category, otherwise it gets the general text.
The laser texts (heat, collagen, no shower for 24 hours: the clinic's fractional laser page) are for laser
techniques only; electrolysis, camouflage, lymph drainage and acne treatment each have their own.

The texts are printed on a Dutch document, so they are Dutch here and are not translated; the topic names shown
in the admin screens are marked N_ and translated there.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .indications import INDICATIONS, Category, Indication, Technique
from .texts import N_


class AftercareTopic(enum.StrEnum):
    FRACTIONAL_LASER = "fractional_laser"
    LASER_HAIR_REMOVAL = "laser_hair_removal"
    IPL = "ipl"
    ELECTROLYSIS = "electrolysis"
    CAMOUFLAGE_LESSON = "camouflage_lesson"
    LYMPH_DRAINAGE = "lymph_drainage"
    PEEL = "peel"
    ACNE_TREATMENT = "acne_treatment"
    GENERAL = "general"


TOPIC_LABELS: dict[AftercareTopic, str] = {
    AftercareTopic.FRACTIONAL_LASER: N_("Fractional laser"),
    AftercareTopic.LASER_HAIR_REMOVAL: N_("Laser hair removal"),
    AftercareTopic.IPL: N_("IPL"),
    AftercareTopic.ELECTROLYSIS: N_("Electrolysis (electric epilation)"),
    AftercareTopic.CAMOUFLAGE_LESSON: N_("Camouflage lesson"),
    AftercareTopic.LYMPH_DRAINAGE: N_("Manual lymph drainage"),
    AftercareTopic.PEEL: N_("Chemical peel"),
    AftercareTopic.ACNE_TREATMENT: N_("Acne treatment (no technique)"),
    AftercareTopic.GENERAL: N_("General (every other treatment)"),
}

# The laser techniques: only these get the laser texts.
LASER_TOPICS = frozenset({AftercareTopic.FRACTIONAL_LASER, AftercareTopic.LASER_HAIR_REMOVAL})

_BY_TECHNIQUE: dict[Technique, AftercareTopic] = {
    Technique.FRACTIONAL_LASER: AftercareTopic.FRACTIONAL_LASER,
    Technique.LASER_HAIR_REMOVAL: AftercareTopic.LASER_HAIR_REMOVAL,
    Technique.IPL: AftercareTopic.IPL,
    Technique.ELECTROLYSIS: AftercareTopic.ELECTROLYSIS,
    Technique.CAMOUFLAGE_LESSON: AftercareTopic.CAMOUFLAGE_LESSON,
    Technique.LYMPH_DRAINAGE: AftercareTopic.LYMPH_DRAINAGE,
    Technique.PEEL: AftercareTopic.PEEL,
}


def topic_for(technique: str | None, indication: str | None = None) -> AftercareTopic:
    """The aftercare topic of a treatment with this technique (catalogue item) and indication."""
    try:
        by_technique = _BY_TECHNIQUE.get(Technique(technique)) if technique else None
    except ValueError:
        by_technique = None
    if by_technique is not None:
        return by_technique
    try:
        category = INDICATIONS[Indication(indication)].category if indication else None
    except ValueError:
        category = None
    return AftercareTopic.ACNE_TREATMENT if category is Category.ACNE else AftercareTopic.GENERAL


@dataclass(frozen=True)
class AftercareContent:
    """One aftercare text: a heading, what the patient may expect (paragraphs) and what to do (one line each)."""

    title: str
    expectations: tuple[str, ...]
    instructions: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return bool(self.title.strip()) and bool(self.expectations) and bool(self.instructions)


def paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs of a text typed in a text area: separated by a blank line; lines within one are joined."""
    blocks = [" ".join(line.strip() for line in block.splitlines() if line.strip())
              for block in text.replace("\r\n", "\n").split("\n\n")]
    return tuple(block for block in blocks if block)


def lines(text: str) -> tuple[str, ...]:
    """One instruction per non-empty line (a leading bullet "-", "*" or "•" is dropped)."""
    found = (line.strip().lstrip("-*•").strip() for line in text.replace("\r\n", "\n").split("\n"))
    return tuple(line for line in found if line)


def as_paragraph_text(items: Iterable[str]) -> str:
    return "\n\n".join(items)


def as_line_text(items: Iterable[str]) -> str:
    return "\n".join(items)


_FRACTIONAL_LASER = AftercareContent(
    title="Nazorg na een behandeling met de fractionele laser",
    expectations=(
        "Direct na de behandeling voelt uw huid gevoelig, licht gezwollen en strak aan. De warmte van de laser "
        "geeft roodheid die enkele dagen kan aanhouden. Ook korstjes en schilfers op de huid zijn normaal: ze zijn "
        "een teken dat uw huid herstelt.",
        "Het herstel duurt gemiddeld vijf tot zes dagen.",
        "Na de behandeling maakt uw huid nieuw collageen aan. Dit proces gaat nog meer dan 3 maanden door; pas "
        "daarna is het eindresultaat echt zichtbaar.",
    ),
    instructions=(
        "Uw huid is na de behandeling extra gevoelig: bescherm haar goed tegen de zon met een zonnebrandcrème "
        "met beschermingsfactor SPF 50.",
        "Niet douchen gedurende 24 uur na de behandeling, vanwege de stoom en de warmte.",
        "Niet sporten, zwemmen of naar de sauna gedurende 48 uur.",
        "Gebruik een week lang geen zuren (zoals AHA/BHA-producten of peelings).",
    ),
)

_LASER_HAIR_REMOVAL = AftercareContent(
    title="Nazorg na laserontharing",
    expectations=(
        "Direct na de behandeling kan de huid rond de haarzakjes rood en licht gezwollen zijn en warm of branderig "
        "aanvoelen, zoals bij lichte zonnebrand. Dit trekt meestal binnen enkele uren tot twee dagen weg.",
        "De behandelde haren laten in de één tot drie weken na de behandeling los en vallen uit. Dat lijkt soms op "
        "nieuwe haargroei, maar is het niet.",
        "Haren groeien in cycli: daarom zijn meerdere behandelingen nodig, met enkele weken ertussen.",
    ),
    instructions=(
        "Koel de huid zo nodig met een koel (niet ijskoud) kompres.",
        "Bescherm de behandelde huid tot vier weken na de behandeling tegen de zon met SPF 50 en ga niet onder "
        "de zonnebank.",
        "Vermijd de eerste 48 uur warmte en wrijving: geen sauna, heet bad, zwemmen of intensief sporten.",
        "Gebruik de eerste 24 uur geen deodorant, parfum, make-up of producten met zuren op het behandelde gebied.",
        "Epileer of harst niet tussen de behandelingen door; scheren mag wel.",
    ),
)

_IPL = AftercareContent(
    title="Nazorg na een IPL-behandeling",
    expectations=(
        "Na de behandeling kan de huid rood zijn en warm aanvoelen, zoals bij lichte zonnebrand. Dit trekt meestal "
        "binnen enkele uren tot een paar dagen weg.",
        "Bij de behandeling van pigmentvlekken worden de vlekken eerst donkerder; ze schilferen in één tot twee "
        "weken vanzelf af.",
        "Bij ontharing laten de behandelde haren in de één tot drie weken na de behandeling los en vallen uit.",
    ),
    instructions=(
        "Bescherm de behandelde huid tot vier weken na de behandeling tegen de zon met SPF 50 en ga niet onder "
        "de zonnebank.",
        "Koel de huid zo nodig met een koel kompres.",
        "Vermijd de eerste 24 uur een heet bad, de sauna en intensief sporten.",
        "Krab niet aan donkere plekjes of schilfers: laat ze vanzelf loslaten.",
        "Gebruik een week lang geen scrub of producten met zuren op het behandelde gebied.",
        "Epileer of harst niet tussen de behandelingen door; scheren mag wel.",
    ),
)

_ELECTROLYSIS = AftercareContent(
    title="Nazorg na elektrisch epileren",
    expectations=(
        "Na het epileren kan de huid rond de behandelde haarzakjes rood en licht gezwollen zijn, soms met kleine "
        "bultjes. Dit trekt meestal binnen enkele uren tot een dag weg.",
        "Soms ontstaan er na een paar dagen kleine korstjes. Die vallen vanzelf af; laat ze zitten.",
    ),
    instructions=(
        "Raak het behandelde gebied zo min mogelijk aan en krab of pulk niet aan bultjes of korstjes.",
        "Houd de huid schoon en dep haar droog met een schone handdoek in plaats van te wrijven.",
        "Gebruik de eerste 24 uur geen make-up, parfum of deodorant op het behandelde gebied.",
        "Vermijd de eerste 24 uur de sauna, de zonnebank en zwemmen in chloorwater.",
        "Bescherm het gebied tegen de zon met SPF 30 of hoger zolang het rood is.",
        "Epileer of harst niet tussen de behandelingen door: de huidtherapeut moet de haren kunnen zien. "
        "Knippen mag wel.",
    ),
)

_CAMOUFLAGE_LESSON = AftercareContent(
    title="Na uw camouflageles",
    expectations=(
        "Tijdens de les heeft u geleerd hoe u de camouflageproducten aanbrengt, fixeert en weer verwijdert. "
        "Oefen thuis regelmatig: het aanbrengen gaat steeds sneller en ziet er steeds natuurlijker uit.",
        "Camouflage is niet bedoeld voor open wondjes of huid die nog aan het genezen is.",
    ),
    instructions=(
        "Breng de producten aan op een schone, droge huid, in dunne laagjes, zoals u in de les heeft geleerd.",
        "Fixeer de camouflage met het fixeerpoeder, zodat die water- en vlekbestendig blijft.",
        "Verwijder de camouflage elke avond grondig met de reinigingsmelk of -olie en verzorg daarna uw huid.",
        "Gebruik schone sponsjes en kwastjes en deel uw producten niet met anderen.",
        "Krijgt u jeuk, roodheid of irritatie, stop dan met het product en neem contact met ons op.",
    ),
)

_LYMPH_DRAINAGE = AftercareContent(
    title="Na uw manuele lymfedrainage",
    expectations=(
        "Manuele lymfedrainage helpt het lichaam overtollig vocht af te voeren. Na de behandeling moet u vaak vaker "
        "plassen en kunt u zich wat moe voelen. Dat is normaal.",
    ),
    instructions=(
        "Drink na de behandeling voldoende water.",
        "Draagt u een therapeutische elastische kous of zwachtels, draag die dan zoals met uw huidtherapeut is "
        "afgesproken.",
        "Blijf in beweging: rustig wandelen helpt de afvoer van vocht. Vermijd de eerste uren zware inspanning.",
        "Vermijd langdurige warmte, zoals een sauna of een heet bad: warmte laat het vocht weer toenemen.",
        "Verzorg de huid in het behandelde gebied goed en voorkom wondjes.",
        "Krijgt u een rode, warme, pijnlijke plek of koorts, neem dan direct contact op met uw huisarts: dat kan "
        "op een ontsteking (wondroos) wijzen.",
    ),
)

_PEEL = AftercareContent(
    title="Nazorg na een chemische peeling",
    expectations=(
        "Na de peeling kan uw huid rood zijn, strak aanvoelen en enkele dagen schilferen. Dat is normaal: de "
        "bovenste huidlaag wordt vernieuwd.",
    ),
    instructions=(
        "Trek of krab niet aan schilfers: laat ze vanzelf loslaten.",
        "Gebruik een milde reiniging en een verzorgende crème, zoals uw huidtherapeut heeft geadviseerd.",
        "Bescherm uw huid goed tegen de zon met SPF 50 en ga niet onder de zonnebank.",
        "Gebruik een week lang geen scrubs, retinol of andere producten met zuren.",
        "Vermijd de eerste 24 uur de sauna en intensief sporten.",
    ),
)

_ACNE_TREATMENT = AftercareContent(
    title="Nazorg na uw acnebehandeling",
    expectations=(
        "Na het reinigen en het verwijderen van mee-eters en puistjes kan uw huid enkele uren tot een dag rood "
        "en gevoelig zijn. Plekjes waar mee-eters of puistjes zijn verwijderd kunnen een paar dagen zichtbaar "
        "blijven.",
        "Acne vraagt om geduld: het resultaat komt van regelmatige behandelingen en dagelijkse verzorging thuis.",
    ),
    instructions=(
        "Raak uw gezicht zo min mogelijk aan en knijp niet zelf in puistjes of mee-eters: dat geeft kans op "
        "ontsteking en littekens.",
        "Gebruik de rest van de dag geen make-up, zodat de huid tot rust kan komen.",
        "Reinig uw huid 's ochtends en 's avonds mild met de producten die uw huidtherapeut heeft geadviseerd.",
        "Vermijd de eerste dag de sauna, de zonnebank en intensief sporten.",
        "Bescherm uw huid tegen de zon met een niet-vettende (niet-comedogene) zonnebrandcrème.",
        "Verschoon uw kussensloop regelmatig en houd uw handen en telefoon schoon.",
    ),
)

_GENERAL = AftercareContent(
    title="Algemene nazorg",
    expectations=(
        "Na de behandeling kan uw huid wat rood, warm of gevoelig zijn. Dat is normaal en trekt meestal binnen "
        "enkele uren tot een dag weg.",
    ),
    instructions=(
        "Raak het behandelde gebied zo min mogelijk aan en houd het schoon.",
        "Bescherm de behandelde huid tegen de zon met een zonnebrandcrème met SPF 30 of hoger.",
        "Gebruik de eerste dag geen make-up of parfum op het behandelde gebied, tenzij uw huidtherapeut anders "
        "adviseert.",
        "Volg de persoonlijke adviezen van uw huidtherapeut.",
    ),
)

DEFAULT_TEXTS: dict[AftercareTopic, AftercareContent] = {
    AftercareTopic.FRACTIONAL_LASER: _FRACTIONAL_LASER,
    AftercareTopic.LASER_HAIR_REMOVAL: _LASER_HAIR_REMOVAL,
    AftercareTopic.IPL: _IPL,
    AftercareTopic.ELECTROLYSIS: _ELECTROLYSIS,
    AftercareTopic.CAMOUFLAGE_LESSON: _CAMOUFLAGE_LESSON,
    AftercareTopic.LYMPH_DRAINAGE: _LYMPH_DRAINAGE,
    AftercareTopic.PEEL: _PEEL,
    AftercareTopic.ACNE_TREATMENT: _ACNE_TREATMENT,
    AftercareTopic.GENERAL: _GENERAL,
}


def choose(item_text: AftercareContent | None, topic_text: AftercareContent | None,
           topic: AftercareTopic) -> AftercareContent:
    """The text that applies: the catalogue item's, else the stored topic text, else the topic's default. An
    incomplete stored text (no heading, expectations or instructions) is skipped rather than printed half."""
    for candidate in (item_text, topic_text):
        if candidate is not None and candidate.complete:
            return candidate
    return DEFAULT_TEXTS[topic]

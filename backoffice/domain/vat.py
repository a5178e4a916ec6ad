"""VAT on a VAT-inclusive consumer price: exempt for health care within the skin therapist's field
(art. 11 lid 1 onderdeel g Wet OB 1968), 21 % for purely aesthetic treatment (EU Court, C-91/12).

Rounding rule (written down and tested): the net amount is gross / (1 + rate) rounded half-up to the cent;
the VAT is gross - net, so net + VAT always equals the price the patient pays, to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import round_cents
from .texts import N_, Text, label, msg

EXEMPTION_GROUND = "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968"
STANDARD_RATE = Decimal("21")
EXEMPT_RATE = Decimal("0")


@dataclass(frozen=True)
class VatSplit:
    exempt: bool
    rate: Decimal          # percent: 0 when exempt, 21 otherwise
    legal_ground: str      # the exemption text, or "" for 21 %
    gross: Decimal         # VAT-inclusive price
    net: Decimal
    vat: Decimal

    @property
    def label(self) -> Text:
        """"exempt" or "21 % VAT", in the reader's language when shown."""
        return label(N_("exempt")) if self.exempt else msg("%(rate)s %% VAT", rate=f"{self.rate:g}")


def split(gross: Decimal, medical: bool) -> VatSplit:
    """Split a VAT-inclusive price by the medical/cosmetic classification."""
    gross = round_cents(Decimal(gross))
    if medical:
        return VatSplit(exempt=True, rate=EXEMPT_RATE, legal_ground=EXEMPTION_GROUND,
                        gross=gross, net=gross, vat=round_cents(Decimal("0")))
    net = round_cents(gross * 100 / (100 + STANDARD_RATE))
    return VatSplit(exempt=False, rate=STANDARD_RATE, legal_ground="", gross=gross, net=net, vat=gross - net)

"""The demo practice as data: who works there, the insurers and their rules, the catalogue, the names and places
patients are drawn from, and the figures the billing history is built with. No database, no randomness here."""

from __future__ import annotations

from typing import Any

from ..domain.roles import Role
from ..domain.validators import normalise_iban

DEMO_DOMAIN = "demo.huidtherapie.nl"

# Documented demo passwords, printed by `flask seed-demo`; change them before real use.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (Role.ADMIN.value, f"admin@{DEMO_DOMAIN}", "demo-admin-2026"),
    (Role.THERAPIST.value, f"therapist@{DEMO_DOMAIN}", "demo-therapist-2026"),
    (Role.MANAGER.value, f"manager@{DEMO_DOMAIN}", "demo-manager-2026"),
]
DEMO_USER_NAMES = {
    Role.ADMIN.value: "Eva Kramer",
    Role.THERAPIST.value: "Sanne de Vries",
    Role.MANAGER.value: "Ruud Verbeek",
}

PRACTICE = {
    "name": "Huidtherapie Oudegracht",
    "street": "Oudegracht 142",
    "postcode": "3511 AZ",
    "city": "Utrecht",
    "kvk_number": "81734562",
    "vat_id": "NL862417399B01",  # RSIN 862417399 passes the eleven-test
    "agb_code": "90051234",
    "iban": normalise_iban("NL91ABNA0417164300"),
    "phone": "030 231 4578",
    "email": f"praktijk@{DEMO_DOMAIN}",
    "website": f"https://www.{DEMO_DOMAIN}",
}

# UZOVI codes are 4 digits; packages are the supplementary policies patients commonly hold.
INSURERS = [
    ("Zilveren Kruis", "3311", ["Aanvullend 3 sterren", "Aanvullend 4 sterren"],
     "Zilveren Kruis, Declaraties\nPostbus 444\n2740 AK Waddinxveen"),
    ("ONVZ", "3358", ["Optifit", "Topfit"],
     "ONVZ Zorgverzekeraar, Declaraties\nPostbus 392\n3990 GD Houten"),
    ("Anderzorg", "3313", ["Extra", "Profijt"],
     "Anderzorg, Declaraties\nPostbus 8006\n9702 KA Groningen"),
    ("FBTO", "3343", ["Aanvullend Tand/Fysio"],
     "FBTO, Declaraties\nPostbus 555\n8901 BL Leeuwarden"),
    ("CZ", "9664", ["Aanvullend Goed", "Aanvullend Best"],
     "CZ, Declaraties\nPostbus 90152\n5000 LD Tilburg"),
]

# Each insurer's claim settings (claims/settings.py), by UZOVI: (direct billing, BSN required). The others keep the
# defaults: billed directly by the practice, no BSN on the claim lines. CZ works by restitution: its patients pay
# the whole invoice and claim it with the declaration. Anderzorg asks for the BSN on every claim line: the claim
# check excludes the line of a patient without a recorded BSN, which the treatment's assessment cannot foresee.
INSURER_CLAIM_SETTINGS = {
    "9664": (False, False),
    "3313": (True, True),
}

FIRST_NAMES = [
    "Anna", "Sophie", "Julia", "Emma", "Lotte", "Fleur", "Eva", "Lisa", "Sara", "Iris", "Noor", "Femke",
    "Anouk", "Maud", "Sanne", "Roos", "Esmee", "Yara", "Fatima", "Zoë", "Daan", "Bram", "Thijs", "Jesse",
    "Ruben", "Mohammed", "Lars", "Sem", "Marieke", "Ingrid", "Hanneke", "Karin", "Petra", "Wilma", "Joost",
]
LAST_NAMES = [
    ("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), ("", "Bakker"), ("", "Visser"),
    ("", "Smit"), ("", "Meijer"), ("de", "Boer"), ("", "Mulder"), ("de", "Groot"), ("", "Bos"), ("", "Vos"),
    ("", "Peters"), ("", "Hendriks"), ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"),
    ("", "Dijkstra"), ("de", "Graaf"), ("van der", "Meer"), ("van der", "Linden"), ("", "Kok"),
    ("de", "Haan"), ("", "Vermeulen"), ("van den", "Heuvel"), ("van der", "Veen"), ("de", "Jong"),
    ("", "El Amrani"), ("", "Yilmaz"), ("van", "Beek"), ("", "Hoekstra"), ("van der", "Wal"), ("", "Prins"),
]
# City -> (postcode number range, streets)
PLACES = {
    "Utrecht": ((3511, 3585), ["Biltstraat", "Twijnstraat", "Kanaalweg", "Amsterdamsestraatweg",
                               "Nachtegaalstraat", "Croeselaan", "Burgemeester Reigerstraat"]),
    "Zeist": ((3701, 3709), ["Slotlaan", "Dorpsstraat", "Laan van Vollenhove", "Het Rond"]),
    "Nieuwegein": ((3431, 3439), ["Herenstraat", "Structuurbaan", "Zuidstedeweg"]),
    "Houten": ((3991, 3995), ["Spoorlaan", "Loerikseweg", "Het Kant"]),
    "Bunnik": ((3981, 3984), ["Stationsweg", "Kosterijland"]),
    "Amersfoort": ((3811, 3829), ["Langestraat", "Leusderweg", "Hogeweg"]),
}
# Postcode letters: SA, SD and SS were never issued; F, I, O, Q, U and Y are not used.
POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
ID_DOCUMENT_LETTERS = "ABCDEFGHIJKLMNPQRSTUVWXYZ"  # Dutch document numbers never contain the letter O

STORED_PATIENTS = 30
SEED = 2026
# Two patients written for a purpose: ONVZ rules at work (the random patients at ONVZ hold no package).
# first, last, age, city, street, (UZOVI, package index by name, (n, "years" ago on 1 January | n "months"
# before this month)), complaint, days since the first session.
SCENARIO_PATIENTS = [
    # Topfit: camouflage, 2 lessons a year; the third lesson is not reimbursed.
    ("Mirjam", "Kuiper", 44, "Utrecht", "Lange Nieuwstraat 31", ("3358", 1, (3, "years")), "camouflage_course",
     150),
    # Optifit since 4 months: epilation has a 12-month waiting period, so nothing is reimbursed yet.
    ("Naima", "Bouzid", 31, "Zeist", "Slotlaan 88", ("3358", 0, (4, "months")), "hypertrichosis_electrolysis",
     100),
]


# ---- catalogue, insurer rules, complaints ------------------------------------------------------------------

# code, name, technique, Vektis prestatiecode, VAT-inclusive consumer price in cents, minutes.
# The prestatiecodes are EXAMPLE CODES, NOT THE REAL VEKTIS LIST: list 075 (Prestatiecodelijst huidtherapie)
# is not in this repository, so the demo uses made-up codes of the right shape, all starting with "VB"
# (voorbeeld) so that nobody mistakes them for real ones. A practice enters its own codes in the catalogue.
# Every item here can serve a medical indication, so each needs a code (an item whose technique serves cosmetic
# indications only would be allowed without one: domain/prestatiecodes.py).
CATALOGUE_CODE_LIST = "075"
CATALOGUE = [
    ("FRAC-SCAR-F", "Fractionele laser, acnelittekens, gezicht", "fractional_laser", "VB0101", 22500, 60),
    ("FRAC-REJ-F", "Fractionele laser huidverjonging, gezicht", "fractional_laser", "VB0102", 24900, 60),
    ("LHR-F", "Laserontharing, gezicht", "laser_hair_removal", "VB0201", 9500, 30),
    ("LHR-L", "Laserontharing, benen", "laser_hair_removal", "VB0202", 18900, 60),
    ("IPL-F", "IPL-ontharing, gezicht", "ipl", "VB0203", 7900, 30),
    ("IPL-PIG", "IPL pigment en zonschade, gezicht", "ipl", "VB0301", 12900, 45),
    ("ELEC-30", "Elektrisch epileren, 30 minuten", "electrolysis", "VB0204", 5500, 30),
    ("ACNE-BEH", "Acnebehandeling (reinigen, extractie, advies)", None, "VB0401", 6900, 45),
    ("CAMO-LES", "Camouflageles", "camouflage_lesson", "VB0501", 8500, 60),
    ("MLD-45", "Manuele lymfedrainage, 45 minuten", "lymph_drainage", "VB0601", 6500, 45),
]

_PUBLISHED = "gepubliceerde voorwaarde"
ASSUMED = "demobedrag (niet geverifieerd): controleer de actuele voorwaarden van de verzekeraar"


def _rule(package: str | None, label: str, categories: list[str], cap_euros: int | None, group: str,
          **extra: Any) -> dict[str, Any]:
    return {"package": package, "label": label, "categories": categories,
            "cap_cents": cap_euros * 100 if cap_euros is not None else None, "cap_group": group, **extra}


FACE_NECK = ["face", "neck"]
# UZOVI -> (years the rules are entered for, the rules). Cap groups are year-neutral, so a lifetime cap counts
# every year; rules of one insurer with the same cap group share one cap (Zilveren Kruis: acne + hair removal).
COVERAGE_RULES: dict[str, tuple[tuple[int, ...], list[dict]]] = {
    "3311": ((2025, 2026), [
        _rule(None, "Acne (maximum gedeeld met ontharen)", ["acne"], 300, "zk-acne-hair",
              kp_level_required="kwaliteitsregister",
              notes=f"Zilveren Kruis 2025: EUR 300 per jaar voor acne en ontharen samen, huidtherapeut in het KP-"
                    f"kwaliteitsregister ({_PUBLISHED}); 2026 hetzelfde ingevoerd."),
        _rule(None, "Ontharen gezicht/hals (maximum gedeeld met acne)", ["hair_removal"], 300, "zk-acne-hair",
              kp_level_required="kwaliteitsregister", body_areas=FACE_NECK,
              notes=f"Zilveren Kruis 2025: deelt de EUR 300 per jaar met acne; alleen gezicht en hals ({_PUBLISHED})."),
    ]),
    "3358": ((2026,), [
        _rule("Optifit", "Camouflagelessen", ["camouflage"], 70, "onvz-camouflage-optifit", max_sessions=2,
              notes=f"ONVZ 2026 Optifit: 2 lessen, EUR 70 per jaar ({_PUBLISHED})."),
        _rule("Topfit", "Camouflagelessen", ["camouflage"], 120, "onvz-camouflage-topfit", max_sessions=2,
              notes=f"ONVZ 2026 Topfit: 2 lessen, EUR 120 per jaar ({_PUBLISHED})."),
        _rule("Optifit", "Epileren gezicht/hals (levenslang)", ["hair_removal"], 250, "onvz-epilation-optifit",
              cap_period="lifetime", waiting_months=12, body_areas=FACE_NECK,
              notes=f"ONVZ Optifit: 12 maanden wachttijd ({_PUBLISHED}); levenslang maximum EUR 250: {ASSUMED}."),
        _rule("Topfit", "Epileren gezicht/hals (levenslang)", ["hair_removal"], 500, "onvz-epilation-topfit",
              cap_period="lifetime", waiting_months=12, body_areas=FACE_NECK,
              notes=f"Levenslang maximum EUR 500 en 12 maanden wachttijd zoals bij Optifit: {ASSUMED}."),
    ]),
    "3313": ((2026,), [
        _rule(None, "Epileren gezicht 80 % (levenslang)", ["hair_removal"], 500, "anderzorg-facial-epilation",
              percentage=80, cap_period="lifetime", body_areas=FACE_NECK,
              notes="Zoals in de voorwaarden van Anderzorg 2018: 80 % tot EUR 500 over de looptijd van de polis, "
                    "epileren van gezicht en hals; voor 2026 ingevoerd als demo."),
    ]),
    "3343": ((2026,), [
        _rule(None, "Acne en acnelittekens (verwijzing)", ["acne", "scars"], 250, "fbto-acne", referral_required=True,
              notes=f"FBTO: acnebehandeling met verwijzing van huisarts of specialist ({_PUBLISHED}); EUR 250 per "
                    f"jaar en acnelittekens in hetzelfde maximum: {ASSUMED}."),
    ]),
    "9664": ((2026,), [
        _rule(None, "Ontharen gezicht/hals (techniek vermeld)", ["hair_removal"], 250, "cz-hair-removal",
              technique_required=True, body_areas=FACE_NECK,
              notes=f"CZ: de ontharingstechniek moet op de factuur staan ({_PUBLISHED}); "
                    f"EUR 250 per jaar: {ASSUMED}."),
    ]),
}

# What brings a patient in: indication, catalogue code, body areas to pick from, sessions (min, max),
# days between sessions (min, max), referrer type or None.
PROFILES: dict[str, tuple[str, str, tuple[str, ...], tuple[int, int], tuple[int, int], str | None]] = {
    "acne_scars": ("acne_scar", "FRAC-SCAR-F", ("face",), (3, 5), (35, 49), "dermatologist"),
    "acne": ("acne", "ACNE-BEH", ("face", "back"), (3, 5), (21, 35), "gp"),
    "hirsutism_laser": ("hirsutism", "LHR-F", ("face", "neck"), (3, 5), (35, 56), None),
    "pcos_ipl": ("pcos", "IPL-F", ("face",), (3, 4), (35, 49), None),
    "hypertrichosis_electrolysis": ("hypertrichosis", "ELEC-30", ("face", "neck"), (3, 5), (21, 35), None),
    "camouflage": ("camouflage", "CAMO-LES", ("face",), (2, 3), (28, 60), None),
    "camouflage_course": ("camouflage", "CAMO-LES", ("face",), (3, 3), (28, 42), None),
    "oedema": ("oedema", "MLD-45", ("legs", "arms"), (3, 5), (7, 14), "gp"),
    "rejuvenation": ("fine_lines", "FRAC-REJ-F", ("face",), (2, 3), (35, 56), None),
    "legs": ("cosmetic_hair_removal", "LHR-L", ("legs",), (2, 4), (42, 63), None),
    "sun_damage": ("sun_damage", "IPL-PIG", ("face", "hands"), (2, 3), (28, 42), None),
}
# The medical complaints that fit each insurer's rules (so the demo shows each rule at work), then the rest.
PROFILES_BY_UZOVI = {
    "3311": ["acne", "hirsutism_laser", "acne_scars"],
    "3358": ["camouflage", "hypertrichosis_electrolysis", "camouflage"],
    "3313": ["hirsutism_laser", "pcos_ipl"],
    "3343": ["acne_scars", "acne"],
    "9664": ["hirsutism_laser", "pcos_ipl", "oedema"],
}
COSMETIC_PROFILES = ["rejuvenation", "legs", "sun_damage"]
FEMALE_NAMES = {"Anna", "Sophie", "Julia", "Emma", "Lotte", "Fleur", "Eva", "Lisa", "Sara", "Iris", "Noor",
                "Femke", "Anouk", "Maud", "Sanne", "Roos", "Esmee", "Yara", "Fatima", "Zoë", "Marieke", "Ingrid",
                "Hanneke", "Karin", "Petra", "Wilma"}
GPS = [("Huisartsenpraktijk Lombok", "01012345"), ("Huisartsen Wittevrouwen", "01023456"),
       ("Gezondheidscentrum Overvecht", "01034567")]
DERMATOLOGISTS = [("Dr. M. Verhoeven, dermatoloog UMC Utrecht", "03045678"),
                  ("Dr. S. Aydin, dermatoloog Diakonessenhuis", "03056789")]
DIAGNOSES = {"acne": "Acne vulgaris, papulopustulair", "acne_scar": "Atrofische acnelittekens gelaat",
             "oedema": "Lymfoedeem na behandeling"}
HISTORY_DAYS = 240  # treatments over the past eight months
# Fractional laser settings as written in the treatment record (device, wavelength, fluence, spot, passes).
LASER_SETTINGS = {
    "fractional_laser": ("Fraxel Dual 1550", 1550, "20.00", None, "7.00", 8),
    "laser_hair_removal": ("Candela GentleMax Pro", 755, "16.00", "3.00", "15.00", 1),
    "ipl": ("Lumenis M22 IPL", 640, "14.00", "4.00", "15.00", 1),
}


# ---- billing ---------------------------------------------------------------------------------------------------

UNINVOICED_DAYS = 14      # the last two weeks' treatments are left for a therapist to invoice in the demo
INVOICE_WINDOW_DAYS = 56  # an invoice takes a patient's sessions of up to eight weeks, issued after the last one
PIN_SHARE = 0.35          # paid by pin at the desk on the day of the last session; the others by bank transfer
OVERDUE_BILLS = 3         # older bank-transfer invoices left unpaid (one of them paid in part)
CREDIT_REASON = ("Gecrediteerd op verzoek van de cliënt: haar verzekeraar wil één factuur per behandeldatum. "
                 "Vervangen door één factuur per sessie.")
INSTALMENT_NOTE = "Eerste termijn van een betalingsregeling; de rest volgt in twee maanden."
CLAIM_REPLY_DAYS = 30     # a batch gets the insurer's outcomes only for a month that ended this long ago
# The insurer's answers on the submitted batch: its own codes, in Dutch.
PARTLY_PAID_REASON = ("T03", "Vergoed tot het marktconforme tarief van de verzekeraar.")
REJECTION_REASON = ("M12", "Medische noodzaak niet aangetoond: stuur foto's of een verklaring van de huisarts mee.")
# Direct billing: what the practice did with the insurer's short payments on the patients' invoices.
SHORTFALL_TO_PATIENT_REASON = "Afgewezen door de verzekeraar (M12); met de cliënt besproken: zij betaalt dit deel zelf."
SHORTFALL_WRITTEN_OFF_REASON = "Verschil met het marktconforme tarief van de verzekeraar; afgeboekt door de praktijk."

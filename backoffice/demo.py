"""A realistic demo practice: users, therapists with credential history, insurers, patients.

`seed_demo` adds and flushes; the CLI command (`flask seed-demo`) commits. The data are generated from a
fixed random seed, so an empty database always gets the same practice. Dates are relative to `today`, so the
credential badges keep showing one valid, one expiring and one diploma-only therapist whenever it is run.

Patient candidates go through the same form as in the web UI; the few with impossible data (a BSN failing
the eleven-test, a postcode that cannot exist, a birth date in the future) are refused and reported, as
they would be at the front desk.

Billing goes through the invoicing and claims services as at the desk: invoices issued in date order (each
renders and stores its PDF, so numbers run with the dates from 00001 in each year), paid by pin or transfer, a
few open or overdue, one credited and replaced; the last two weeks' treatments are left to invoice. Then claim
batches: one submitted with the insurer's outcomes and one draft, their workbooks in the app's CLAIMS_DIR.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import exists, func, select
from werkzeug.datastructures import MultiDict

from .domain.credentials import KpLevel
from .domain.indications import BodyArea
from .domain.intake import Contraindication, ContraindicationEntry, Medication, MedicationUse
from .domain.money import from_cents
from .domain.referrals import add_months
from .domain.roles import Role
from .domain.validators import BSN_WEIGHTS, normalise_iban
from .extensions import db
from .models import (
    CatalogueItem,
    ClaimBatch,
    CoverageRule,
    Insurer,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    KpRegistration,
    NvhMembership,
    Package,
    Patient,
    Practice,
    Therapist,
    Treatment,
    User,
)

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
    "vat_id": "NL862417395B01",
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


@dataclass
class SeedReport:
    therapists: int = 0
    patients: int = 0
    insurers: int = 0
    refused: list[str] = field(default_factory=list)
    catalogue_items: int = 0
    coverage_rules: int = 0
    intakes: int = 0
    referrals: int = 0
    treatments: int = 0
    # Treatment candidates the intake screening refused (not recorded): "name, dd-mm-yyyy: reason".
    blocked: list[str] = field(default_factory=list)
    invoices: int = 0
    # Issued invoices by payment state on `today`: paid, open (overdue ones included), overdue, credited.
    invoice_states: dict[str, int] = field(default_factory=dict)
    payments: int = 0
    credit_notes: int = 0
    uninvoiced: int = 0           # treatments of the last weeks left for the therapist to invoice
    claim_batches: int = 0
    claim_lines: int = 0
    claim_lines_excluded: int = 0


# ---- deterministic generators ------------------------------------------------------------------


def years_ago(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def make_bsn(rng: random.Random, taken: set[str]) -> str:
    """A nine-digit number that passes the eleven-test (it need not exist: this is demo data)."""
    while True:
        prefix = f"{rng.randint(1, 6)}{rng.randint(0, 9_999_999):07d}"
        total = sum(int(d) * w for d, w in zip(prefix, BSN_WEIGHTS[:8], strict=True))
        check = total % 11  # total - check is then divisible by 11
        if check < 10 and total - check != 0:
            bsn = prefix + str(check)
            if bsn not in taken:
                taken.add(bsn)
                return bsn


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _postcode(rng: random.Random, low: int, high: int) -> str:
    while True:
        letters = rng.choice(POSTCODE_LETTERS) + rng.choice(POSTCODE_LETTERS)
        if letters not in {"SA", "SD", "SS"}:
            return f"{rng.randint(low, high)} {letters}"


def _phone(rng: random.Random, city: str) -> str:
    if rng.random() < 0.8:
        return f"06-{rng.randint(10_000_000, 99_999_999)}"
    area = "033" if city == "Amersfoort" else "030"
    return f"{area} {rng.randint(200, 299)} {rng.randint(1000, 9999)}"


def _id_document(rng: random.Random) -> tuple[str, str]:
    kind = rng.choices(["id_card", "passport", "driving_licence"], weights=[6, 3, 1])[0]
    if kind == "driving_licence":
        return kind, str(rng.randint(5_000_000_000, 5_999_999_999))
    chars = ID_DOCUMENT_LETTERS + "0123456789"
    number = "".join(rng.choice(ID_DOCUMENT_LETTERS) for _ in range(2))
    number += "".join(rng.choice(chars) for _ in range(6)) + str(rng.randint(0, 9))
    return kind, number


def patient_candidates(today: date, rng: random.Random) -> list[dict]:
    """The patients as typed at the desk: form values (strings), plus their insurances under '_insurances'."""
    taken_bsns: set[str] = set()
    used_names: set[tuple[str, str]] = set()
    used_emails: set[str] = set()
    candidates = []
    for index in range(STORED_PATIENTS):
        while True:
            first = rng.choice(FIRST_NAMES)
            infix, last = rng.choice(LAST_NAMES)
            if (first, last) not in used_names:
                used_names.add((first, last))
                break
        if index == 7:
            age = 17  # one minor, so the minimum-age rule at intake has someone to refuse
        elif index % 4 == 0:
            age = rng.randint(18, 25)  # young adults: acne and acne scars
        else:
            age = rng.randint(26, 74)
        born = years_ago(today, age) - timedelta(days=rng.randint(1, 364))
        city = rng.choice(list(PLACES))
        (low, high), streets = PLACES[city]
        email = f"{_ascii(first)}.{_ascii(infix + last)}@{rng.choice(['example.nl', 'example.com'])}"
        if email in used_emails:
            email = email.replace("@", f"{index}@")
        used_emails.add(email)
        values = {
            "first_name": first, "infix": infix, "last_name": last, "date_of_birth": born.isoformat(),
            "street": f"{rng.choice(streets)} {rng.randint(1, 240)}", "postcode": _postcode(rng, low, high),
            "city": city, "phone": _phone(rng, city), "email": email,
            "bsn": "", "id_document_type": "", "id_document_number": "",
        }
        # About half are treated for a medical indication and billed to an insurer: BSN and ID recorded.
        if index % 2 == 0 and age >= 18:
            kind, number = _id_document(rng)
            values.update(bsn=make_bsn(rng, taken_bsns), id_document_type=kind, id_document_number=number)
        values["_insurances"] = _insurances(today, rng, index)
        candidates.append(values)
    for first, last, age, city, street, insurance, profile, start_days in SCENARIO_PATIENTS:
        kind, number = _id_document(rng)
        (low, high), _streets = PLACES[city]
        start, started = insurance[2]
        policy_start = (date(today.year - start, 1, 1) if started == "years"
                        else add_months(today.replace(day=1), -start))
        candidates.append({
            "first_name": first, "infix": "", "last_name": last,
            "date_of_birth": (years_ago(today, age) - timedelta(days=rng.randint(1, 364))).isoformat(),
            "street": street, "postcode": _postcode(rng, low, high), "city": city, "phone": _phone(rng, city),
            "email": f"{_ascii(first)}.{_ascii(last)}@example.nl", "bsn": make_bsn(rng, taken_bsns),
            "id_document_type": kind, "id_document_number": number,
            "_insurances": [{"uzovi": insurance[0], "package": insurance[1], "from": policy_start, "until": None,
                             "policy": f"{rng.randint(100_000_000, 999_999_999)}"}],
            "_profile": profile, "_start_days": start_days,
        })
    return candidates


def _policy(rng: random.Random, start: date) -> dict:
    return {"uzovi": rng.choice(INSURERS)[1], "package": rng.randint(0, 2), "from": start, "until": None,
            "policy": f"{rng.randint(100_000_000, 999_999_999)}"}


def _insurances(today: date, rng: random.Random, index: int) -> list[dict]:
    if index % 6 == 5:
        return []  # a cosmetic client: no insurance recorded
    started = today.year - rng.randint(1, 6)
    first = _policy(rng, date(started, 1, 1))
    if index % 5 == 3 and started < today.year - 1:
        # Switched insurer at the turn of a year: the old policy ended on 31 December.
        switched = rng.randint(started + 1, today.year - 1)
        first["until"] = date(switched - 1, 12, 31)
        return [first, _policy(rng, date(switched, 1, 1))]
    if index % 10 == 9:
        first["until"] = date(today.year - 1, 12, 31)  # ended; no new policy known yet
    return [first]


def refused_candidates(today: date) -> list[dict]:
    """Records with data no Dutch patient can have; the form must refuse every one."""
    base = {"street": "Biltstraat 12", "postcode": "3572 BC", "city": "Utrecht", "phone": "06-12345678",
            "email": "", "bsn": "", "id_document_type": "", "id_document_number": "", "infix": "",
            "date_of_birth": "1988-05-17"}
    future = max(today, date.today()) + timedelta(days=45)
    return [
        {**base, "first_name": "Pieter", "last_name": "Smit", "email": "pieter.smit@example.nl",
         "bsn": "123456789", "id_document_type": "id_card", "id_document_number": "IXB123456"},
        {**base, "first_name": "Kim", "infix": "van", "last_name": "Os", "bsn": "1234567",
         "id_document_type": "passport", "id_document_number": "NP4K8L2T1"},
        {**base, "first_name": "Gerrit", "last_name": "Bos", "postcode": "0123 AB"},
        {**base, "first_name": "Tessa", "infix": "de", "last_name": "Ruiter", "postcode": "1234 SA"},
        {**base, "first_name": "Milan", "last_name": "Kuipers", "date_of_birth": future.isoformat()},
    ]


# ---- writing to the database ---------------------------------------------------------------------


def _check(values: dict):
    """Validate with the patient form itself: the demo data obey the same entry rules as the desk."""
    from .patients.forms import PatientForm

    formdata = MultiDict({k: v for k, v in values.items() if not k.startswith("_")})
    form = PatientForm(formdata=formdata, meta={"csrf": False})
    return form, form.validate()


def _refusal(values: dict, form) -> str:
    name = " ".join(p for p in (values["first_name"], values.get("infix"), values["last_name"]) if p)
    reasons = [f"{form[name_].label.text}: {message}" for name_, messages in form.errors.items()
               for message in messages]
    return f"{name}: " + "; ".join(reasons)


def _users() -> dict[str, User]:
    from .users.services import create_user, find_by_email

    users = {}
    for role, email, password in DEMO_LOGINS:
        user = find_by_email(email) or create_user(
            email=email, name=DEMO_USER_NAMES[role], role=role, password=password
        )
        users[role] = user
    return users


def _practice() -> None:
    if db.session.scalar(select(Practice.id).limit(1)) is None:
        db.session.add(Practice(**PRACTICE))


def _insurers(report: SeedReport) -> dict[str, Insurer]:
    insurers = {}
    for name, uzovi, packages, address in INSURERS:
        insurer = db.session.scalar(select(Insurer).where(Insurer.uzovi == uzovi))
        if insurer is None:
            slug = _ascii(name)
            insurer = Insurer(name=name, uzovi=uzovi, claim_address=address,
                              claim_email=f"declaraties@{slug}.example.nl")
            insurer.packages = [Package(name=p, description=f"{name} {p}: aanvullende verzekering")
                                for p in packages]
            db.session.add(insurer)
            report.insurers += 1
        insurers[uzovi] = insurer
    db.session.flush()
    return insurers


def _therapists(today: date, users: dict[str, User], report: SeedReport) -> None:
    admin = users[Role.ADMIN.value]
    verified_at = datetime.combine(today, time(9, 0), tzinfo=UTC)
    expiring_end = today + timedelta(days=20)
    expiring_start = years_ago(expiring_end, 5) + timedelta(days=1)
    diploma_start = date(today.year - 1, 7, 1)
    diploma_end = years_ago(diploma_start, -5) - timedelta(days=1)
    kwaliteit, diploma = KpLevel.KWALITEITSREGISTER, KpLevel.DIPLOMAREGISTER
    therapists = [
        # Fully valid: NVH open-ended, KP kwaliteitsregister for years to come, after an earlier period.
        ("Sanne de Vries", "90012345", users[Role.THERAPIST.value],
         [("NVH-2814", date(today.year - 9, 9, 1), None)],
         [("KP-10483", kwaliteit, date(today.year - 7, 1, 1), date(today.year - 3, 12, 31)),
          ("KP-10483", kwaliteit, date(today.year - 2, 1, 1), date(today.year + 2, 12, 31))]),
        # Kwaliteitsregister ends in 20 days: the badge warns; before that she was on the diplomaregister.
        ("Lotte Janssen", "90023456", None,
         [("NVH-3107", expiring_start - timedelta(days=400), None)],
         [("KP-11926", diploma, years_ago(expiring_start, 2), expiring_start - timedelta(days=1)),
          ("KP-11926", kwaliteit, expiring_start, expiring_end)]),
        # Recently graduated: diploma registered, no kwaliteitsregister yet; insurers will not reimburse.
        ("Mila Bakker", "90034567", None,
         [("NVH-4452", date(today.year - 1, 9, 1), None)],
         [("KP-13318", diploma, diploma_start, diploma_end)]),
    ]
    for name, agb, user, memberships, registrations in therapists:
        if db.session.scalar(select(Therapist.id).where(Therapist.agb_code == agb)) is not None:
            continue
        first = name.split()[0].lower()
        therapist = Therapist(name=name, agb_code=agb, email=f"{first}@{DEMO_DOMAIN}", user=user)
        therapist.nvh_memberships = [NvhMembership(member_number=n, valid_from=f, valid_until=u)
                                     for n, f, u in memberships]
        therapist.kp_registrations = [
            KpRegistration(kp_number=n, level=level.value, period_start=s, period_end=e, verified_by=admin,
                           verified_at=verified_at, evidence_filename=None)
            for n, level, s, e in registrations
        ]
        db.session.add(therapist)
        report.therapists += 1
    db.session.flush()


def _patients(today: date, rng: random.Random, insurers: dict[str, Insurer], report: SeedReport) -> list[tuple]:
    """Adds the patients; returns the ones added now as (candidate index, patient, complaint or None, days since
    the first session or None), for their intakes and treatments."""
    from .patients.services import create_patient, save_insurance

    added: list[tuple] = []
    for index, values in enumerate(patient_candidates(today, rng) + refused_candidates(today)):
        form, valid = _check(values)
        if not valid:
            report.refused.append(_refusal(values, form))
            continue
        data = form.data
        exists = db.session.scalar(select(Patient.id).where(
            Patient.first_name == data["first_name"], Patient.last_name == data["last_name"],
            Patient.date_of_birth == data["date_of_birth"]))
        if exists is not None:
            continue
        patient = create_patient(data)
        for insurance in values["_insurances"]:
            insurer = insurers[insurance["uzovi"]]
            packages = insurer.packages
            package = packages[insurance["package"]] if insurance["package"] < len(packages) else None
            save_insurance(patient, None, {
                "insurer_id": insurer.id, "package_id": package.id if package else None,
                "policy_number": insurance["policy"], "valid_from": insurance["from"],
                "valid_until": insurance["until"],
            })
        report.patients += 1
        added.append((index, patient, values.get("_profile"), values.get("_start_days")))
    return added


# ---- issue 3: catalogue, insurer rules, intakes, referrals and treatments ----------------------------

# code, name, technique, Vektis prestatiecode (list 075; left empty: the clinic bills without a contract),
# VAT-inclusive consumer price in cents, minutes.
CATALOGUE = [
    ("FRAC-SCAR-F", "Fractional laser, acne scars, face", "fractional_laser", "", 22500, 60),
    ("FRAC-REJ-F", "Fractional laser skin rejuvenation, face", "fractional_laser", "", 24900, 60),
    ("LHR-F", "Laser hair removal, face", "laser_hair_removal", "", 9500, 30),
    ("LHR-L", "Laser hair removal, legs", "laser_hair_removal", "", 18900, 60),
    ("IPL-F", "IPL hair removal, face", "ipl", "", 7900, 30),
    ("IPL-PIG", "IPL pigment and sun damage, face", "ipl", "", 12900, 45),
    ("ELEC-30", "Electrolysis (electric epilation), 30 minutes", "electrolysis", "", 5500, 30),
    ("ACNE-BEH", "Acne treatment (cleansing, extraction, advice)", None, "", 6900, 45),
    ("CAMO-LES", "Camouflage lesson", "camouflage_lesson", "", 8500, 60),
    ("MLD-45", "Manual lymph drainage, 45 minutes", "lymph_drainage", "", 6500, 45),
]

_PUBLISHED = "published condition"
_ASSUMED = "demo figure (unverified): check the insurer's current conditions"


def _rule(package: str | None, label: str, categories: list[str], cap_euros: int | None, group: str, **extra):
    return {"package": package, "label": label, "categories": categories,
            "cap_cents": cap_euros * 100 if cap_euros is not None else None, "cap_group": group, **extra}


FACE_NECK = ["face", "neck"]
# UZOVI -> (years the rules are entered for, the rules). Cap groups are year-neutral, so a lifetime cap counts
# every year; rules of one insurer with the same cap group share one cap (Zilveren Kruis: acne + hair removal).
COVERAGE_RULES: dict[str, tuple[tuple[int, ...], list[dict]]] = {
    "3311": ((2025, 2026), [
        _rule(None, "Acne (cap shared with hair removal)", ["acne"], 300, "zk-acne-hair",
              kp_level_required="kwaliteitsregister",
              notes=f"Zilveren Kruis 2025: EUR 300 a year for acne and hair removal together, therapist in the KP "
                    f"kwaliteitsregister ({_PUBLISHED}); 2026 entered the same."),
        _rule(None, "Hair removal face/neck (cap shared with acne)", ["hair_removal"], 300, "zk-acne-hair",
              kp_level_required="kwaliteitsregister", body_areas=FACE_NECK,
              notes=f"Zilveren Kruis 2025: shares the EUR 300 a year with acne; face and neck only ({_PUBLISHED})."),
    ]),
    "3358": ((2026,), [
        _rule("Optifit", "Camouflage lessons", ["camouflage"], 70, "onvz-camouflage-optifit", max_sessions=2,
              notes=f"ONVZ 2026 Optifit: 2 lessons, EUR 70 a year ({_PUBLISHED})."),
        _rule("Topfit", "Camouflage lessons", ["camouflage"], 120, "onvz-camouflage-topfit", max_sessions=2,
              notes=f"ONVZ 2026 Topfit: 2 lessons, EUR 120 a year ({_PUBLISHED})."),
        _rule("Optifit", "Epilation face/neck (lifetime)", ["hair_removal"], 250, "onvz-epilation-optifit",
              cap_period="lifetime", waiting_months=12, body_areas=FACE_NECK,
              notes=f"ONVZ Optifit: 12 months waiting period ({_PUBLISHED}); EUR 250 lifetime cap: {_ASSUMED}."),
        _rule("Topfit", "Epilation face/neck (lifetime)", ["hair_removal"], 500, "onvz-epilation-topfit",
              cap_period="lifetime", waiting_months=12, body_areas=FACE_NECK,
              notes=f"EUR 500 lifetime cap and 12 months waiting period as for Optifit: {_ASSUMED}."),
    ]),
    "3313": ((2026,), [
        _rule(None, "Facial epilation 80 % (lifetime)", ["hair_removal"], 500, "anderzorg-facial-epilation",
              percentage=80, cap_period="lifetime", body_areas=FACE_NECK,
              notes="As in Anderzorg's 2018 conditions: 80 % up to EUR 500 for the policy lifetime, facial "
                    "epilation (face and neck); entered for 2026 as a demo."),
    ]),
    "3343": ((2026,), [
        _rule(None, "Acne and acne scars (referral)", ["acne", "scars"], 250, "fbto-acne", referral_required=True,
              notes=f"FBTO: acne treatment with a GP or specialist referral ({_PUBLISHED}); EUR 250 a year and "
                    f"acne scars in the same cap: {_ASSUMED}."),
    ]),
    "9664": ((2026,), [
        _rule(None, "Hair removal face/neck (technique named)", ["hair_removal"], 250, "cz-hair-removal",
              technique_required=True, body_areas=FACE_NECK,
              notes=f"CZ: the hair-removal technique must be named on the invoice ({_PUBLISHED}); "
                    f"EUR 250 a year: {_ASSUMED}."),
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


def _catalogue(report: SeedReport) -> dict[str, CatalogueItem]:
    items = {}
    for code, name, technique, prestatiecode, cents, minutes in CATALOGUE:
        item = db.session.scalar(select(CatalogueItem).where(CatalogueItem.code == code))
        if item is None:
            item = CatalogueItem(code=code, name=name, technique=technique, prestatiecode=prestatiecode,
                                 price_cents=cents, duration_minutes=minutes, active=True)
            db.session.add(item)
            report.catalogue_items += 1
        items[code] = item
    db.session.flush()
    return items


def _coverage_rules(today: date, insurers: dict[str, Insurer], report: SeedReport) -> None:
    for uzovi, (years, rules) in COVERAGE_RULES.items():
        insurer = insurers[uzovi]
        packages = {p.name: p for p in insurer.packages}
        # The published years, and every year the demo treatments fall in.
        for year in sorted({*years, (today - timedelta(days=HISTORY_DAYS)).year, today.year}):
            for spec in rules:
                package = packages[spec["package"]] if spec["package"] else None
                package_id = package.id if package else None
                exists = db.session.scalar(select(CoverageRule.id).where(
                    CoverageRule.insurer_id == insurer.id, CoverageRule.year == year,
                    CoverageRule.label == spec["label"],
                    CoverageRule.package_id.is_(None) if package_id is None else CoverageRule.package_id == package_id,
                ))
                if exists is not None:
                    continue
                values = {k: v for k, v in spec.items() if k != "package"}
                notes = values.pop("notes", "")
                if year not in years:
                    notes += f" Entered for {year} unchanged: {_ASSUMED}."
                db.session.add(CoverageRule(insurer=insurer, package_id=package_id, year=year, notes=notes,
                                            categories=list(values.pop("categories")),
                                            body_areas=list(values.pop("body_areas", [])), **values))
                report.coverage_rules += 1
    db.session.flush()


@dataclass
class _Candidate:
    patient: Patient
    day: date
    profile: str
    area: str
    session: int
    series: int


def _profile_for(index: int, patient: Patient, today: date, rng: random.Random) -> str:
    insurance = patient.insurance_on(today)
    age = patient.age_on(today)
    if insurance is None or index % 3 == 2:
        return rng.choice(COSMETIC_PROFILES)
    choices = PROFILES_BY_UZOVI[insurance.insurer.uzovi]
    if age <= 25 and "acne" in choices:
        return rng.choice(["acne", "acne_scars"])
    return choices[(index // 3) % len(choices)]


def _series(patient: Patient, profile: str, today: date, rng: random.Random,
            start_days: int | None = None) -> list[_Candidate]:
    _indication, _code, areas, (low, high), (gap_low, gap_high), _referrer = PROFILES[profile]
    area = rng.choice(areas)
    total = rng.randint(low, high)
    day = today - timedelta(days=start_days or rng.randint(40, HISTORY_DAYS))
    sessions = []
    for number in range(1, total + 1):
        if day > today:
            break
        sessions.append(_Candidate(patient, day, profile, area, number, total))
        day += timedelta(days=rng.randint(gap_low, gap_high))
    return sessions


def _patient_histories(today: date, rng: random.Random, added: list[tuple],
                       catalogue: dict[str, CatalogueItem], report: SeedReport) -> None:
    """Intakes (with consent), referrals and about 80 treatments recorded through the treatment service.

    Each candidate treatment is screened against the intakes first, as at the desk; the ones the screening
    refuses (a minor, a pregnancy, antibiotics stopped too recently, no intake, no consent) are not recorded
    and are listed in `report.blocked`.
    """
    from .intakes.services import create_intake, screening_for
    from .referrals.services import create_referral
    from .treatments.services import TreatmentBlocked, TreatmentInput, record_treatment

    if not added:
        return
    therapists = db.session.scalars(select(Therapist).order_by(Therapist.agb_code)).all()
    plans = [(index, patient, profile or _profile_for(index, patient, today, rng), start_days)
             for index, patient, profile, start_days in added]
    adults = [(i, p) for i, p, _, _ in plans if p.age_on(today) >= 18 and i < STORED_PATIENTS]
    pregnant = next(p for i, p in adults if p.first_name in FEMALE_NAMES and p.age_on(today) <= 42)
    on_antibiotics = next(p for i, p in adults if p is not pregnant and i % 3 != 2)
    others = [p for _, p in adults if p is not pregnant and p is not on_antibiotics]
    no_intake, no_consent = others[-1], others[-2]

    candidates: list[_Candidate] = []
    for index, patient, profile, start_days in plans:
        series = _series(patient, profile, today, rng, start_days)
        first_day = series[0].day if series else today - timedelta(days=30)
        if patient is pregnant:
            # Pregnant since the summer: treatments after the new intake are refused.
            series.append(_Candidate(patient, today - timedelta(days=20), profile, series[0].area, 0, 0))
        if patient is on_antibiotics:
            series.append(_Candidate(patient, today, profile, series[0].area, 0, 0))
        candidates.extend(series)
        if patient is no_intake:
            continue
        intake_day = first_day - timedelta(days=rng.randint(7, 21))
        consent = patient is not no_consent
        create_intake(patient, {
            "intake_date": intake_day, "contraindications": (), "medications": (), "consent_given": consent,
            "consent_by": patient.full_name if consent else "", "consent_on": intake_day if consent else None,
            "notes": "" if consent else "Wants to think about the risks first; consent to follow.",
        })
        report.intakes += 1
        if patient is pregnant:
            create_intake(patient, {
                "intake_date": today - timedelta(days=50), "consent_given": True, "consent_by": patient.full_name,
                "consent_on": today - timedelta(days=50), "medications": (),
                "contraindications": (ContraindicationEntry(Contraindication.PREGNANCY_BREASTFEEDING),),
                "notes": "Pregnant (12 weeks): treatment paused until after breastfeeding.",
            })
            report.intakes += 1
        if patient is on_antibiotics:
            create_intake(patient, {
                "intake_date": today - timedelta(days=3), "consent_given": True, "consent_by": patient.full_name,
                "consent_on": today - timedelta(days=3), "contraindications": (),
                "medications": (MedicationUse(Medication.ANTIBIOTICS, today - timedelta(days=5)),),
                "notes": "Course of antibiotics for a throat infection, stopped 5 days ago.",
            })
            report.intakes += 1
        referrer = PROFILES[profile][5]
        if referrer is not None and (index % 4 != 1 or profile == "acne_scars"):
            name, agb = rng.choice(DERMATOLOGISTS if referrer == "dermatologist" else GPS)
            referral_day = intake_day - timedelta(days=rng.randint(3, 30))
            create_referral(patient, {
                "referrer_type": referrer, "referrer_name": name, "referrer_agb": agb,
                "referral_date": referral_day, "diagnosis": DIAGNOSES.get(PROFILES[profile][0], ""),
                "valid_until": None,
            })
            report.referrals += 1
    db.session.flush()

    candidates.sort(key=lambda c: (c.day, c.patient.id, c.session))
    for candidate in candidates:
        indication, code, _areas, _sessions, _gaps, _referrer = PROFILES[candidate.profile]
        item = catalogue[code]
        patient = candidate.patient
        referral = next((r for r in patient.referrals if r.referral_date <= candidate.day <= r.valid_until), None)
        settings = LASER_SETTINGS.get(item.technique or "")
        price_cents, reason = item.price_cents, ""
        if candidate.session == candidate.series and candidate.series >= 4 and rng.random() < 0.5:
            price_cents, reason = item.price_cents * 9 // 10, "Series discount, last session"
        session = candidate.session or max(
            (t.session_number for t in db.session.scalars(select(Treatment).where(
                Treatment.patient_id == patient.id, Treatment.indication == indication))), default=0) + 1
        data = TreatmentInput(
            therapist_id=rng.choices(therapists, weights=[5, 3, 2][:len(therapists)])[0].id,
            treatment_date=candidate.day, catalogue_item_id=item.id, indication=indication, body_area=candidate.area,
            price_cents=price_cents, price_change_reason=reason, session_number=session,
            series_total=max(candidate.series, session) if candidate.series else None,
            referral_id=referral.id if referral else None,
            device=settings[0] if settings else "", wavelength_nm=settings[1] if settings else None,
            fluence_j_cm2=Decimal(settings[2]) if settings else None,
            pulse_width_ms=Decimal(settings[3]) if settings and settings[3] else None,
            spot_size_mm=Decimal(settings[4]) if settings else None, passes=settings[5] if settings else None,
            fitzpatrick=rng.choice([2, 2, 3, 3, 4]) if settings else None,
        )
        screening = screening_for(patient, candidate.day, BodyArea(candidate.area))
        try:
            record_treatment(patient, data, screening)
        except TreatmentBlocked as blocked:
            report.blocked.append(f"{patient.full_name}, {candidate.day:%d-%m-%Y}: {blocked}")
            continue
        report.treatments += 1


# ---- billing: invoices, payments, a credit note and claim batches -------------------------------------------

UNINVOICED_DAYS = 14      # the last two weeks' treatments are left for a therapist to invoice in the demo
INVOICE_WINDOW_DAYS = 56  # an invoice takes a patient's sessions of up to eight weeks, issued after the last one
PIN_SHARE = 0.35          # paid by pin at the desk on the day of the last session; the others by bank transfer
OVERDUE_BILLS = 3         # older bank-transfer invoices left unpaid (one of them paid in part)
CREDIT_REASON = ("Credited at the patient's request: her insurer wants one invoice per treatment date. "
                 "Replaced by one invoice per session.")
INSTALMENT_NOTE = "First instalment of a payment arrangement; the rest follows in two months."
CLAIM_REPLY_DAYS = 30     # a batch gets the insurer's outcomes only for a month that ended this long ago
# The insurer's answers on the submitted batch: its own codes, in Dutch.
PARTLY_PAID_REASON = ("T03", "Vergoed tot het marktconforme tarief van de verzekeraar.")
REJECTION_REASON = ("M12", "Medische noodzaak niet aangetoond: stuur foto's of een verklaring van de huisarts mee.")


@dataclass
class _Bill:
    patient: Patient
    treatments: list[Treatment]
    issue_day: date
    method: str                  # "pin" (paid at the desk on the issue day) or "bank_transfer"
    outcome: str = "paid"        # "paid", "unpaid" (overdue), "partly" (an instalment), "credited" (and replaced)
    invoice: Invoice | None = None


def _bills(today: date, rng: random.Random, patient_ids: list[int]) -> list[_Bill]:
    """The treatments up to two weeks ago, per patient grouped into invoices of up to eight weeks of sessions,
    in issue-date order."""
    cutoff = today - timedelta(days=UNINVOICED_DAYS)
    treatments = db.session.scalars(
        select(Treatment).where(Treatment.patient_id.in_(patient_ids), Treatment.treatment_date <= cutoff)
        .order_by(Treatment.patient_id, Treatment.treatment_date, Treatment.id)
    ).all()
    groups: list[list[Treatment]] = []
    for treatment in treatments:
        if (not groups or groups[-1][0].patient_id != treatment.patient_id
                or (treatment.treatment_date - groups[-1][0].treatment_date).days > INVOICE_WINDOW_DAYS):
            groups.append([treatment])
        else:
            groups[-1].append(treatment)
    bills = []
    for group in groups:
        last = group[-1].treatment_date
        if rng.random() < PIN_SHARE:
            bills.append(_Bill(group[0].patient, group, last, "pin"))
        else:
            issue_day = min(last + timedelta(days=rng.randint(1, 3)), today)
            bills.append(_Bill(group[0].patient, group, issue_day, "bank_transfer"))
    bills.sort(key=lambda b: (b.issue_day, b.patient.id, b.treatments[0].id))
    # Among the invoices of one to five months ago: one credited and replaced, a few never (fully) paid.
    older = [b for b in bills if today - timedelta(days=150) <= b.issue_day <= today - timedelta(days=30)]
    several = [b for b in older if len(b.treatments) >= 2]
    if several:
        credited = rng.choice(several)
        credited.method, credited.outcome = "bank_transfer", "credited"
    payable = [b for b in older if b.outcome == "paid"]
    unpaid = rng.sample(payable, k=min(OVERDUE_BILLS, len(payable)))
    for number, bill in enumerate(sorted(unpaid, key=lambda b: b.issue_day)):
        bill.method, bill.outcome = "bank_transfer", "partly" if number == 0 else "unpaid"
    return bills


def _invoice_history(today: date, rng: random.Random, patient_ids: list[int], report: SeedReport) -> list[Invoice]:
    """Invoices issued through the invoicing service (each renders and stores its PDF), in date order so the
    numbers run with the dates; payments by pin or transfer; a credit note with its replacement invoices. The
    last two weeks' treatments stay un-invoiced."""
    from .invoicing.services import credit_invoice, draft_invoice, issue_invoice, record_payment

    bills = _bills(today, rng, patient_ids)
    issued: list[Invoice] = []

    def issue(bill: _Bill) -> None:
        invoice = issue_invoice(draft_invoice(bill.patient, [t.id for t in bill.treatments]), today=bill.issue_day)
        bill.invoice = invoice
        issued.append(invoice)
        total = invoice.total_gross_cents
        if bill.outcome == "partly":
            payment = (bill.issue_day + timedelta(days=rng.randint(10, 20)), "bank_transfer",
                       max(total // 200 * 100, 1), INSTALMENT_NOTE)
        elif bill.outcome == "paid" and bill.method == "pin":
            payment = (bill.issue_day, "pin", total, "")
        elif bill.outcome == "paid":
            # Transfers come in 3 to 20 days after the invoice; most pay near the end of the term, so an invoice
            # still within it is open, and one whose transfer is later than today is overdue.
            paid_on = bill.issue_day + timedelta(days=rng.randint(3, 20))
            payment = (paid_on, "bank_transfer", total, "") if paid_on < today and invoice.due_date < today else None
        else:
            payment = None  # left unpaid (overdue), or credited before it was paid
        if payment is not None:
            paid_on, method, cents, note = payment
            record_payment(invoice, paid_on, method, from_cents(cents), note=note)
            report.payments += 1

    events = [(bill.issue_day, 0, index, bill) for index, bill in enumerate(bills)]
    events += [(bill.issue_day + timedelta(days=6), 1, 0, bill) for bill in bills if bill.outcome == "credited"]
    for day, kind, _index, bill in sorted(events, key=lambda event: event[:3]):
        if kind == 0:
            issue(bill)
            continue
        credit_invoice(bill.invoice, reason=CREDIT_REASON, today=day)
        report.credit_notes += 1
        for treatment in bill.treatments:
            issue(_Bill(bill.patient, [treatment], day, "bank_transfer"))
    report.invoices = len(issued)
    report.uninvoiced = db.session.scalar(select(func.count(Treatment.id)).where(
        Treatment.patient_id.in_(patient_ids), ~exists().where(InvoicedTreatment.treatment_id == Treatment.id)))
    return issued


def _claim_options(today: date, insurers: list[Insurer]) -> list[tuple]:
    """(insurer, first day, last day, claimable lines, lines an ineligible therapist makes unclaimable) for each
    month that has ended with issued, unclaimed, reimbursable invoice lines of an insurer billed directly."""
    from .claims.services import candidate_lines, settings_for

    first = db.session.scalar(select(func.min(InvoiceLine.treatment_date)))
    if first is None:
        return []
    options = []
    month = first.replace(day=1)
    while add_months(month, 1) <= today:
        end = add_months(month, 1) - timedelta(days=1)
        for insurer in insurers:
            if not settings_for(insurer.id).direct_billing:
                continue
            line_ids = list(db.session.scalars(candidate_lines(insurer.id, month, end)))
            if not line_ids:
                continue
            treatments = db.session.scalars(select(Treatment).join(
                InvoiceLine, InvoiceLine.treatment_id == Treatment.id).where(InvoiceLine.id.in_(line_ids))).all()
            eligible = sum(t.therapist.credentials_on(t.treatment_date).eligible for t in treatments)
            options.append((insurer, month, end, eligible, len(treatments) - eligible))
        month = add_months(month, 1)
    return options


def _claim_batches(today: date, insurers: dict[str, Insurer], report: SeedReport) -> None:
    """Two claim batches through the claims service: one exported, submitted and answered (paid, rejected with
    the insurer's reason, partly paid), preferably of a month with at least three claimable lines; and a draft,
    preferably of a month where a therapist outside the KP kwaliteitsregister leaves a line excluded with its
    reason, else of the latest month."""
    from .claims.services import (
        ClaimError,
        batch_lines,
        create_batch,
        export_batch,
        mark_submitted,
        record_line_outcome,
    )

    options = _claim_options(today, sorted(insurers.values(), key=lambda i: i.uzovi))
    answered = [o for o in options if o[2] <= today - timedelta(days=CLAIM_REPLY_DAYS) and o[3]]
    submitted = max(answered, key=lambda o: (min(o[3], 3), o[4] > 0, o[3], o[1]), default=None)
    drafts = [o for o in options if o is not submitted]
    draft = max(drafts, key=lambda o: (o[3] > 0 and o[4] > 0, o[4] > 0, o[1], o[3]), default=None)
    for option in (submitted, draft):
        if option is None:
            continue
        insurer, start, end, _eligible, _ineligible = option
        claim_day = today
        if option is submitted:
            # Claimed some ten days after the month, once its invoices were out.
            issued = db.session.scalar(
                select(func.max(Invoice.issue_date)).select_from(InvoiceLine)
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
                .where(Treatment.insurer_id == insurer.id, InvoiceLine.treatment_date.between(start, end))
            ) or end
            claim_day = min(today, max(end + timedelta(days=10), issued + timedelta(days=1)))
        try:
            batch = create_batch(insurer, start, end, today=claim_day)
        except ClaimError:
            continue
        report.claim_batches += 1
        lines = batch_lines(batch)
        report.claim_lines += len(lines)
        report.claim_lines_excluded += sum(not view.line.included for view in lines)
        if option is not submitted or not any(view.line.included for view in lines):
            continue
        export_batch(batch, today=claim_day)
        mark_submitted(batch)
        included = [view.line for view in batch_lines(batch) if view.line.included]
        for number, line in enumerate(included):
            if number == 1:
                record_line_outcome(line, Decimal(0), *REJECTION_REASON)
            elif number == 2 and line.claimed_cents > 1:
                record_line_outcome(line, from_cents(line.claimed_cents * 3 // 4), *PARTLY_PAID_REASON)
            elif number < 3 or number < len(included) - 1:
                record_line_outcome(line, from_cents(line.claimed_cents))
            # With four or more lines the last awaits the insurer's answer: the batch stays submitted.


def _billing(today: date, rng: random.Random, added: list[tuple], insurers: dict[str, Insurer],
             report: SeedReport) -> None:
    """Invoices, payments, a credit note and claim batches for the treatments recorded now; left out when the
    database has invoices or claim batches already (back-dated invoices would break its number series)."""
    from .invoicing.services import invoice_status

    if not added or db.session.scalar(select(Invoice.id).limit(1)) is not None \
            or db.session.scalar(select(ClaimBatch.id).limit(1)) is not None:
        return
    issued = _invoice_history(today, rng, [patient.id for _index, patient, _profile, _days in added], report)
    db.session.flush()
    _claim_batches(today, insurers, report)
    db.session.flush()
    states = {"paid": 0, "open": 0, "overdue": 0, "credited": 0}
    for invoice in issued:
        db.session.expire(invoice)  # payments and credit notes were added by id, not through the relationships
        status = invoice_status(invoice, today)
        states[status.state.value] += 1
        states["overdue"] += status.overdue
    report.invoice_states = states


def seed_demo(today: date | None = None) -> SeedReport:
    """Add the demo practice; rows that already exist (same e-mail, UZOVI, AGB, patient) are left alone."""
    today = today or date.today()
    rng = random.Random(SEED)
    report = SeedReport()
    users = _users()
    _practice()
    insurers = _insurers(report)
    _therapists(today, users, report)
    added = _patients(today, rng, insurers, report)
    catalogue = _catalogue(report)
    _coverage_rules(today, insurers, report)
    db.session.flush()
    _patient_histories(today, rng, added, catalogue, report)
    db.session.flush()
    _billing(today, rng, added, insurers, report)
    db.session.flush()
    return report

"""The demo's people: users, the practice, insurers, therapists with credential history, and patients.

Patients are generated as typed at the desk (`Candidate`: the service's `PatientInput` plus the insurances to
record), checked against the desk's entry rules, and recorded through the patient service. The few with data
no Dutch patient can have are refused and reported, as they would be at the front desk.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from flask_babel import gettext
from sqlalchemy import select

from ..claims.settings import save_settings, settings_for
from ..domain.credentials import KpLevel
from ..domain.referrals import add_months
from ..domain.roles import Role
from ..domain.texts import Text
from ..domain.validators import BSN_WEIGHTS, bsn_error, postcode_error
from ..extensions import db
from ..insurers.services import InsurerInput, PackageInput, save_insurer, save_package
from ..models import Insurer, InsurerClaimSettings, Patient, Therapist, User
from ..patients.services import InsuranceInput, PatientInput, create_patient, save_insurance
from ..practice.services import PracticeDetails, get_practice, update_practice
from ..therapists.services import (
    CredentialInput,
    MembershipInput,
    TherapistInput,
    save_membership,
    save_registration,
    save_therapist,
)
from .data import (
    DEMO_DOMAIN,
    DEMO_LOGINS,
    DEMO_USER_NAMES,
    FIRST_NAMES,
    ID_DOCUMENT_LETTERS,
    INSURER_CLAIM_SETTINGS,
    INSURERS,
    LAST_NAMES,
    PLACES,
    POSTCODE_LETTERS,
    PRACTICE,
    SCENARIO_PATIENTS,
    STORED_PATIENTS,
)
from .report import SeedReport


@dataclass(frozen=True)
class Policy:
    uzovi: str
    package: int  # index into the insurer's packages; none when the insurer has fewer
    valid_from: date
    valid_until: date | None
    number: str


@dataclass(frozen=True)
class Candidate:
    """A patient as typed at the desk, the insurances to record, and for the scenario patients their complaint
    and the days since their first session."""

    details: PatientInput
    insurances: list[Policy] = field(default_factory=list)
    profile: str | None = None
    start_days: int | None = None


@dataclass(frozen=True)
class Added:
    """A patient recorded now, for their intakes and treatments."""

    index: int  # position among the candidates
    patient: Patient
    profile: str | None
    start_days: int | None


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


def _name(rng: random.Random, used: set[tuple[str, str]]) -> tuple[str, str, str]:
    """First name, infix, last name: a combination not used before."""
    while True:
        first = rng.choice(FIRST_NAMES)
        infix, last = rng.choice(LAST_NAMES)
        if (first, last) not in used:
            used.add((first, last))
            return first, infix, last


def _age(rng: random.Random, index: int) -> int:
    if index == 7:
        return 17  # one minor, so the minimum-age rule at intake has someone to refuse
    if index % 4 == 0:
        return rng.randint(18, 25)  # young adults: acne and acne scars
    return rng.randint(26, 74)


def _random_candidate(today: date, rng: random.Random, index: int, taken_bsns: set[str],
                      used_names: set[tuple[str, str]], used_emails: set[str]) -> Candidate:
    # The order of the draws below fixes the demo: change it and every later patient changes.
    first, infix, last = _name(rng, used_names)
    age = _age(rng, index)
    born = years_ago(today, age) - timedelta(days=rng.randint(1, 364))
    city = rng.choice(list(PLACES))
    (low, high), streets = PLACES[city]
    email = f"{_ascii(first)}.{_ascii(infix + last)}@{rng.choice(['example.nl', 'example.com'])}"
    if email in used_emails:
        email = email.replace("@", f"{index}@")
    used_emails.add(email)
    street = f"{rng.choice(streets)} {rng.randint(1, 240)}"
    postcode = _postcode(rng, low, high)
    phone = _phone(rng, city)
    details = PatientInput(first_name=first, infix=infix, last_name=last, date_of_birth=born, street=street,
                           postcode=postcode, city=city, phone=phone, email=email)
    # About half are treated for a medical indication and billed to an insurer: BSN and ID recorded.
    if index % 2 == 0 and age >= 18:
        kind, number = _id_document(rng)
        details = replace(details, bsn=make_bsn(rng, taken_bsns), id_document_type=kind, id_document_number=number)
    return Candidate(details, _insurances(today, rng, index))


def _scenario_candidates(today: date, rng: random.Random, taken_bsns: set[str]) -> list[Candidate]:
    candidates = []
    for first, last, age, city, street, (uzovi, package, (start, started)), profile, start_days in SCENARIO_PATIENTS:
        kind, number = _id_document(rng)
        (low, high), _streets = PLACES[city]
        policy_start = (date(today.year - start, 1, 1) if started == "years"
                        else add_months(today.replace(day=1), -start))
        details = PatientInput(
            first_name=first, last_name=last,
            date_of_birth=years_ago(today, age) - timedelta(days=rng.randint(1, 364)),
            street=street, postcode=_postcode(rng, low, high), city=city, phone=_phone(rng, city),
            email=f"{_ascii(first)}.{_ascii(last)}@example.nl", bsn=make_bsn(rng, taken_bsns),
            id_document_type=kind, id_document_number=number,
        )
        policy = Policy(uzovi, package, policy_start, None, f"{rng.randint(100_000_000, 999_999_999)}")
        candidates.append(Candidate(details, [policy], profile, start_days))
    return candidates


def patient_candidates(today: date, rng: random.Random) -> list[Candidate]:
    """The patients as typed at the desk, with their insurances: the random ones, then the scenario ones."""
    taken_bsns: set[str] = set()
    used_names: set[tuple[str, str]] = set()
    used_emails: set[str] = set()
    candidates = [_random_candidate(today, rng, index, taken_bsns, used_names, used_emails)
                  for index in range(STORED_PATIENTS)]
    return candidates + _scenario_candidates(today, rng, taken_bsns)


def _policy(rng: random.Random, start: date) -> Policy:
    uzovi = rng.choice(INSURERS)[1]
    package = rng.randint(0, 2)
    return Policy(uzovi, package, start, None, f"{rng.randint(100_000_000, 999_999_999)}")


def _insurances(today: date, rng: random.Random, index: int) -> list[Policy]:
    if index % 6 == 5:
        return []  # a cosmetic client: no insurance recorded
    started = today.year - rng.randint(1, 6)
    first = _policy(rng, date(started, 1, 1))
    if index % 5 == 3 and started < today.year - 1:
        # Switched insurer at the turn of a year: the old policy ended on 31 December.
        switched = rng.randint(started + 1, today.year - 1)
        return [replace(first, valid_until=date(switched - 1, 12, 31)), _policy(rng, date(switched, 1, 1))]
    if index % 10 == 9:
        return [replace(first, valid_until=date(today.year - 1, 12, 31))]  # ended; no new policy known yet
    return [first]


def refused_candidates(today: date) -> list[Candidate]:
    """Records with data no Dutch patient can have; the entry rules must refuse every one."""
    base = PatientInput(first_name="", last_name="", date_of_birth=date(1988, 5, 17), street="Biltstraat 12",
                        postcode="3572 BC", city="Utrecht", phone="06-12345678")
    records = [
        replace(base, first_name="Pieter", last_name="Smit", email="pieter.smit@example.nl", bsn="123456789",
                id_document_type="id_card", id_document_number="IXB123456"),
        replace(base, first_name="Kim", infix="van", last_name="Os", bsn="1234567", id_document_type="passport",
                id_document_number="NP4K8L2T1"),
        replace(base, first_name="Gerrit", last_name="Bos", postcode="0123 AB"),
        replace(base, first_name="Tessa", infix="de", last_name="Ruiter", postcode="1234 SA"),
        replace(base, first_name="Milan", last_name="Kuipers", date_of_birth=today + timedelta(days=45)),
    ]
    return [Candidate(details) for details in records]


# ---- the desk's entry rules ----------------------------------------------------------------------


def _birth_error(born: date, today: date) -> str | None:
    if born > today:
        return "The date of birth lies in the future."
    if born.year < 1900:
        return "Check the year of birth."
    return None


def _postcode_error(details: PatientInput) -> Text | str | None:
    if details.postcode:
        return postcode_error(details.postcode)
    if details.street or details.city:
        return "Enter the postcode with the address."
    return None


def _id_document_error(details: PatientInput) -> str | None:
    if details.bsn and not (details.id_document_type and details.id_document_number):
        return "With a BSN, record the type and number of the ID document you checked."
    return None


def entry_errors(details: PatientInput, today: date) -> list[str]:
    """What the patient form would refuse, as "Label: message", in the form's field order. The identifier
    checks are the domain validators the form runs; the demo's names, e-mails and lengths are valid by
    construction."""
    checks = [
        ("Date of birth", _birth_error(details.date_of_birth, today)),
        ("Postcode", _postcode_error(details)),
        ("BSN", bsn_error(details.bsn) if details.bsn else None),
        ("ID document number", _id_document_error(details)),
    ]
    # In the language of the CLI (Dutch), with the form's own labels and messages (the same message ids).
    return [f"{gettext(label)}: {gettext(message) if isinstance(message, str) else message}"
            for label, message in checks if message]


def _display_name(details: PatientInput) -> str:
    return " ".join(part for part in (details.first_name, details.infix, details.last_name) if part)


# ---- writing to the database ---------------------------------------------------------------------


def users() -> dict[str, User]:
    from ..users.services import create_user, find_by_email

    found = {}
    for role, email, password in DEMO_LOGINS:
        user = find_by_email(email)
        if user is None:
            user = create_user(email=email, name=DEMO_USER_NAMES[role], role=role, password=password)
            # A demo account: in development it signs in by its printed password alone (auth/twofactor.py).
            user.demo = True
        found[role] = user
    return found


def practice() -> None:
    """The practice's details through the settings service, unless the practice has been entered already."""
    if get_practice() is None:
        update_practice(PracticeDetails(**PRACTICE))


def insurers(report: SeedReport) -> dict[str, Insurer]:
    """The insurers and their packages through the insurer service; ones already stored (same UZOVI) are kept."""
    found = {}
    for name, uzovi, packages, address in INSURERS:
        insurer = db.session.scalar(select(Insurer).where(Insurer.uzovi == uzovi))
        if insurer is None:
            insurer = save_insurer(None, InsurerInput(name=name, uzovi=uzovi, claim_address=address,
                                                      claim_email=f"declaraties@{_ascii(name)}.example.nl"))
            for package in packages:
                save_package(insurer, None, PackageInput(name=package,
                                                         description=f"{name} {package}: aanvullende verzekering"))
            report.insurers += 1
        _claim_settings(insurer)
        found[uzovi] = insurer
    return found


def _claim_settings(insurer: Insurer) -> None:
    """The insurer's claim settings of INSURER_CLAIM_SETTINGS through the claims service, unless settings were
    saved for it already (before any invoice: an invoice line's insurer part is fixed at issue)."""
    if insurer.uzovi not in INSURER_CLAIM_SETTINGS or db.session.get(InsurerClaimSettings, insurer.id) is not None:
        return
    direct_billing, bsn_required = INSURER_CLAIM_SETTINGS[insurer.uzovi]
    save_settings(insurer, direct_billing=direct_billing, deadline_months=settings_for(insurer.id).deadline_months,
                  bsn_required=bsn_required, template=None)


# name, personal AGB, user, NVH memberships (number, from, until), KP registrations (number, level, start, end)
_TherapistPlan = tuple[str, str, User | None, list[tuple[str, date, date | None]],
                       list[tuple[str, KpLevel, date, date]]]


def _therapist_plans(today: date, users: dict[str, User]) -> list[_TherapistPlan]:
    expiring_end = today + timedelta(days=20)
    expiring_start = years_ago(expiring_end, 5) + timedelta(days=1)
    diploma_start = date(today.year - 1, 7, 1)
    diploma_end = years_ago(diploma_start, -5) - timedelta(days=1)
    kwaliteit, diploma = KpLevel.KWALITEITSREGISTER, KpLevel.DIPLOMAREGISTER
    return [
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


def therapists(today: date, users: dict[str, User], report: SeedReport) -> None:
    """The therapists and their credential history through the therapist service; the demo admin is recorded as
    having verified each KP registration (now, as the service records it). A stored AGB code is left alone."""
    admin = users[Role.ADMIN.value]
    for name, agb, user, memberships, registrations in _therapist_plans(today, users):
        if db.session.scalar(select(Therapist.id).where(Therapist.agb_code == agb)) is not None:
            continue
        first = name.split()[0].lower()
        therapist = save_therapist(None, TherapistInput(name=name, agb_code=agb, email=f"{first}@{DEMO_DOMAIN}",
                                                        user_id=user.id if user else None))
        for number, valid_from, valid_until in memberships:
            save_membership(therapist, None, MembershipInput(number, valid_from, valid_until))
        for number, level, start, end in registrations:
            save_registration(therapist, None, CredentialInput(number, level, start, end), verified_by=admin)
        report.therapists += 1


# The packages in the order INSURERS names them: a policy's package index points into this list (the stored
# relationship lists them by name, which would change CZ's).
_PACKAGE_NAMES = {uzovi: packages for _name, uzovi, packages, _address in INSURERS}


def _insurance_input(insurer: Insurer, policy: Policy) -> InsuranceInput:
    names = _PACKAGE_NAMES.get(insurer.uzovi, [])
    name = names[policy.package] if policy.package < len(names) else None
    package = next((p for p in insurer.packages if p.name == name), None)
    return InsuranceInput(insurer_id=insurer.id, package_id=package.id if package else None,
                          policy_number=policy.number, valid_from=policy.valid_from, valid_until=policy.valid_until)


def _stored(details: PatientInput) -> bool:
    return db.session.scalar(select(Patient.id).where(
        Patient.first_name == details.first_name, Patient.last_name == details.last_name,
        Patient.date_of_birth == details.date_of_birth)) is not None


def patients(today: date, rng: random.Random, insurers: dict[str, Insurer], report: SeedReport) -> list[Added]:
    """Records the candidates that pass the entry rules through the patient service (refusing the others, as
    the desk would); returns the patients added now."""
    added: list[Added] = []
    for index, candidate in enumerate(patient_candidates(today, rng) + refused_candidates(today)):
        errors = entry_errors(candidate.details, today)
        if errors:
            report.refused.append(f"{_display_name(candidate.details)}: " + "; ".join(errors))
            continue
        if _stored(candidate.details):
            continue
        patient = create_patient(candidate.details)
        for policy in candidate.insurances:
            save_insurance(patient, None, _insurance_input(insurers[policy.uzovi], policy))
        report.patients += 1
        added.append(Added(index, patient, candidate.profile, candidate.start_days))
    return added

"""`flask credentials check --mail` (the managers are told once per stage per credential) and the manager's part
of the home page (main/manager_work.py). The stage rules themselves: tests/test_domain_credential_alerts.py."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import factories
from conftest import create_user
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select

from backoffice import audit
from backoffice.clock import freeze
from backoffice.domain.credential_alerts import AlertStage
from backoffice.domain.months import Month
from backoffice.extensions import db
from backoffice.models import CredentialAlert, NvhMembership, Therapist, User

TODAY = date(2026, 12, 6)
LONG_AGO = date(2015, 1, 1)
KW = "kwaliteitsregister"
FAR = TODAY + timedelta(days=900)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def therapist(name: str, kp_end: date | None = None, nvh_until: date | None = None, active: bool = True) -> int:
    return factories.therapist(name, "90123456", kp=[(LONG_AGO, kp_end or TODAY + timedelta(days=1000), KW)],
                               kp_number=f"KP-{name.split()[0]}", nvh_number=f"NVH-{name.split()[0]}",
                               nvh_from=LONG_AGO, nvh_until=nvh_until, active=active).id


def credentials_scene(app) -> dict[str, int]:
    """Expiring in 5 days (KP), in 60 days (NVH), lapsed 10 days ago (KP, with a patient's claim affected), valid
    for long, renewed, and an inactive therapist whose registration lapsed."""
    with app.app_context():
        ids = {"anouk": therapist("Anouk Seven", kp_end=TODAY + timedelta(days=5)),
               "bram": therapist("Bram Ninety", nvh_until=TODAY + timedelta(days=60)),
               "carla": therapist("Carla Gone", kp_end=TODAY - timedelta(days=10)),
               "dirk": therapist("Dirk Valid")}
        renewed = [(LONG_AGO, TODAY - timedelta(days=100), KW), (TODAY - timedelta(days=99), FAR, KW)]
        ids["eef"] = factories.therapist("Eef Renewed", "90123456", kp=renewed).id
        therapist("Fleur Left", kp_end=TODAY - timedelta(days=3), active=False)
        insurer = factories.insurer("Zilveren Kruis", "3311")
        item = factories.catalogue_item("FL1", price_cents=12_000)
        patient = factories.patient("Jansen", "Anna", date_of_birth=date(1990, 1, 1))
        factories.treatment(patient.id, ids["carla"], item.id, TODAY - timedelta(days=5), price="120.00",
                            insurer_id=insurer.id)
        db.session.commit()
    return ids


def mail_settings(app, outbox) -> None:
    app.config.update(MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(outbox), MAIL_FROM="praktijk@test.nl")


def messages(outbox) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(outbox.glob("*.eml"))]


def check(app, day: date, *options: str):
    with freeze(at(day)):
        return app.test_cli_runner().invoke(args=["credentials", "check", "--mail", *options])


def recorded(app) -> set[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(select(Therapist.name, CredentialAlert.stage)
                                  .join(Therapist, Therapist.id == CredentialAlert.therapist_id)).all()
        return {(name, stage) for name, stage in rows}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_managers_are_mailed_each_stage_once(app, tmp_path):
    outbox = tmp_path / "outbox"
    mail_settings(app, outbox)
    ids = credentials_scene(app)
    create_user(app, "manager@test.nl", "manager")
    create_user(app, "boss@test.nl", "manager")
    create_user(app, "admin@test.nl", "admin")
    with app.app_context():
        create_user(app, "former@test.nl", "manager")
        db.session.execute(db.update(User).where(User.email == "former@test.nl").values(active=False))
        db.session.commit()

    # A dry run shows the message and sends and records nothing.
    dry = check(app, TODAY, "--dry-run")
    assert dry.exit_code == 1, dry.output  # something has lapsed, as without --mail
    assert "dry run" in dry.output and "boss@test.nl, manager@test.nl" in dry.output and "Anouk Seven" in dry.output
    assert messages(outbox) == [] and recorded(app) == set()

    first = check(app, TODAY)
    assert first.exit_code == 1, first.output
    assert "Expired, no successor recorded: 1" in first.output  # the report is printed as before
    assert "Mail: 3 new alert(s) sent to boss@test.nl, manager@test.nl." in first.output
    [message] = messages(outbox)
    assert message["To"] == "boss@test.nl, manager@test.nl"  # active managers only, not the admin
    assert message["Subject"] == "Registraties van therapeuten: 3 meldingen"
    body = message.get_content()
    assert "Verlopen, geen opvolger vastgelegd:" in body and "Verloopt binnen 7 dagen:" in body
    assert "Carla Gone: KP KP-Carla (kwaliteitsregister), verlopen op 26-11-2026" in body
    assert "Anouk Seven: KP KP-Anouk (kwaliteitsregister), verloopt op 11-12-2026 (over 5 dagen)" in body
    assert "Bram Ninety: NVH NVH-Bram" in body
    for absent in ("Dirk", "Eef", "Fleur", "Anna", "Jansen"):  # valid, renewed, inactive; never a patient
        assert absent not in body
    assert recorded(app) == {("Carla Gone", "lapsed"), ("Anouk Seven", "7"), ("Bram Ninety", "90")}

    # The same day again, and a week later: nothing new to tell.
    for day in (TODAY, TODAY + timedelta(days=4)):
        again = check(app, day)
        assert again.exit_code == 1 and "nothing new" in again.output, again.output
    assert len(messages(outbox)) == 1

    # Bram's membership is renewed; Anouk's registration lapses. The mail server refuses: nothing is recorded.
    with app.app_context():
        db.session.add(NvhMembership(therapist_id=ids["bram"], member_number="NVH-Bram-2",
                                     valid_from=TODAY + timedelta(days=61)))
        db.session.commit()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port(), MAIL_SECURITY="none")
    later = TODAY + timedelta(days=40)
    failed = check(app, later)
    assert failed.exit_code == 3, failed.output
    assert "Mail NOT sent" in failed.stderr and "127.0.0.1" in failed.stderr and "next run" in failed.stderr
    assert ("Anouk Seven", "lapsed") not in recorded(app)

    # The next run delivers it: only the new stage, nothing about the renewed membership.
    mail_settings(app, outbox)
    retried = check(app, later)
    assert retried.exit_code == 1 and "Mail: 1 new alert(s) sent" in retried.output, retried.output
    latest = messages(outbox)
    assert len(latest) == 2
    body = next(m for m in latest if m["Subject"] == "Registraties van therapeuten: 1 melding").get_content()
    assert "Anouk Seven" in body and "Bram" not in body and "Carla" not in body
    assert ("Anouk Seven", "lapsed") in recorded(app) and ("Bram Ninety", "30") not in recorded(app)


def test_admins_are_told_when_no_manager_exists(app, tmp_path):
    outbox = tmp_path / "outbox"
    mail_settings(app, outbox)
    with app.app_context():
        therapist("Anouk Seven", kp_end=TODAY + timedelta(days=5))
        db.session.commit()
    create_user(app, "admin@test.nl", "admin")
    create_user(app, "eva@test.nl", "therapist")
    result = check(app, TODAY)
    assert result.exit_code == 0, result.output
    assert "no active manager account; the message goes to the admins" in result.output
    [message] = messages(outbox)
    assert message["To"] == "admin@test.nl"
    assert "beheerders" in message.get_content()  # the message says why the admins get it
    usage = app.test_cli_runner().invoke(args=["credentials", "check", "--dry-run"])
    assert usage.exit_code == 2 and "--dry-run goes with --mail" in usage.output


def test_manager_work_groups_credentials_and_tells_the_months_close(app, as_role):
    """Credentials by stage; for November (ended) and December (running): the report and the pack exported after
    the month ended, recorded since, and the claimable lines not yet claimed per directly billed insurer."""
    from backoffice.claims.settings import save_settings
    from backoffice.main.manager_work import manager_work

    credentials_scene(app)
    with app.app_context():
        factories.practice(iban=None)
        admin = factories.user(factories.ADMIN_EMAIL, "admin")
        direct, restitution = factories.insurer("Direct", "0101"), factories.insurer("Self", "0202")
        save_settings(restitution, direct_billing=False, deadline_months=12, bsn_required=False, template=None)
        item = factories.catalogue_item("FL2", price_cents=10_000)
        eva = factories.therapist("Eva Jansen").id
        patient = factories.patient("de Vries", "Anna", date_of_birth=date(1990, 1, 1))
        factories.insurance(patient, direct, policy_number="D-1")

        def treated(day: date, insurer, price: str) -> int:
            return factories.treatment(patient.id, eva, item.id, day, price=price, indication="acne",
                                       insurer_id=insurer.id).id

        november = [treated(date(2026, 11, 3), direct, "100.00"), treated(date(2026, 11, 20), direct, "80.00")]
        late, december = treated(date(2026, 11, 4), restitution, "50.00"), treated(date(2026, 12, 2), direct, "70.00")
        db.session.commit()
        for moment, ids, dated in ((at(date(2026, 11, 25)), november, date(2026, 11, 25)),
                                   # Dated in November, issued after the pack was made: the pack misses it.
                                   (at(date(2026, 12, 4)), [late], date(2026, 11, 30)),
                                   (at(date(2026, 12, 5)), [december], date(2026, 12, 5))):
            with freeze(moment):
                factories.issued_invoice(patient.id, ids, admin, dated)
                db.session.commit()
        # The report exported on 20 November (the month still ran: does not count), the pack on 2 December.
        for moment, subject in ((at(date(2026, 11, 20)), "monthly report 2026-11"),
                                (at(date(2026, 12, 2)), "month-end pack 2026-11")):
            with freeze(moment):
                audit.record("export", None, subject, "test", user=admin)
                db.session.flush()  # the entry's moment is taken when it is written
        db.session.commit()

        work = manager_work(TODAY)
        assert [(g.stage, [line.therapist for line in g.lines]) for g in work.credentials] == [
            (AlertStage.LAPSED, ["Carla Gone"]), (AlertStage.DAYS_7, ["Anouk Seven"]),
            (AlertStage.DAYS_90, ["Bram Ninety"])]
        closed, running = work.months
        assert (closed.month, running.month) == (Month(2026, 11), Month(2026, 12))
        assert closed.over and not running.over
        assert closed.pack is not None and closed.pack.at == at(date(2026, 12, 2))
        assert closed.report_in_pack and closed.report == closed.pack
        assert closed.pack.changed_since
        # The restitution insurer's line is the patient's to claim: not counted.
        assert [(u.name, u.lines, u.amount) for u in closed.unclaimed] == [("Direct", 2, Decimal("180.00"))]
        assert (closed.unclaimed_lines, closed.unclaimed_amount) == (2, Decimal("180.00"))
        assert not closed.done
        assert running.report is None and running.pack is None
        assert [(u.name, u.lines, u.amount) for u in running.unclaimed] == [("Direct", 1, Decimal("70.00"))]

        with app.test_request_context("/"), force_locale("en"):
            html = render_template("main/_manager_work.html", manager_work=work)
        assert f'href="/therapists/{closed_therapist(work)}"' in html
        assert 'data-testid="credentials-lapsed"' in html and 'data-testid="credentials-30"' not in html
        assert "/reports/?month=2026-11" in html and "in the pack of 02-12-2026" in html
        assert "changed since: export again" in html and "after 31-12-2026" in html
        assert "2 lines, EUR 180,00" in html and "Direct" in html and "Self" not in html

    with freeze(at(TODAY)):  # the home page includes it for a manager
        home = as_role("manager").get("/").get_data(as_text=True)
    assert 'data-testid="manager-work"' in home and "Carla Gone" in home and "Direct" in home


def closed_therapist(work) -> int:
    return work.credentials[0].lines[0].therapist_id

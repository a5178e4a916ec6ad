"""The home page is the day's work (issue 14, part 1): per role the lists of what is to be done, each item linking
to where it is done, empty once the work is done; a bounded number of statements whatever the data's size; the
patients shown are logged. The rules behind the lists (claim deadline, grouping what blocks a claim) are tested
without an app at the end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import factories
import pytest
from conftest import login
from sqlalchemy import event, select

import config
from backoffice import clock
from backoffice.domain.invoicing import Gap, Missing
from backoffice.domain.worklists import PatientGaps, deadline_of, group_blockers
from backoffice.extensions import db
from backoffice.invoicing import declarations
from backoffice.invoicing import services as invoicing
from backoffice.mail import services as mail
from backoffice.main import worklists
from backoffice.models import AccessLog, Insurer, Invoice, Patient, Treatment, User

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 at the clinic
OCTOBER_5 = date(2026, 10, 5)


@pytest.fixture
def clinic(app, users):
    """Tom (the signed-in therapist) treated Anna today (her invoice issued today by him) and Bram yesterday (on
    his draft); Eva treated Carla today. Dirk has two October treatments not invoiced. Emma's reimbursable line
    of 5 October with Zilveren Kruis (billed directly, wants the BSN) is issued, her part unpaid, not claimed, and
    she has no BSN, ID document or intake. Fleur's line is in a batch submitted on 10 October without outcome."""
    with app.app_context(), clock.freeze(NOW):
        factories.practice(therapists_two_factor=False)
        admin = factories.existing_user(users["admin"])
        tom_user = factories.existing_user(users["therapist"])
        tom = factories.therapist("Tom Bakker", "90011111", user_id=tom_user.id)
        eva = factories.therapist("Eva Jansen", "90022222")
        item = factories.catalogue_item()
        zk = factories.insurer()
        factories.claim_settings(zk, bsn_required=True)
        anna, bram, carla, dirk, emma = (factories.patient(last, first, email=f"{first.lower()}@example.nl")
                                         for first, last in (
            ("Anna", "Aalders"), ("Bram", "Brink"), ("Carla", "Claassen"), ("Dirk", "Dekker"), ("Emma", "Evers")))
        fleur = factories.patient("Fokker", "Fleur", bsn="111222333", id_document_type="passport",
                                  id_document_number="NX1234567")
        factories.insurance(fleur, zk)
        anna_today = factories.treatment(anna.id, tom.id, item.id, TODAY, medical=False)
        bram_yesterday = factories.treatment(bram.id, tom.id, item.id, TODAY - timedelta(days=1), medical=False)
        carla_today = factories.treatment(carla.id, eva.id, item.id, TODAY, medical=False)
        dirk_treatments = [factories.treatment(dirk.id, eva.id, item.id, day, medical=False)
                           for day in (date(2026, 10, 7), date(2026, 10, 21))]
        # The insurer pays 100 of 175 (billed directly): the patient owes the rest.
        emma_line = factories.treatment(emma.id, eva.id, item.id, OCTOBER_5, insurer_id=zk.id, insurer_amount="100")
        fleur_line = factories.treatment(fleur.id, eva.id, item.id, date(2026, 10, 1), insurer_id=zk.id,
                                         insurer_amount="100")
        anna_invoice = factories.issued_invoice(anna.id, [anna_today.id], tom_user, TODAY)
        draft = factories.draft_invoice(bram.id, [bram_yesterday.id], tom_user)
        emma_invoice = factories.issued_invoice(emma.id, [emma_line.id], admin, OCTOBER_5)
        fleur_invoice = factories.issued_invoice(fleur.id, [fleur_line.id], admin, date(2026, 10, 1))
        batch = factories.submitted_batch(zk, [fleur_invoice.lines[0].id], admin,
                                          datetime(2026, 10, 10, 12, 0, tzinfo=UTC))
        db.session.commit()
        return {"anna": anna.id, "bram": bram.id, "carla": carla.id, "dirk": dirk.id, "emma": emma.id,
                "fleur": fleur.id, "zk": zk.id, "anna_today": anna_today.id, "carla_today": carla_today.id,
                "dirk_treatments": [t.id for t in dirk_treatments], "emma_line": emma_line.id,
                "anna_invoice": anna_invoice.id, "draft": draft.id, "emma_invoice": emma_invoice.id,
                "fleur_invoice": fleur_invoice.id, "batch": batch.id, "batch_number": batch.number}


def _signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(html: str, key: str) -> str:
    """The HTML of one work list ('' when the page has none)."""
    found = re.search(rf'<section[^>]*data-testid="work-{key}".*?</section>', html, re.S)
    return found.group(0) if found else ""


def _count(section: str) -> int:
    return int(re.search(r'data-testid="count-[^"]+">(\d+)<', section).group(1))


def test_the_therapists_home_page_is_their_days_work_until_it_is_handed_out(app, users, clinic, tmp_path):
    with clock.freeze(NOW):
        client = _signed_in(app, users["therapist"])
        html = _home(client)
        treatments = _section(html, "treatments")
        assert _count(treatments) == 2 and "Aalders" in treatments and "Brink" in treatments
        assert "Claassen" not in treatments  # Eva's patient: not Tom's work
        assert f'href="/treatments/{clinic["anna_today"]}"' in treatments
        assert f'href="/invoices/{clinic["anna_invoice"]}"' in treatments  # on the invoice issued today
        drafts = _section(html, "drafts")
        assert _count(drafts) == 1 and "Brink" in drafts and f'href="/invoices/{clinic["draft"]}"' in drafts
        hand_out = _section(html, "hand-out")
        assert _count(hand_out) == 2  # Anna's invoice and her aftercare sheet; Bram was yesterday
        assert f'href="/invoices/{clinic["anna_invoice"]}/pdf"' in hand_out
        assert f'href="/invoices/treatments/{clinic["anna_today"]}/aftercare.pdf"' in hand_out
        assert f'href="/mail/invoices/{clinic["anna_invoice"]}"' in hand_out  # or e-mail it
        assert f'href="/mail/treatments/{clinic["anna_today"]}/aftercare"' in hand_out
        assert "Claassen" not in hand_out
        assert not _section(html, "uninvoiced") and not _section(html, "claimable")  # the billing desk's work
        with app.app_context():
            shown = db.session.scalars(select(AccessLog.detail).where(
                AccessLog.subject == "home page work lists")).all()
        assert shown == [f"2 shown: #{clinic['anna']} #{clinic['bram']}"]

        # Handing out: the invoice e-mailed, the aftercare sheet printed. Printing at issue did not count.
        app.config.update(MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"), MAIL_FROM="praktijk@test.nl")
        with app.app_context():
            tom = db.session.scalar(select(User).where(User.email == users["therapist"]))
            sending = mail.send_invoice(db.session.get(Invoice, clinic["anna_invoice"]), tom)
            assert sending.status == "sent", sending.error
            declarations.aftercare_pdf(db.session.get(Treatment, clinic["anna_today"]), tom,
                                       renderer=lambda doc: b"%PDF-stub aftercare")
            db.session.commit()
        hand_out = _section(_home(client), "hand-out")
        assert _count(hand_out) == 0 and "Nothing to hand out." in hand_out


def test_the_admins_home_page_lists_the_billing_work_and_empties_as_it_is_done(app, users, clinic, monkeypatch):
    with clock.freeze(NOW):
        admin = _signed_in(app, users["admin"])
        html = _home(admin)
        assert html.index('data-testid="work-uninvoiced"') < html.index('data-testid="work-treatments"')

        uninvoiced = _section(html, "uninvoiced")
        assert _count(uninvoiced) == 2  # Dirk and Carla (Anna is invoiced, Bram on a draft)
        assert "Dekker" in uninvoiced and "Claassen" in uninvoiced and "Aalders" not in uninvoiced
        assert f'href="/invoices/new?patient_id={clinic["dirk"]}"' in uninvoiced
        assert "3 treatments, EUR 181,50 in all." in uninvoiced.replace("\xa0", " ")
        assert uninvoiced.index("Dekker") < uninvoiced.index("Claassen")  # the oldest first
        assert 'href="/invoices/bulk"' in uninvoiced  # everything in one go

        claimable = _section(html, "claimable")
        assert _count(claimable) == 1 and "Zilveren Kruis" in claimable  # Emma's line; Fleur's is in a batch
        assert f'href="/claims/new?insurer_id={clinic["zk"]}"' in claimable
        assert "05-10-2027" in claimable  # the deadline: 12 months after the oldest line

        blockers = _section(html, "blockers")
        for gap in ("bsn", "id_document", "intake"):
            assert f'data-testid="blockers-{gap}"' in blockers, gap
        assert f'href="/patients/{clinic["emma"]}/edit"' in blockers
        assert f'href="/patients/{clinic["emma"]}/intakes/new"' in blockers
        assert "Fokker" not in blockers

        waiting = _section(html, "waiting")
        assert _count(waiting) == 1 and f'href="/claims/{clinic["batch"]}"' in waiting
        assert clinic["batch_number"] in waiting

        overdue = _section(html, "overdue")
        assert _count(overdue) == 2  # Emma's and Fleur's invoices: due in October, unpaid
        assert f'href="/invoices/{clinic["emma_invoice"]}"' in overdue and 'data-testid="reminder-stage"' in overdue
        # Overdue invoices are counted up to a limit (each one's state is derived from its payments).
        monkeypatch.setattr(worklists, "OVERDUE_COUNT_LIMIT", 1)
        overdue = _section(_home(admin), "overdue")
        assert 'data-testid="count-overdue">1+<' in overdue and 'href="/invoices/overdue"' in overdue

        with app.app_context():
            # The blockers are the claim check's own "what is missing" (the draft invoice page's panel).
            emma = db.session.get(Patient, clinic["emma"])
            expected = [str(m) for m in invoicing.claim_gaps([db.session.get(Treatment, clinic["emma_line"])], emma)]
            claims = worklists.claim_work(TODAY, 12)
            found = claims.blockers.groups
            assert sorted(str(m) for group in found for b in group.blockers for m in b.missing) == sorted(expected)
            # The totals per insurer from the one pass agree with their own query (used beyond the line limit).
            assert claims.per_insurer == worklists.claimable_per_insurer(TODAY)
            # The work done: every treatment invoiced, Emma's BSN and ID document recorded.
            by = db.session.scalar(select(User).where(User.email == users["admin"]))
            factories.issued_invoice(clinic["dirk"], clinic["dirk_treatments"], by, TODAY)
            factories.issued_invoice(clinic["carla"], [clinic["carla_today"]], by, TODAY)
            emma.set_bsn("123456782")
            emma.id_document_type, emma.id_document_number = "passport", "NX7654321"
            db.session.commit()
        html = _home(admin)
        uninvoiced = _section(html, "uninvoiced")
        assert _count(uninvoiced) == 0 and "Nothing to invoice." in uninvoiced and "Dekker" not in uninvoiced
        blockers = _section(html, "blockers")
        assert 'data-testid="blockers-bsn"' not in blockers and 'data-testid="blockers-intake"' in blockers

        # The manager's page has the month's close and neither the chair's nor the billing desk's lists; the
        # billing desk does not repeat the manager's overview.
        assert 'data-testid="manager-work"' not in html
        manager = _home(_signed_in(app, users["manager"]))
        assert 'data-testid="manager-work"' in manager
        assert not _section(manager, "treatments") and not _section(manager, "uninvoiced")


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)


def _admin_home_statements(app, client) -> int:
    with app.app_context(), _statements() as seen:
        assert _count(_section(_home(client), "uninvoiced")) > 0
    return len(seen)


def test_the_home_page_reads_a_fixed_number_of_statements_whatever_the_data(app, users, clinic):
    with clock.freeze(NOW):
        admin = _signed_in(app, users["admin"])
        _home(admin)  # the first view of the day
        before = _admin_home_statements(app, admin)
        with app.app_context():
            # More of every kind of work: patients with treatments to invoice, claimable and overdue invoices of
            # a second insurer too, drafts, treatments today, another batch waiting.
            by = db.session.scalar(select(User).where(User.email == users["admin"]))
            therapist_id = db.session.scalar(select(Treatment.therapist_id).limit(1))
            item_id = db.session.scalar(select(Treatment.catalogue_item_id).limit(1))
            insurers = [db.session.get(Insurer, clinic["zk"]), factories.insurer("CZ", "3312")]
            lines = []
            for n in range(4):
                patient = factories.patient(f"Extra{n}", "Piet", bsn="999999990" if n == 0 else None)
                factories.treatment(patient.id, therapist_id, item_id, TODAY, medical=False)
                factories.treatment(patient.id, therapist_id, item_id, date(2026, 9, 1 + n), medical=False)
                claimable = factories.treatment(patient.id, therapist_id, item_id, date(2026, 9, 20),
                                                insurer_id=insurers[n % 2].id, insurer_amount="100")
                lines.append(factories.issued_invoice(patient.id, [claimable.id], by, date(2026, 9, 21)).lines[0].id)
                draft_of = factories.treatment(patient.id, therapist_id, item_id, TODAY, medical=False)
                factories.draft_invoice(patient.id, [draft_of.id], by)
            factories.submitted_batch(insurers[1], lines[1:2], by, datetime(2026, 9, 30, 12, 0, tzinfo=UTC))
            db.session.commit()
        assert _admin_home_statements(app, admin) == before


# ---- the rules, without an app ----------------------------------------------------------------------------------

def test_claim_deadline_and_blockers_grouped_per_reason():
    deadline = deadline_of(date(2026, 1, 31), 1, date(2026, 2, 20))
    assert deadline.day == date(2026, 2, 28) and deadline.days_left == 8 and deadline.urgent and not deadline.passed
    assert deadline_of(date(2025, 10, 1), 12, date(2026, 10, 2)).passed
    assert not deadline_of(date(2026, 10, 1), 12, date(2026, 10, 2)).urgent

    bsn, intake = Missing(Gap.BSN, "patient BSN"), Missing(Gap.INTAKE, "intake before the treatment of 01-10-2026")
    code = Missing(Gap.PRESTATIECODE, "prestatiecode of treatment Laser", 7)
    groups = group_blockers([PatientGaps(1, "Anna", [bsn, code, intake]), PatientGaps(2, "Bram", [code, intake]),
                             PatientGaps(3, "Carla", [intake, Missing(Gap.INTAKE, "up-to-date intake")])], limit=2)
    assert [g.gap for g in groups] == [Gap.BSN, Gap.PRESTATIECODE, Gap.INTAKE]
    assert [(b.patient_id, b.patients) for b in groups[1].blockers] == [(None, [1, 2])]  # one item, fixed once
    intakes = groups[2]
    assert intakes.count == 3 and intakes.more == 1 and [b.patient_id for b in intakes.blockers] == [1, 2]
    assert group_blockers([]) == []


def test_claim_outcome_wait_days_is_read_and_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAIM_OUTCOME_WAIT_DAYS", "45")
    assert config.load(str(tmp_path))["CLAIM_OUTCOME_WAIT_DAYS"] == 45
    for wrong in ("0", "thirty", "-3", "４５"):
        monkeypatch.setenv("CLAIM_OUTCOME_WAIT_DAYS", wrong)
        with pytest.raises(config.ConfigError, match="CLAIM_OUTCOME_WAIT_DAYS"):
            config.load(str(tmp_path))
    monkeypatch.delenv("CLAIM_OUTCOME_WAIT_DAYS")
    assert config.load(str(tmp_path))["CLAIM_OUTCOME_WAIT_DAYS"] == 30

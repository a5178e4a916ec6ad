"""Issuing with a print worker (issue 15): the request checks the draft and answers at once, the worker numbers it
and renders its PDF right after, in the requesting user's name. On SQLite and PostgreSQL, through the test client.

Tests run the queue in immediate mode (PRINT_QUEUE_URL=immediate), where issuing stays in the request; these tests
say the queue is a real one (tasks.in_background) and either keep what is queued to run it themselves, or let the
real Huey task run it right after the request's commit."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from conftest import post_form
from sqlalchemy import func, select
from test_invoice_views import FIRST, YEAR, draft_via_web, issue_via_web, log_rows, two_treatments

from backoffice.clock import utc_now
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import Invoice, IssueRequest, NumberSeries, Patient, Practice, User
from backoffice.printing import tasks


@pytest.fixture
def clinic(app, users):
    """The invoice pages' practice (tests/test_invoice_views.py): a medical and a cosmetic treatment to invoice."""
    with app.app_context():
        clinic = two_treatments(users)
        clinic.practice_kvk = db.session.scalar(select(Practice)).kvk_number
        return clinic


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """A real queue and no worker yet: what the request hands to the queue is kept here."""
    kept: list[int] = []
    monkeypatch.setattr(tasks, "in_background", lambda: True)
    monkeypatch.setattr(tasks, "enqueue_issue", kept.append)
    return kept


def _run_worker(app, invoice_id: int) -> str | None:
    """The worker's part, as the task runs it; the number it issued, None when it issued nothing."""
    with app.app_context():
        issued = services.issue_requested(invoice_id)
        return None if issued is None else issued.number


def _number_taken(app) -> int | None:
    with app.app_context():
        series = db.session.get(NumberSeries, f"invoice-{YEAR}")
        return None if series is None else series.next_value - 1


def test_the_request_answers_at_once_and_the_worker_issues_in_the_users_name(app, as_role, clinic, queued):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    response = issue_via_web(client, invoice_id)
    assert response.status_code == 302 and response.headers["Location"] == f"/invoices/{invoice_id}"
    assert queued == [invoice_id]  # handed to the queue after the commit

    # Nothing numbered yet: the page says so, updates by itself and offers nothing that changes the draft.
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "The invoice is being issued: its number and PDF follow in a moment." in page
    assert 'data-testid="issue-pending"' in page
    # The job pages' polling script follows the issue's status and reloads the page once it has ended.
    assert f'data-status-url="/invoices/{invoice_id}/issue-status"' in page and 'src="/invoices/progress.js"' in page
    assert client.get(f"/invoices/{invoice_id}/issue-status").get_json() == {"status": "running"}
    script = client.get("/invoices/progress.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript" and b"data-status-url" in script.data
    assert f"/invoices/{invoice_id}/issue\"" not in page and f"/invoices/{invoice_id}/delete" not in page
    assert "/remove" not in page
    assert _number_taken(app) is None
    with app.app_context():
        request = db.session.get(IssueRequest, invoice_id)
        assert request.requested_by.email == "therapist@test.nl" and request.failed_at is None
    # A line cannot be taken off, nor the draft deleted, while the worker is about to issue it.
    with app.app_context():
        line_id = db.session.get(Invoice, invoice_id).lines[0].id
    for url in (f"/invoices/{invoice_id}/lines/{line_id}/remove", f"/invoices/{invoice_id}/delete"):
        refused = post_form(client, url, {}, token_from=f"/invoices/{invoice_id}",
                            headers={"Referer": f"http://localhost/invoices/{invoice_id}"})
        assert refused.status_code == 302
        assert "This draft is being issued" in client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    with app.app_context():
        assert len(db.session.get(Invoice, invoice_id).lines) == 2

    assert _run_worker(app, invoice_id) == FIRST
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.issued_by.email == "therapist@test.nl"
        assert hashlib.sha256(invoice.pdf).hexdigest() == invoice.pdf_sha256
        assert db.session.get(IssueRequest, invoice_id) is None  # done in the transaction that issued it
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="issue-pending"' not in page and "progress.js" not in page and "Download PDF" in page
    assert client.get(f"/invoices/{invoice_id}/issue-status").get_json() == {"status": "done"}
    rows = log_rows(app, clinic.patient_id)
    assert ("create", f"invoice {FIRST}", "therapist") in rows  # logged by the worker, as the user who asked
    assert ("print", f"invoice {FIRST}", "therapist") in rows


def test_missing_data_is_refused_in_the_request_and_nothing_is_queued(app, as_role, clinic, queued):
    with app.app_context():
        db.session.scalar(select(Practice)).kvk_number = ""
        db.session.commit()
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    response = issue_via_web(client, invoice_id)
    assert response.status_code == 422 and "<li>practice KvK number</li>" in response.get_data(as_text=True)
    assert queued == []
    with app.app_context():
        assert db.session.get(IssueRequest, invoice_id) is None
        assert db.session.get(Invoice, invoice_id).status == "draft"


def test_the_real_task_issues_right_after_the_commit(app, as_role, clinic, monkeypatch):
    """Through the registered Huey task (immediate mode runs it at once, inside the request's app)."""
    monkeypatch.setattr(tasks, "in_background", lambda: True)
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    assert issue_via_web(client, invoice_id).status_code == 302
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.number == FIRST and db.session.get(IssueRequest, invoice_id) is None


@pytest.mark.parametrize("failure", ["the renderer crashed", "the practice's KvK number was removed"])
def test_a_worker_that_fails_keeps_no_number_and_the_page_offers_issuing_again(app, as_role, clinic, queued,
                                                                              monkeypatch, failure):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    issue_via_web(client, invoice_id)

    def broken(doc):
        raise RuntimeError(failure)

    if failure.startswith("the renderer"):
        monkeypatch.setattr(services, "_default_renderer", broken)
    else:  # changed between the request's check and the worker's turn: refused by the same check
        with app.app_context():
            db.session.scalar(select(Practice)).kvk_number = ""
            db.session.commit()
    assert _run_worker(app, invoice_id) is None
    assert _number_taken(app) is None  # rolled back with the failed issue: no gap in the series
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).status == "draft"
        assert db.session.get(IssueRequest, invoice_id).failed_at is not None
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="issue-failed"' in page and "no number was taken" in page
    assert f"/invoices/{invoice_id}/issue\"" in page and "progress.js" not in page
    assert client.get(f"/invoices/{invoice_id}/issue-status").get_json() == {"status": "failed"}

    # Issuing again after a failure issues in the request, where the user sees what goes wrong.
    monkeypatch.undo()
    with app.app_context():
        db.session.scalar(select(Practice)).kvk_number = clinic.practice_kvk
        db.session.commit()
    monkeypatch.setattr(tasks, "in_background", lambda: True)
    monkeypatch.setattr(tasks, "enqueue_issue", queued.append)
    queued.clear()
    assert issue_via_web(client, invoice_id).status_code == 302 and queued == []
    assert f"Invoice {FIRST} issued." in client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(IssueRequest, invoice_id) is None


def test_a_stale_request_no_longer_holds_the_draft(app, as_role, clinic, queued):
    """A worker that stopped: after PRINT_JOB_STALE_SECONDS the draft can be changed, and issuing issues it here."""
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    issue_via_web(client, invoice_id)
    with app.app_context():
        request = db.session.get(IssueRequest, invoice_id)
        stale = app.config["PRINT_JOB_STALE_SECONDS"]
        assert services.issue_pending(request)
        assert not services.issue_pending(request, utc_now() + timedelta(seconds=stale + 1))
        request.requested_at = utc_now() - timedelta(seconds=stale + 1)
        db.session.commit()
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="issue-pending"' not in page and f"/invoices/{invoice_id}/issue\"" in page
    queued.clear()
    assert issue_via_web(client, invoice_id).status_code == 302 and queued == []
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).number == FIRST
        assert db.session.get(IssueRequest, invoice_id) is None


def test_asked_twice_the_worker_issues_once(app, as_role, clinic, queued):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    issue_via_web(client, invoice_id)
    issue_via_web(client, invoice_id)  # a second click while it waits: asked again, queued again
    assert queued == [invoice_id, invoice_id]
    assert _run_worker(app, invoice_id) == FIRST
    assert _run_worker(app, invoice_id) is None  # the second task finds nothing left to do
    assert _number_taken(app) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.number.is_not(None))) == 1
    assert log_rows(app, clinic.patient_id).count(("create", f"invoice {FIRST}", "therapist")) == 1


def test_a_draft_deleted_after_a_failure_takes_its_request_with_it(app, as_role, clinic, queued):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    issue_via_web(client, invoice_id)
    with app.app_context():
        db.session.get(IssueRequest, invoice_id).failed_at = utc_now()
        db.session.commit()
    response = post_form(client, f"/invoices/{invoice_id}/delete", {}, token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Invoice, invoice_id) is None
        assert db.session.get(IssueRequest, invoice_id) is None
    assert _run_worker(app, invoice_id) is None  # a task still queued for it finds nothing


def test_issuing_in_the_request_is_the_default_of_a_clinic_without_a_worker(app):
    with app.app_context():
        assert app.config["PRINT_QUEUE_URL"] == "immediate" and not tasks.in_background()


def test_issuing_with_a_user_loaded_before_a_commit_is_one_update(app, users, clinic):
    """The worker's session has committed since it loaded the user (and in immediate mode, the request's commit ran
    just before): reading the expired user's id in the middle of the assignments autoflushed half of them, and the
    rest became a second UPDATE of an issued invoice, which the guards refuse."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == users["therapist"]))
        draft = services.draft_invoice(db.session.get(Patient, clinic.patient_id), [clinic.medical], user)
        db.session.commit()  # expires the user and the draft
        issued = services.issue_invoice(draft, user)
        db.session.commit()
        assert issued.number == FIRST and issued.issued_by_id == user.id

"""The admin of the demo practice invoices every treatment not yet invoiced in one go from the home page's work
list, has the invoices e-mailed (outbox backend: .eml files), and finds the work list empty afterwards.

The demo admin sees the Dutch interface; elements are found by test id and field name, which are the same in every
language."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backoffice.clock import clinic_today
from backoffice.demo import DEMO_LOGINS
from backoffice.demo.data import DEMO_USER_NAMES
from backoffice.extensions import db
from backoffice.invoice_runs import services as runs
from backoffice.models import Invoice, InvoiceRun

from .helpers import axe_violations, confirm_dialog, in_app, post, sign_in

pytestmark = pytest.mark.browser

ADMIN_EMAIL, ADMIN_PASSWORD = next((address, password) for role, address, password in DEMO_LOGINS if role == "admin")


def test_admin_invoices_all_uninvoiced_demo_treatments_emails_them_and_sees_the_work_list_empty(
        demo_app, demo_server: str, page: Page):
    waiting = in_app(demo_app, lambda: runs.summary(clinic_today()))
    assert waiting.patients >= 2, waiting  # the demo leaves its last two weeks to invoice
    sign_in(page, demo_server, ADMIN_EMAIL, ADMIN_PASSWORD, name=DEMO_USER_NAMES["admin"])

    # The home page's work list: the patients with treatments not yet invoiced, and the way to invoice them all.
    page.goto(demo_server + "/")
    work = page.get_by_test_id("work-uninvoiced")
    expect(work.get_by_test_id("count-uninvoiced")).to_have_text(str(waiting.patients))
    work.get_by_test_id("invoice-all").click()
    expect(page).to_have_url(re.compile(r"/invoices/bulk$"))
    expect(page.locator("[data-testid=uninvoiced] tbody[data-patient]")).to_have_count(waiting.patients)
    expect(page.get_by_test_id("patient-total").first).to_contain_text("EUR ")
    assert axe_violations(page) == []

    # Everything up to today, e-mailed afterwards; the browser asks for confirmation first.
    page.locator("input[name=send_email]").check()
    response = post(page, lambda: (page.get_by_test_id("bulk-everything").click(), confirm_dialog(page)))
    assert response.status == 302
    expect(page).to_have_url(re.compile(r"/invoices/bulk/\d+$"))
    expect(page.get_by_test_id("run-status").locator("[data-status]")).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("run-invoices").locator("tbody tr")).to_have_count(waiting.patients)
    expect(page.locator("[data-sending=sent]")).to_have_count(waiting.patients)
    expect(page.get_by_test_id("run-left-out")).to_have_count(0)
    assert axe_violations(page) == []

    # Each e-mail carries its invoice's PDF byte for byte, as stored at issue.
    def stored() -> dict[str, bytes]:
        run = db.session.scalars(select(InvoiceRun).order_by(InvoiceRun.id.desc())).first()
        assert run is not None
        return {f"factuur-{invoice.number}.pdf": invoice.pdf for invoice in db.session.scalars(
            select(Invoice).where(Invoice.id.in_(run.invoice_ids)))}

    pdfs = in_app(demo_app, stored)
    sent = {}
    for path in sorted((Path(demo_app.instance_path) / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.iter_attachments():
            sent[part.get_filename()] = part.get_content()
    assert sent == pdfs and len(sent) == waiting.patients

    # Back home: nothing left to invoice.
    page.goto(demo_server + "/")
    work = page.get_by_test_id("work-uninvoiced")
    expect(work.get_by_test_id("count-uninvoiced")).to_have_text("0")
    expect(work.get_by_test_id("empty-uninvoiced")).to_be_visible()

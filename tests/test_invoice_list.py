"""The list of all invoices (/invoices/) on SQLite and PostgreSQL: issued invoices and credit notes newest first,
drafts on request, the status, month and patient filters, paging by key without a COUNT, the roles and the
access log."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from conftest import login
from sqlalchemy import event, select
from test_declarations import BSN, InvoiceClinic

from backoffice.clock import clinic_today
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import AccessLog, Invoice

TODAY = clinic_today()


class Books:
    """Two patients' invoices, one in each state, issued on different days (relative to today):
    overdue (Anna, 60 days ago), paid (Anna, 50 days ago), credited in full (Bas, 40 days ago, credit note 30 days
    ago), open (Bas, today), and a draft for each of them."""

    def __init__(self, user_email: str):
        clinic = InvoiceClinic(user_email=user_email)
        self.anna = clinic.patient_id
        self.bas = clinic.second_patient()

        self.overdue = clinic.issued(clinic.treatment(), today=TODAY - timedelta(days=60)).id
        paid = clinic.issued(clinic.treatment(medical=False), today=TODAY - timedelta(days=50))
        services.record_payment(paid, TODAY - timedelta(days=45), "pin", "60.50", user=clinic.user)
        self.paid = paid.id
        self.anna_draft = services.draft_invoice(clinic.patient, [clinic.treatment()], clinic.user).id
        db.session.commit()

        clinic.patient_id = self.bas
        credited = clinic.issued(clinic.treatment(), today=TODAY - timedelta(days=40))
        self.credited = credited.id
        self.credit_note = services.credit_invoice(credited, None, "dubbel", clinic.user,
                                                   today=TODAY - timedelta(days=30),
                                                   renderer=lambda doc: b"%PDF-stub credit").id
        self.open = clinic.issued(clinic.treatment(), today=TODAY).id
        self.bas_draft = services.draft_invoice(clinic.patient, [clinic.treatment(medical=False)], clinic.user).id
        db.session.commit()
        self.numbers = {invoice.id: invoice.number for invoice in db.session.scalars(select(Invoice))}


@pytest.fixture
def books(app, users):
    with app.app_context():
        return Books(users["therapist"])


def rows(html: str) -> list[tuple[str, int]]:
    """("invoice" | "credit-note", id) of each row of the list, in order."""
    table = html.split('data-testid="invoice-table"', 1)[1].split("</table>", 1)[0]
    return [(kind, int(ident)) for kind, ident in re.findall(r'<tr data-(invoice|credit-note)-id="(\d+)"', table)]


def invoices(*ids: int) -> list[tuple[str, int]]:
    return [("invoice", ident) for ident in ids]


def test_lists_issued_invoices_and_credit_notes_newest_first(as_role, books):
    html = as_role("manager").get("/invoices/").get_data(as_text=True)
    assert rows(html) == [("invoice", books.open), ("credit-note", books.credit_note), ("invoice", books.credited),
                          ("invoice", books.paid), ("invoice", books.overdue)]  # no drafts
    assert 'href="/invoices/">Invoices</a>' in html and "Overdue invoices</a>" not in html.split("</nav>", 1)[0]
    assert 'href="/invoices/overdue"' in html  # the overdue list, from this page
    for invoice_id in (books.open, books.credited, books.paid, books.overdue):
        assert f'<a href="/invoices/{invoice_id}">{books.numbers[invoice_id]}</a>' in html
    assert f'href="/invoices/credit-notes/{books.credit_note}/pdf"' in html
    row = dict(zip(rows(html), html.split("<tr data-")[1:], strict=True))
    overdue, paid, credited, note, still_open = (row[("invoice", books.overdue)], row[("invoice", books.paid)],
                                                 row[("invoice", books.credited)],
                                                 row[("credit-note", books.credit_note)], row[("invoice", books.open)])
    assert 'data-status="overdue"' in overdue and "EUR 175,00" in overdue
    assert 'data-status="paid"' in paid and "EUR 60,50" in paid and "de Vries, Anna" in paid
    assert 'data-status="credited"' in credited
    assert "EUR -175,00" in note and "van den Berg, Bas" in note and books.numbers[books.credited] in note
    assert 'data-status="open"' in still_open and 'data-status="overdue"' not in still_open


def test_status_filters(as_role, books):
    client = as_role("therapist")

    def listed(query: str):
        return rows(client.get(f"/invoices/?{query}").get_data(as_text=True))

    assert listed("status=draft") == invoices(books.bas_draft, books.anna_draft)
    assert listed("status=open") == invoices(books.open, books.overdue)  # overdue is open too
    assert listed("status=overdue") == invoices(books.overdue)
    assert listed("status=paid") == invoices(books.paid)
    assert listed("status=credited") == invoices(books.credited)
    assert listed("status=credit_notes") == [("credit-note", books.credit_note)]
    assert listed("status=bogus") == listed("")  # unknown values are ignored, not refused
    page = client.get("/invoices/?status=draft").get_data(as_text=True)
    assert f'<a href="/invoices/{books.anna_draft}">Draft {books.anna_draft}</a>' in page
    assert '<option value="draft" selected>' in page


def test_month_and_patient_filters(as_role, books):
    client = as_role("manager")

    def listed(query: str):
        return rows(client.get(f"/invoices/?{query}").get_data(as_text=True))

    days = {("invoice", books.open): TODAY, ("credit-note", books.credit_note): TODAY - timedelta(days=30),
            ("invoice", books.credited): TODAY - timedelta(days=40),
            ("invoice", books.paid): TODAY - timedelta(days=50), ("invoice", books.overdue): TODAY - timedelta(days=60)}
    for day in set(days.values()):
        month = f"{day:%Y-%m}"
        assert listed(f"month={month}") == [key for key in listed("") if f"{days[key]:%Y-%m}" == month]
    assert listed("month=2019-01") == []
    assert listed("month=13-2026") == listed("")  # malformed: ignored
    assert listed(f"month={TODAY:%Y-%m}&status=draft") == invoices(books.bas_draft, books.anna_draft)
    assert listed("month=2019-01&status=draft") == []

    assert listed("q=Berg") == [("invoice", books.open), ("credit-note", books.credit_note),
                                ("invoice", books.credited)]
    assert listed("q=de+vries") == invoices(books.paid, books.overdue)
    assert listed("q=vries&status=overdue") == invoices(books.overdue)
    assert listed("q=Berg&status=draft") == invoices(books.bas_draft)
    assert listed("q=nobody") == []
    page = client.get("/invoices/?q=Berg").get_data(as_text=True)
    assert 'value="Berg"' in page and "No invoices found." not in page


def test_pages_by_key_without_counting(app, as_role, books):
    app.config["PAGE_SIZE"] = 2
    client = as_role("admin")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def remember(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(engine, "before_cursor_execute", remember)
    try:
        first = client.get("/invoices/").get_data(as_text=True)
        assert rows(first) == [("invoice", books.open), ("credit-note", books.credit_note)]
        assert 'data-testid="newer" href="#"' in first  # the newest page has no newer one
        older = re.search(r'data-testid="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        second = client.get(older).get_data(as_text=True)
        assert rows(second) == invoices(books.credited, books.paid)
        third = client.get(re.search(r'data-testid="older" href="([^"]+)"', second).group(1)).get_data(as_text=True)
        assert rows(third) == invoices(books.overdue) and 'data-testid="older" href="#"' in third
        back = client.get(re.search(r'data-testid="newer" href="([^"]+)"', third).group(1)).get_data(as_text=True)
        assert rows(back) == invoices(books.credited, books.paid)
        newest = client.get(re.search(r'data-testid="newer" href="([^"]+)"', back).group(1)).get_data(as_text=True)
        assert rows(newest) == rows(first) and 'data-testid="newer" href="#"' in newest
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert statements and not any("count(" in statement for statement in statements)

    # The filters stay on the links; drafts page by id.
    app.config["PAGE_SIZE"] = 1
    drafts = client.get("/invoices/?status=draft&q=utrecht").get_data(as_text=True)
    assert rows(drafts) == invoices(books.bas_draft)
    link = re.search(r'data-testid="older" href="([^"]+)"', drafts).group(1).replace("&amp;", "&")
    assert "status=draft" in link and "q=utrecht" in link
    assert rows(client.get(link).get_data(as_text=True)) == invoices(books.anna_draft)
    assert rows(client.get("/invoices/?after=garbage").get_data(as_text=True)) == invoices(books.open)


FULL_WIDTH_BIG = "\uff19" * 23  # full-width digits: int() took them, the request guard's [0-9] does not see them


@pytest.mark.parametrize("cursor", ["99999999999999999999999", str(2**31), "-" + FULL_WIDTH_BIG, FULL_WIDTH_BIG,
                                    "2026-10-01.0." + FULL_WIDTH_BIG, "2026-10-01.1.2147483648", "2026-10-01.2.1",
                                    "1_000", " 12"])
@pytest.mark.parametrize("status", ["draft", ""])
def test_a_cursor_no_id_column_holds_shows_the_first_page(as_role, books, cursor, status):
    client = as_role("admin")
    first = rows(client.get(f"/invoices/?status={status}").get_data(as_text=True))
    for name in ("after", "before"):
        response = client.get("/invoices/", query_string={"status": status, name: cursor})
        assert response.status_code < 500
        if response.status_code == 200:  # else the request guard refused a long ASCII number: 400
            assert rows(response.get_data(as_text=True)) == first


def test_list_cursors_parse_ascii_ids_an_integer_holds():
    parse = services.ListCursor.parse
    assert parse("12") == services.ListCursor(12)
    assert parse("2026-10-01.1.2147483647") == services.ListCursor(2**31 - 1, date(2026, 10, 1), 1)
    for text in ("2147483648", "99999999999999999999999", "\uff11\uff12", "-1", "2026-13-01.0.1", "2026-10-01.2.1",
                 "2026-10-01.0.12.", "", None):
        assert parse(text) is None, text


def test_roles_and_anonymous(app, client, users, books):
    response = client.get("/invoices/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    for role in ("admin", "therapist", "manager"):
        browser = app.test_client()
        login(browser, users[role])
        assert browser.get("/invoices/").status_code == 200, role


def test_access_log_as_the_patient_list(app, as_role, books):
    client = as_role("manager")

    def logged_since(before: int) -> list[tuple]:
        with app.app_context():
            return [tuple(row) for row in db.session.execute(
                select(AccessLog.action, AccessLog.patient_id, AccessLog.subject, AccessLog.detail,
                       AccessLog.user_role).where(AccessLog.id > before).order_by(AccessLog.id))]

    with app.app_context():
        before = db.session.scalar(select(db.func.max(AccessLog.id)))
        anna = db.session.get(Invoice, books.paid).patient_id
    # A plain list shows names: one entry naming the patients shown (one patient: filed under her too).
    assert client.get("/invoices/?status=paid").status_code == 200
    assert logged_since(before) == [("view", anna, "invoice list", f"1 shown: #{anna}", "manager")]
    with app.app_context():
        before = db.session.scalar(select(db.func.max(AccessLog.id)))
    html = client.get("/invoices/?q=de+vries").get_data(as_text=True)
    assert rows(html) == invoices(books.paid, books.overdue)
    assert logged_since(before) == [("search", anna, "invoice list", f"patient search, 1 shown: #{anna}",
                                     "manager")]
    with app.app_context():
        before = db.session.scalar(select(db.func.max(AccessLog.id)))
    # A BSN in the GET search is refused: not searched, not echoed, not logged.
    refused = client.get(f"/invoices/?q={BSN}&status=paid")
    assert refused.status_code == 303 and refused.headers["Location"] == "/invoices/?status=paid"
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert BSN not in page and "Search by BSN" in page
    assert all(BSN not in " ".join(map(str, row)) for row in logged_since(before))

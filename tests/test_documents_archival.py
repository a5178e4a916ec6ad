"""Archival PDFs (issue 11): invoices, credit notes and declarations are PDF/A-3b, tagged, with XMP metadata and
an sRGB output intent, read back with pikepdf; the stored bytes of an issued invoice or credit note are what the
download returns, byte for byte."""

from __future__ import annotations

import hashlib
import io
import warnings
from datetime import date

import pikepdf
import pytest
from conftest import post_form
from sqlalchemy import select
from test_documents_pdf import aftercare, credit_note, declaration, invoice, practice
from test_invoice_views import issued_via_web, two_treatments

from backoffice.documents import pdf
from backoffice.extensions import db
from backoffice.models import CreditNote, Invoice


def assert_archival(data: bytes, title: str, day: str) -> None:
    """PDF/A-3b as WeasyPrint writes it: XMP identification and metadata, the output intent with its ICC profile,
    tags, the language, embedded fonts, and the Info dictionary agreeing with the XMP metadata."""
    with pikepdf.open(io.BytesIO(data)) as document:
        meta = document.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")
        assert meta["dc:title"] == title
        assert meta["dc:creator"] == ["Huidtherapie Elixir"]  # the practice, as author
        assert (meta["xmp:CreateDate"], meta["xmp:ModifyDate"]) == (day, day)  # the document's own date
        assert meta["pdf:Producer"].startswith("WeasyPrint")

        info = document.docinfo
        assert str(info["/Title"]) == title
        assert str(info["/CreationDate"]) == "D:" + day.replace("-", "")

        root = document.Root
        assert "/OutputIntents" in root
        (intent,) = list(root.OutputIntents)
        assert intent.Type == "/OutputIntent" and intent.S == "/GTS_PDFA1"
        assert str(intent.OutputConditionIdentifier).endswith("sRGB")  # "IEC 61966-2-1 Default RGB ... - sRGB"
        profile = intent.DestOutputProfile
        assert int(profile.N) == 3
        icc = profile.read_bytes()
        assert icc[36:40] == b"acsp" and icc[16:20] == b"RGB "  # an ICC profile for RGB

        # Tagged: a structure tree, marked content, the document language.
        assert "/StructTreeRoot" in root and bool(root.MarkInfo.Marked)
        assert str(root.Lang) == "nl"

        # Every font embedded (PDF/A): the bundled DejaVu subsets.
        fonts = 0
        for page in document.pages:
            for font in page.Resources.Font.values():
                descriptors = [font.get("/FontDescriptor")] + [
                    child.get("/FontDescriptor") for child in font.get("/DescendantFonts", [])]
                assert any(d is not None and ("/FontFile2" in d or "/FontFile3" in d) for d in descriptors), font
                fonts += 1
        assert fonts

        # A file identifier, derived from the content.
        assert len(document.trailer.ID) == 2


@pytest.mark.parametrize(("render", "doc", "title", "day"), [
    (pdf.render_invoice, invoice(), "Factuur 2026-00001", "2026-11-24"),
    (pdf.render_invoice, credit_note(), "Creditnota C2026-00001", "2026-11-30"),
    (pdf.render_declaration, declaration(), "Declaratie / verklaring zorgverlener 2026-00001", "2026-11-24"),
], ids=["invoice", "credit note", "declaration"])
def test_documents_are_tagged_pdf_a(render, doc, title, day):
    assert_archival(render(doc), title, day)


def test_the_aftercare_sheet_is_pdf_a_too():
    with pikepdf.open(io.BytesIO(pdf.render_aftercare(aftercare()))) as document:
        assert document.open_metadata()["pdfaid:part"] == "3"
        assert "/OutputIntents" in document.Root


def test_the_bare_weasyprint_options_are_the_archival_ones():
    """bench/bench_documents.py renders its bare WeasyPrint side with pdf.pdf_options(): the same variant."""
    options = pdf.pdf_options()
    assert options["pdf_variant"] == pdf.PDF_VARIANT == "pdf/a-3b" and options["pdf_tags"] is True
    assert options["color_profiles"] == {pdf.OUTPUT_INTENT: pdf._srgb_profile()}
    assert options["color_profiles"] is not pdf.pdf_options()["color_profiles"]  # WeasyPrint may add to it


def test_the_output_intent_profile_is_read_once_and_embedded_unchanged():
    """One sRGB profile per process, embedded as its file's bytes, and no file left open per render (WeasyPrint's
    own default opens sRGB2014.icc on every document and never closes it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        first = pdf.render_invoice(invoice())
        second = pdf.render_invoice(invoice())
    assert first == second
    from importlib import resources
    original = (resources.files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
    with pikepdf.open(io.BytesIO(second)) as document:
        assert document.Root.OutputIntents[0].DestOutputProfile.read_bytes() == original


def test_a_png_logo_is_not_interpolated():
    """PDF/A forbids /Interpolate true on images, which WeasyPrint writes by default."""
    import base64

    from test_documents_pdf import _png
    logo = "data:image/png;base64," + base64.b64encode(_png(40, 12, (220, 0, 0))).decode()
    data = pdf.render_invoice(invoice(practice=practice(logo_data_uri=logo)))
    with pikepdf.open(io.BytesIO(data)) as document:
        images = [image for page in document.pages for image in page.get_images().values()]
        assert images
        assert all(not bool(image.get("/Interpolate", False)) for image in images)
        resources_ = document.pages[0].Resources
        assert "/Pattern" not in resources_ and "/Shading" not in resources_  # empty ones are dropped


@pytest.mark.parametrize("kind", ["invoice", "credit note", "declaration", "aftercare", "logo"])
def test_an_allowlist_validator_approves_pdf_a_3b(kind):
    """pikepdf's PDF/A validator (needs pikepdf[pdfa]: jsonschema and referencing) approves every document."""
    pytest.importorskip("jsonschema", reason="pikepdf.pdfa needs pikepdf[pdfa] (jsonschema, referencing)")
    pytest.importorskip("referencing", reason="pikepdf.pdfa needs pikepdf[pdfa] (jsonschema, referencing)")
    import base64

    import pikepdf.pdfa
    from test_documents_pdf import _png
    logo = "data:image/png;base64," + base64.b64encode(_png(40, 12, (220, 0, 0))).decode()
    data = {
        "invoice": lambda: pdf.render_invoice(invoice()),
        "credit note": lambda: pdf.render_invoice(credit_note()),
        "declaration": lambda: pdf.render_declaration(declaration()),
        "aftercare": lambda: pdf.render_aftercare(aftercare()),
        "logo": lambda: pdf.render_invoice(invoice(practice=practice(logo_data_uri=logo))),
    }[kind]()
    report = pikepdf.pdfa.validate_written(io.BytesIO(data), "3b")
    assert report.findings == [], report.findings


# ---- through the app: issued, stored, downloaded -----------------------------------------------------------------

@pytest.fixture
def issued(app, users, as_role):
    """An invoice issued through the web with a medical and a cosmetic line; the cosmetic line credited."""
    with app.app_context():
        clinic = two_treatments(users)
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    with app.app_context():
        lines = {line.treatment_id: line.id for line in db.session.get(Invoice, invoice_id).lines}
    assert post_form(client, f"/invoices/{invoice_id}/credit",
                     {"line_ids": [str(lines[clinic.cosmetic])], "reason": "Niet uitgevoerd"}).status_code == 302
    with app.app_context():
        credit_note_id = db.session.scalar(select(CreditNote.id))
    return client, invoice_id, credit_note_id


def test_issued_documents_are_stored_as_pdf_a_and_downloaded_byte_identical(app, issued):
    client, invoice_id, credit_note_id = issued
    with app.app_context():
        stored_invoice = db.session.get(Invoice, invoice_id)
        stored_note = db.session.get(CreditNote, credit_note_id)
        stored = {
            "invoice": (stored_invoice.pdf, stored_invoice.pdf_sha256, f"Factuur {stored_invoice.number}",
                        stored_invoice.issue_date),
            "credit note": (stored_note.pdf, stored_note.pdf_sha256, f"Creditnota {stored_note.number}",
                            stored_note.issue_date),
        }
    downloads = {"invoice": client.get(f"/invoices/{invoice_id}/pdf"),
                 "credit note": client.get(f"/invoices/credit-notes/{credit_note_id}/pdf")}
    for kind, response in downloads.items():
        data, digest, title, day = stored[kind]
        assert response.status_code == 200 and response.mimetype == "application/pdf", kind
        assert response.data == data, kind  # byte-identical: no re-rendering, no rewriting on the way out
        assert hashlib.sha256(response.data).hexdigest() == digest, kind
        assert isinstance(day, date)
        with pikepdf.open(io.BytesIO(response.data)) as document:
            meta = document.open_metadata()
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"], meta["dc:title"]) == ("3", "B", title), kind
            assert meta["xmp:CreateDate"] == day.isoformat(), kind
            assert "/OutputIntents" in document.Root and "/StructTreeRoot" in document.Root, kind


def test_the_declaration_from_the_app_is_pdf_a(app, issued):
    client, invoice_id, _ = issued
    response = client.get(f"/invoices/{invoice_id}/declaration.pdf")
    assert response.status_code == 200
    with app.app_context():
        number = db.session.get(Invoice, invoice_id).number
    with pikepdf.open(io.BytesIO(response.data)) as document:
        meta = document.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("3", "B")
        assert meta["dc:title"] == f"Declaratie / verklaring zorgverlener {number}"
        assert "/OutputIntents" in document.Root

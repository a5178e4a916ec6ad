"""The printed documents (backoffice/documents/pdf.py + reports/): read the PDFs back and find every required field.

No app and no database: the renderer takes the plain dataclasses of backoffice/documents/data.py.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import logging
import re
import struct
import subprocess
import sys
import zlib
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from conftest import need_tool
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from backoffice.documents import pdf
from backoffice.documents.data import (
    AftercareDocument,
    DeclarationDocument,
    DocumentLine,
    InvoiceDocument,
    PatientInfo,
    PracticeInfo,
    TherapistCredentialLine,
    VatTotal,
)

EXEMPT_LABEL = "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968"


# ----------------------------------------------------------------------------------------------------------------
# Sample data


def practice(**changes) -> PracticeInfo:
    base = PracticeInfo(
        name="Huidtherapie Elixir",
        street="Keizersgracht 12",
        postcode="1015 CS",
        city="Amsterdam",
        kvk_number="12345678",
        vat_id="NL123456789B01",
        agb_code="92001234",
        iban="NL91 ABNA 0417 1643 00",
        phone="020-1234567",
        email="info@elixir.example",
    )
    return dataclasses.replace(base, **changes)


def patient(**changes) -> PatientInfo:
    base = PatientInfo(
        name="Anna de Vries",
        street="Dorpsstraat 1",
        postcode="1234 AB",
        city="Utrecht",
        date_of_birth=date(1990, 3, 14),
        insurer_name="Zilveren Kruis",
        uzovi="3311",
        package_name="Aanvullend 3",
        policy_number="P-778899",
    )
    return dataclasses.replace(base, **changes)


def scar_line(**changes) -> DocumentLine:
    base = DocumentLine(
        treatment_date=date(2026, 11, 2),
        description="Fractionele laser, littekens",
        prestatiecode="HT1234",
        indication="Acnelittekens",
        medical=True,
        therapist_name="Sanne Bakker",
        therapist_agb="90012345",
        technique="Fractionele laser",
        body_area="Gezicht",
        quantity=1,
        gross=D("185.00"),
        net=D("185.00"),
        vat=D("0.00"),
        vat_rate=D("0"),
        vat_label="vrijgesteld (art. 11 lid 1 onderdeel g Wet OB 1968)",
        referral="Huisarts J. de Boer (AGB 01234567), 02-03-2026: acnelittekens",
        insurer_amount=D("150.00"),
        prestatiecode_list="075",
        kp_number="KP-123456",
        kp_level="Kwaliteitsregister",
        nvh_number="NVH-4711",
    )
    return dataclasses.replace(base, **changes)


def hair_line(**changes) -> DocumentLine:
    base = DocumentLine(
        treatment_date=date(2026, 11, 9),
        description="Laserontharing bovenlip",
        prestatiecode="COS-LO1",
        indication="Cosmetisch",
        medical=False,
        therapist_name="Pieter Jansen",
        therapist_agb="90054321",
        technique="Diodelaser",
        body_area="Bovenlip",
        quantity=2,
        gross=D("1210.00"),
        net=D("1000.00"),
        vat=D("210.00"),
        vat_rate=D("21"),
        vat_label="21 %",
    )
    return dataclasses.replace(base, **changes)


def invoice(**changes) -> InvoiceDocument:
    base = InvoiceDocument(
        kind="invoice",
        number="2026-00001",
        issue_date=date(2026, 11, 24),
        due_date=date(2026, 12, 8),
        practice=practice(),
        patient=patient(),
        lines=(scar_line(), hair_line()),
        vat_totals=(
            VatTotal(EXEMPT_LABEL, D("0"), D("185.00"), D("0.00"), D("185.00")),
            VatTotal("21 % btw", D("21"), D("1000.00"), D("210.00"), D("1210.00")),
        ),
        total_net=D("1185.00"),
        total_vat=D("210.00"),
        total_gross=D("1395.00"),
        payment_note="Gelieve binnen 14 dagen te betalen onder vermelding van 2026-00001.",
    )
    return dataclasses.replace(base, **changes)


def credit_note() -> InvoiceDocument:
    line = scar_line(gross=D("-185.00"), net=D("-185.00"), insurer_amount=D("0"))
    return invoice(
        kind="credit_note",
        number="C2026-00001",
        issue_date=date(2026, 11, 30),
        due_date=None,
        lines=(line,),
        vat_totals=(VatTotal(EXEMPT_LABEL, D("0"), D("-185.00"), D("0.00"), D("-185.00")),),
        total_net=D("-185.00"),
        total_vat=D("0.00"),
        total_gross=D("-185.00"),
        refers_to="2026-00001 van 24-11-2026",
        payment_note="",
    )


def long_invoice(count: int = 120) -> InvoiceDocument:
    lines = tuple(
        hair_line(treatment_date=date(2026, 1, 1) + timedelta(days=i), description=f"Laserontharing sessie {i + 1}",
                  gross=D("121.00"), net=D("100.00"), vat=D("21.00"), quantity=1)
        for i in range(count)
    )
    net = D("100.00") * count
    return invoice(
        lines=lines,
        vat_totals=(VatTotal("21 % btw", D("21"), net, net * D("0.21"), net * D("1.21")),),
        total_net=net,
        total_vat=net * D("0.21"),
        total_gross=net * D("1.21"),
    )


def declaration(**changes) -> DeclarationDocument:
    base = DeclarationDocument(
        reference="2026-00001",
        issue_date=date(2026, 11, 24),
        practice=practice(),
        patient=patient(bsn="111222333"),
        lines=(scar_line(),),
        therapists=(
            TherapistCredentialLine(
                therapist_name="Sanne Bakker",
                therapist_agb="90012345",
                kp_number="KP-123456",
                kp_level="Huidtherapeut (HBO)",
                kp_period="01-01-2024 t/m 31-12-2028",
                nvh_number="NVH-4711",
                nvh_period="01-01-2026 t/m 31-12-2026",
            ),
        ),
        total_gross=D("185.00"),
        total_expected_reimbursement=D("150.00"),
        place="Amsterdam",
    )
    return dataclasses.replace(base, **changes)


def aftercare(**changes) -> AftercareDocument:
    base = AftercareDocument(
        practice=practice(),
        patient_name="Anna de Vries",
        treatment_date=date(2026, 11, 2),
        treatment_name="Fractionele laser",
        technique="Fractionele CO2-laser",
        body_area="Gezicht",
        therapist_name="Sanne Bakker",
    )
    return dataclasses.replace(base, **changes)


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def pages_text(data: bytes) -> list[str]:
    """Text of every page, whitespace collapsed (table cells wrap, so words may be split over lines)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def text_of(data: bytes) -> str:
    return " ".join(pages_text(data))


def assert_contains_all(text: str, expected: list[str]) -> None:
    missing = [item for item in expected if item not in text]
    assert not missing, f"missing from the PDF text: {missing}\n---\n{text}"


@pytest.fixture
def no_weasyprint_warnings(caplog):
    """WeasyPrint reports problems (unknown CSS, missing resources) through logging, not warnings: fail on them."""
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        yield
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]
    assert not problems, problems


# ----------------------------------------------------------------------------------------------------------------
# Invoice and credit note


def test_invoice_shows_every_legal_and_insurer_field(no_weasyprint_warnings):
    data = pdf.render_invoice(invoice())
    text = text_of(data)
    assert data.startswith(b"%PDF-")
    assert_contains_all(text, [
        "Factuur",
        # supplier
        "Huidtherapie Elixir", "Keizersgracht 12", "1015 CS Amsterdam", "KvK 12345678", "Btw-id NL123456789B01",
        "AGB praktijk 92001234", "IBAN NL91 ABNA 0417 1643 00",
        # customer / patient
        "Anna de Vries", "Dorpsstraat 1", "1234 AB Utrecht", "Geboortedatum 14-03-1990",
        "Zilveren Kruis", "UZOVI 3311", "Polisnummer P-778899",
        # number and dates
        "Factuurnummer 2026-00001", "Factuurdatum 24-11-2026", "Vervaldatum 08-12-2026",
        # line table header
        "Behandeldatum", "Omschrijving", "Behandelaar / registratie", "Aantal", "Bedrag excl.", "Btw",
        "Totaal",
        # lines: the prestatiecode with its label (and code list), the therapist's AGB, KP and NVH registration
        "02-11-2026", "Fractionele laser, littekens Prestatiecode 075/HT1234 Indicatie: Acnelittekens",
        "Techniek: Fractionele laser", "Behandelgebied: Gezicht",
        "Sanne Bakker AGB 90012345 KP-nummer KP-123456 Kwaliteitsregister NVH-lidnummer NVH-4711",
        "Verwijzing: Huisarts J. de Boer (AGB 01234567), 02-03-2026: acnelittekens",
        "09-11-2026", "Laserontharing bovenlip Prestatiecode COS-LO1", "Techniek: Diodelaser",
        "Behandelgebied: Bovenlip",
        "Pieter Jansen AGB 90054321 2",  # no KP or NVH registration given: nothing printed for them
        "vrijgesteld (art. 11 lid 1 onderdeel g Wet OB 1968)", "21 %",
        # amounts, Dutch format
        "EUR 185,00", "EUR 0,00", "EUR 1.000,00", "EUR 210,00", "EUR 1.210,00",
        # per-rate totals and grand total
        EXEMPT_LABEL, "21 % btw EUR 1.000,00 EUR 210,00 EUR 1.210,00",
        "Totaal EUR 1.185,00 EUR 210,00 EUR 1.395,00",
        "Gelieve binnen 14 dagen te betalen",
        "Pagina 1 van 1",
    ])
    assert "Creditnota" not in text


def test_quantity_is_shown_per_line():
    text = text_of(pdf.render_invoice(invoice()))
    # "<quantity> <net>" sit next to each other in the line row.
    assert "2 EUR 1.000,00" in text
    assert "1 EUR 185,00" in text


def test_exemption_text_is_added_when_the_totals_do_not_name_it():
    doc = invoice(vat_totals=(
        VatTotal("vrijgesteld", D("0"), D("185.00"), D("0.00"), D("185.00")),
        VatTotal("21 % btw", D("21"), D("1000.00"), D("210.00"), D("1210.00")),
    ))
    assert EXEMPT_LABEL in text_of(pdf.render_invoice(doc))


def test_credit_note_refers_to_the_original_with_negative_amounts(no_weasyprint_warnings):
    text = text_of(pdf.render_invoice(credit_note()))
    assert_contains_all(text, [
        "Creditnota", "Creditnotanummer C2026-00001", "Betreft Creditering van factuur 2026-00001 van 24-11-2026",
        "Datum 30-11-2026", "EUR -185,00", "Totaal EUR -185,00 EUR 0,00 EUR -185,00", "AGB praktijk 92001234",
        "Prestatiecode 075/HT1234", "KP-nummer KP-123456 Kwaliteitsregister NVH-lidnummer NVH-4711",
    ])
    assert "Factuur 2026" not in text and "factuur factuur" not in text.lower()
    assert "Factuurnummer" not in text
    assert "Vervaldatum" not in text


def test_invoice_rejects_unknown_kind_and_positive_credit_note():
    with pytest.raises(ValueError, match="kind"):
        pdf.render_invoice(invoice(kind="quote"))
    with pytest.raises(ValueError, match="negative"):
        pdf.render_invoice(invoice(kind="credit_note", refers_to="2026-00001"))


def test_patient_data_is_escaped_not_interpreted():
    doc = invoice(patient=patient(name="<script>alert(1)</script> & <b>Jansen</b>"))
    html = pdf.invoice_html(doc)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;Jansen&lt;/b&gt;" in html
    assert "<script>" not in html
    assert "<script>alert(1)</script> & <b>Jansen</b>" in text_of(pdf.render_invoice(doc))


# ----------------------------------------------------------------------------------------------------------------
# Declaration and aftercare


def test_declaration_shows_lines_credentials_referral_and_signature_block(no_weasyprint_warnings):
    text = text_of(pdf.render_declaration(declaration()))
    assert_contains_all(text, [
        "Declaratie / verklaring zorgverlener",
        "Huidtherapie Elixir", "AGB praktijk 92001234",
        "Anna de Vries", "Dorpsstraat 1", "1234 AB Utrecht", "Geboortedatum 14-03-1990", "BSN 111222333",
        "Zilveren Kruis", "UZOVI 3311", "Polisnummer P-778899",
        "Factuurnummer 2026-00001", "24-11-2026",
        "02-11-2026", "Fractionele laser, littekens Prestatiecode 075/HT1234 Indicatie: Acnelittekens",
        "Techniek: Fractionele laser", "Sanne Bakker", "AGB 90012345",
        "EUR 185,00", "EUR 150,00", "Totaal EUR 185,00 EUR 150,00",
        "Huisarts J. de Boer (AGB 01234567), 02-03-2026: acnelittekens",
        "KP-nummer KP-123456", "Niveau: Huidtherapeut (HBO)", "Geldig: 01-01-2024 t/m 31-12-2028",
        "NVH-lidnummer NVH-4711", "Geldig: 01-01-2026 t/m 31-12-2026",
        "Plaats Amsterdam", "Datum 24-11-2026", "Handtekening", "Naam behandelaar: Sanne Bakker",
        "Pagina 1 van 1",
    ])
    # Cosmetic lines are not on the declaration (the service passes only reimbursable lines).
    assert "Laserontharing" not in text


def test_declaration_shows_no_bsn_when_none_is_given():
    text = text_of(pdf.render_declaration(declaration(patient=patient(bsn=""))))
    assert "BSN" not in text
    assert "111222333" not in text
    # Without an explicit place, the practice city is the place of signing.
    assert "Plaats Amsterdam" in text_of(pdf.render_declaration(declaration(place="")))


def test_invoice_never_shows_the_bsn():
    assert "111222333" not in text_of(pdf.render_invoice(invoice(patient=patient(bsn="111222333"))))


def test_declaration_with_two_therapists_has_a_signature_each():
    second = TherapistCredentialLine("Pieter Jansen", "90054321", "KP-654321", "Huidtherapeut (HBO)",
                                     "01-06-2025 t/m 31-05-2030", "", "")
    text = text_of(pdf.render_declaration(declaration(therapists=declaration().therapists + (second,))))
    assert_contains_all(text, ["Naam behandelaar: Sanne Bakker", "Naam behandelaar: Pieter Jansen",
                               "KP-nummer KP-654321", "Geen lidmaatschap"])


def test_aftercare_sheet_uses_the_clinic_instructions_by_default(no_weasyprint_warnings):
    text = text_of(pdf.render_aftercare(aftercare()))
    assert_contains_all(text, [
        "Nazorg na uw behandeling", "Anna de Vries", "Fractionele laser", "02-11-2026", "Sanne Bakker",
        "Fractionele CO2-laser", "Gezicht",
        "SPF 50", "Niet douchen gedurende 24 uur", "Niet sporten, zwemmen of naar de sauna gedurende 48 uur",
        "een week lang geen zuren", "vijf tot zes dagen", "meer dan 3 maanden", "collageen",
        "020-1234567",
    ])


def test_aftercare_instructions_from_the_data_replace_the_defaults():
    text = text_of(pdf.render_aftercare(aftercare(instructions=("Koel de huid met een coldpack.",),
                                                  recovery=("Roodheid verdwijnt binnen een dag.",))))
    assert "Koel de huid met een coldpack." in text
    assert "Roodheid verdwijnt binnen een dag." in text
    assert "SPF 50" not in text
    assert "vijf tot zes dagen" not in text


# ----------------------------------------------------------------------------------------------------------------
# Fonts, pagination, determinism


def _fonts(data: bytes) -> list:
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            found.append(font)
            found.extend(descendant.get_object() for descendant in font.get("/DescendantFonts", []))
    return found


@pytest.mark.parametrize("render, doc", [
    (pdf.render_invoice, invoice()),
    (pdf.render_declaration, declaration()),
    (pdf.render_aftercare, aftercare()),
])
def test_bundled_dejavu_font_is_embedded(render, doc):
    fonts = _fonts(render(doc))
    base_fonts = {str(font.get("/BaseFont", "")) for font in fonts}
    # The CSS names the bundled files "DejaVuSans Report": a fallback to the system font would read DejaVu-Sans.
    assert any(name.endswith("+DejaVuSans-Report") for name in base_fonts), base_fonts
    assert any(name.endswith("+DejaVuSans-Report-Bold") for name in base_fonts), base_fonts
    programs = [font["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
                for font in fonts if "/FontDescriptor" in font]
    assert programs, "no TrueType font program embedded"
    for program in programs:
        names = {record.toUnicode() for record in TTFont(io.BytesIO(program))["name"].names if record.nameID == 1}
        assert "DejaVu Sans" in names
        assert 0 < len(program) < 200_000  # a subset, not the whole 760 kB file


def test_fonts_are_loaded_from_reports_fonts(monkeypatch):
    fetched: list[str] = []
    original = pdf.ReportsURLFetcher.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(pdf.ReportsURLFetcher, "fetch", spy)
    # A fresh font configuration and stylesheet cache, so the @font-face files are fetched in this test.
    monkeypatch.setattr(pdf, "_font_config", None)
    monkeypatch.setattr(pdf, "_stylesheets", {})
    pdf.render_invoice(invoice())
    fonts_dir = (pdf.REPORTS_DIR / "fonts").as_uri()
    assert f"{fonts_dir}/DejaVuSans.ttf" in fetched
    assert f"{fonts_dir}/DejaVuSans-Bold.ttf" in fetched


def test_font_licence_is_bundled():
    licence = (pdf.REPORTS_DIR / "fonts" / "LICENSE-DejaVu.txt").read_text()
    assert "Bitstream" in licence and "Permission is hereby granted" in licence


def test_long_invoice_repeats_the_table_header_on_every_page(no_weasyprint_warnings):
    pages = pages_text(pdf.render_invoice(long_invoice(120)))
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "Omschrijving" in text, f"page {number} lacks the table header"
        assert "Behandelaar" in text
        assert f"Pagina {number} van {len(pages)}" in text
        assert "Huidtherapie Elixir" in text  # practice name in the page footer
        if number > 1:
            assert "Factuur 2026-00001" in text  # the reference in the top margin of continuation pages
    # Every line made it, in order, and the totals close the last page.
    everything = " ".join(pages)
    positions = [everything.index(f"Laserontharing sessie {i} ") for i in range(1, 121)]
    assert positions == sorted(positions)
    assert "Totaal EUR 12.000,00 EUR 2.520,00 EUR 14.520,00" in pages[-1]


def test_same_document_renders_identical_bytes_with_its_own_date():
    for render, doc in ((pdf.render_invoice, invoice()), (pdf.render_declaration, declaration()),
                        (pdf.render_aftercare, aftercare())):
        first, second = render(doc), render(doc)
        assert first == second
    reader = PdfReader(io.BytesIO(pdf.render_invoice(invoice())))
    assert reader.metadata.title == "Factuur 2026-00001"
    assert reader.metadata["/CreationDate"] == "D:20261124"
    assert reader.metadata["/ModDate"] == "D:20261124"
    # PDF/A requires a file identifier: WeasyPrint derives it from the content (MD5), never at random.
    ids = {str(PdfReader(io.BytesIO(pdf.render_invoice(doc))).trailer["/ID"][0])
           for doc in (invoice(), invoice(), invoice(number="2026-00002"))}
    assert len(ids) == 2


def test_determinism_holds_across_processes():
    """A fresh process (cold caches, other fontconfig state) renders the same bytes: stored hashes stay valid."""
    script = (
        "import hashlib, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_documents_pdf as t\n"
        "from backoffice.documents import pdf\n"
        "print(hashlib.sha256(pdf.render_invoice(t.invoice())).hexdigest())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == hashlib.sha256(pdf.render_invoice(invoice())).hexdigest()


def test_font_configuration_and_stylesheets_are_built_once():
    pdf.render_invoice(invoice())
    font_config = pdf._font_config
    css = pdf._stylesheets["invoice"]
    pdf.render_invoice(invoice(number="2026-00002"))
    pdf.render_declaration(declaration())
    assert pdf._font_config is font_config
    assert pdf._stylesheets["invoice"] is css
    assert set(pdf._stylesheets) >= {"invoice", "declaration"}


# ----------------------------------------------------------------------------------------------------------------
# URL fetcher


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://example.com/logo.png",
    "https://example.com/font.ttf",
    "ftp://example.com/x",
    "file://evil.example/work/reports/fonts/DejaVuSans.ttf",
    (pdf.REPORTS_DIR / "fonts").as_uri() + "/../../config.py",
    (pdf.REPORTS_DIR / "fonts").as_uri() + "/%2e%2e/%2e%2e/config.py",
    (pdf.REPORTS_DIR / "fonts").as_uri() + "/missing.ttf",
])
def test_fetcher_refuses_anything_outside_reports(url):
    with pytest.raises(ValueError):
        pdf.ReportsURLFetcher().fetch(url)


def test_fetcher_serves_bundled_files_and_data_uris():
    fetcher = pdf.ReportsURLFetcher()
    font = fetcher.fetch((pdf.REPORTS_DIR / "fonts" / "DejaVuSans.ttf").as_uri())
    assert font.read(4) == b"\x00\x01\x00\x00"  # TrueType
    font.close()
    data = fetcher.fetch("data:text/plain;base64," + base64.b64encode(b"logo").decode())
    assert data.read() == b"logo"


def test_a_document_that_loads_an_outside_resource_is_not_rendered():
    for html in ('<img src="file:///etc/passwd">', '<img src="http://example.com/tracker.png">',
                 '<link rel="stylesheet" href="http://example.com/x.css">'):
        with pytest.raises(pdf.ResourceRefused):
            pdf.html_to_pdf(f"<!DOCTYPE html><html><body>{html}<p>x</p></body></html>", "invoice")


def test_html_to_pdf_only_accepts_document_folders():
    with pytest.raises(ValueError):
        pdf.html_to_pdf("<p>x</p>", "../backoffice")


# ----------------------------------------------------------------------------------------------------------------
# Logos (checked on the rendered pixels with poppler's pdftoppm)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _top_left_pixels(data: bytes) -> set[tuple[int, int, int]]:
    """Colours in the logo area (top-left of page 1) at 60 dpi."""
    result = subprocess.run(["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-x", "0", "-y", "0",
                             "-W", "200", "-H", "80", "-"], input=data, capture_output=True, check=True)
    ppm = result.stdout
    match = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", ppm)
    assert match
    pixels = ppm[match.end():]
    return {tuple(pixels[i:i + 3]) for i in range(0, len(pixels), 3)}


def _logo_svg(fill: str, defs: str = "") -> str:
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60" viewBox="0 0 200 60">'
           f'<defs>{defs}</defs><rect x="0" y="0" width="200" height="60" fill="{fill}"/></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _reddish(pixels) -> bool:
    return any(r > 200 and g < 60 and b < 60 for r, g, b in pixels)


def _bluish(pixels) -> bool:
    return any(b > 200 and r < 60 and g < 60 for r, g, b in pixels)


def test_png_and_svg_logos_render():
    need_tool("pdftoppm", package="poppler-utils")
    png = "data:image/png;base64," + base64.b64encode(_png(40, 12, (220, 0, 0))).decode()
    assert _reddish(_top_left_pixels(pdf.render_invoice(invoice(practice=practice(logo_data_uri=png)))))

    gradient = ('<linearGradient id="g" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="200" y2="0">'
                '<stop offset="0" stop-color="#ff0000"/><stop offset="1" stop-color="#0000ff"/></linearGradient>')
    pixels = _top_left_pixels(pdf.render_invoice(invoice(practice=practice(logo_data_uri=_logo_svg("url(#g)",
                                                                                                      gradient)))))
    assert _reddish(pixels) and _bluish(pixels)

    # Without a logo the corner is blank; a non-image data URI is ignored, never fetched.
    assert not _reddish(_top_left_pixels(pdf.render_invoice(invoice())))
    assert "<img" not in pdf.invoice_html(invoice(practice=practice(logo_data_uri="file:///etc/passwd")))


def test_known_limitation_svg_bounding_box_gradient_renders_blank():
    """Documents the WeasyPrint 70 behaviour behind pdf.LOGO_NOTE; if this starts failing, the note can go."""
    need_tool("pdftoppm", package="poppler-utils")
    gradient = ('<linearGradient id="g"><stop offset="0" stop-color="#ff0000"/>'
                '<stop offset="1" stop-color="#0000ff"/></linearGradient>')
    pixels = _top_left_pixels(pdf.render_invoice(invoice(practice=practice(logo_data_uri=_logo_svg("url(#g)",
                                                                                                      gradient)))))
    assert not _bluish(pixels)


# ----------------------------------------------------------------------------------------------------------------
# Purity


def test_renderer_imports_neither_flask_nor_sqlalchemy():
    package_dir = Path(pdf.__file__).resolve().parents[1]
    script = (
        "import importlib, json, sys, types\n"
        "parent = types.ModuleType('backoffice')\n"
        f"parent.__path__ = [{str(package_dir)!r}]\n"
        "sys.modules['backoffice'] = parent\n"
        "importlib.import_module('backoffice.documents.pdf')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    assert not [name for name in loaded if name.split(".")[0] in ("flask", "sqlalchemy", "werkzeug")]

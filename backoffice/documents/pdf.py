"""PDF adapter: plain document data (documents/data.py) -> HTML (Jinja, reports/<kind>/) -> PDF bytes (WeasyPrint).

No Flask and no ORM here: callers hand in the frozen dataclasses and get bytes back.

Per process, built lazily once and then reused:
- one Jinja Environment (autoescape on, FileSystemLoader on reports/),
- one WeasyPrint FontConfiguration and, per document folder, the CSS built with it. Measured in this project:
  about 18 % faster per render, and memory stays flat (a fresh FontConfiguration per render grows ~0.2 MB each).
  The @font-face rules live in those cached stylesheets, so the HTML templates deliberately have no <link>:
  the stylesheet is passed to write_pdf() instead of being fetched and parsed again for every document.
- one URL fetcher that only serves files inside reports/ (templates, CSS, bundled fonts) and data: URIs (logo).

Rendering is serialised by a lock: WeasyPrint's font configuration (fontconfig/Pango objects) is shared, and the
work is CPU-bound under the GIL anyway; batch jobs get parallelism from processes, not threads.

Archival PDFs: every document is written as PDF/A-3b (PDF_OPTIONS), tagged (a structure tree, /MarkInfo, the
document language from <html lang="nl">): WeasyPrint adds the XMP metadata (pdfaid part and conformance, title,
author, description, dates), the sRGB output intent (/OutputIntents with its ICC profile) and a file identifier.
PDF/A-3 rather than 2: it also allows embedding a structured invoice (e.g. UBL) later without another variant.
Conformance "b" (visual), not "a": WeasyPrint's tagging is not verified complete enough to claim level A.
pdf_options() adds the output intent (one sRGB profile per process) and a finisher (_archival_finish) that fixes
what WeasyPrint 70 gets wrong for PDF/A; pikepdf.pdfa's validator then approves every document (see the tests).
Issued invoices and credit notes keep the bytes stored at issue (checked by SHA-256 on download): those issued
before this change stay the plain PDFs they were.

Deterministic output: no creation date unless the template gives one, and in PDF/A the /ID is WeasyPrint's MD5 of
the written objects (pydyf), not random; the XMP metadata holds no uuid (WeasyPrint adds one only for PDF/X-4).
The templates set dcterms.created/modified to the document date, so the same data renders the same bytes, e.g. an
issued invoice rendered again matches its stored SHA-256.

Logos: PracticeInfo.logo_data_uri is used only when it is a data:image/ URI (PNG, JPEG or SVG); nothing is
fetched from the network. SVG gradients: see LOGO_NOTE below.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from mimetypes import guess_type
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
import weasyprint
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from ..domain import dutch
from .data import AftercareDocument, DeclarationDocument, InvoiceDocument

REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"

INVOICE_KINDS = ("invoice", "credit_note")

# Every document is PDF/A-3b and tagged (see the module docstring); pdf_options() adds the output intent.
PDF_VARIANT = "pdf/a-3b"
PDF_OPTIONS: dict[str, Any] = {"pdf_variant": PDF_VARIANT, "pdf_tags": True}
# The output intent: WeasyPrint's own sRGB profile, read once per process. Left to the variant's default
# (output_intent="srgb"), WeasyPrint 70 opens sRGB2014.icc for every document and never closes it (a
# ResourceWarning per render, an error under pytest) and parses the profile again each time.
OUTPUT_INTENT = "archive-srgb"

EXEMPTION_TEXT = "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968"

# The clinic's aftercare instructions (fractional laser page), in Dutch. AftercareDocument.instructions and
# .recovery replace these when non-empty.
DEFAULT_AFTERCARE_INSTRUCTIONS: tuple[str, ...] = (
    "Uw huid is na de behandeling extra gevoelig: bescherm haar goed tegen de zon met een zonnebrandcrème "
    "met beschermingsfactor SPF 50.",
    "Niet douchen gedurende 24 uur na de behandeling, vanwege de stoom en de warmte.",
    "Niet sporten, zwemmen of naar de sauna gedurende 48 uur.",
    "Gebruik een week lang geen zuren (zoals AHA/BHA-producten of peelings).",
)
DEFAULT_AFTERCARE_RECOVERY: tuple[str, ...] = (
    "Direct na de behandeling voelt uw huid gevoelig, licht gezwollen en strak aan. De warmte van de laser "
    "geeft roodheid die enkele dagen kan aanhouden. Ook korstjes en schilfers op de huid zijn normaal: ze zijn "
    "een teken dat uw huid herstelt.",
    "Het herstel duurt gemiddeld vijf tot zes dagen.",
    "Na de behandeling maakt uw huid nieuw collageen aan. Dit proces gaat nog meer dan 3 maanden door; pas "
    "daarna is het eindresultaat echt zichtbaar.",
)

# LOGO_NOTE: logos must be PNG/JPEG, or SVG without objectBoundingBox gradients. Checked visually on WeasyPrint 70
# (pdftoppm): an SVG logo whose <linearGradient> uses the default gradientUnits="objectBoundingBox" renders blank
# (only stray pixels at the corners); the same gradient with gradientUnits="userSpaceOnUse" and flat fills render
# correctly (tests/test_documents_pdf.py checks the pixels). When in doubt, rasterise the logo to PNG.


class ResourceRefused(ValueError):
    """A document tried to load something outside reports/ (or failed to load a bundled resource)."""


# --------------------------------------------------------------------------------------------------------------
# URL fetcher


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_url(url: str, root: Path = REPORTS_DIR) -> Path | None:
    """Return the local file for an allowed file: URL, None for a data: URI; raise ValueError otherwise."""
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    if scheme == "data":
        return None
    if scheme != "file":
        raise ValueError(f"refused URL (only files inside reports/ and data: URIs): {url[:80]}")
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"refused URL (remote file host): {url[:80]}")
    path = Path(unquote(parts.path)).resolve()
    if not _inside(path, root.resolve()):
        raise ValueError(f"refused URL (outside reports/): {url[:80]}")
    if not path.is_file():
        raise ValueError(f"no such report resource: {url[:80]}")
    return path


class ReportsURLFetcher(URLFetcher):
    """Serves files inside reports/ and data: URIs; refuses everything else with ValueError.

    fail_on_errors=True: a refused or missing resource stops the rendering (WeasyPrint would otherwise log a
    warning and silently print without the stylesheet, font or image).
    """

    def __init__(self, root: Path = REPORTS_DIR) -> None:
        super().__init__(allowed_protocols=("file", "data"), fail_on_errors=True)
        self.root = root

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        path = check_url(url, self.root)
        if path is None:  # data: URI, decoded by urllib's DataHandler; nothing leaves the process
            return super().fetch(url, headers)
        mime_type = guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".ttf":
            mime_type = "font/ttf"
        return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": mime_type})


# --------------------------------------------------------------------------------------------------------------
# Jinja


def euro(value: Decimal | int | None) -> str:
    return dutch.euro(value) if value is not None else ""


def _make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(REPORTS_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # The one set of Dutch formats (domain/dutch.py), as the web templates use them.
    env.filters["nl_date"] = dutch.nl_date
    env.filters["euro"] = euro
    return env


_env: jinja2.Environment | None = None
_fetcher: ReportsURLFetcher | None = None
_font_config: FontConfiguration | None = None
_stylesheets: dict[str, weasyprint.CSS] = {}
_srgb: ColorProfile | None = None
_lock = threading.RLock()


def _environment() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = _make_env()
    return _env


def _url_fetcher() -> ReportsURLFetcher:
    global _fetcher
    if _fetcher is None:
        _fetcher = ReportsURLFetcher()
    return _fetcher


def _folder(folder: str | Path) -> Path:
    path = (REPORTS_DIR / folder).resolve()
    if not _inside(path, REPORTS_DIR.resolve()) or not path.is_dir():
        raise ValueError(f"not a document folder under reports/: {folder}")
    return path


def _stylesheet(folder: Path) -> weasyprint.CSS:
    """The folder's CSS, built once per process with the shared FontConfiguration."""
    global _font_config
    with _lock:
        if _font_config is None:
            _font_config = FontConfiguration()
        css = _stylesheets.get(folder.name)
        if css is None:
            css = weasyprint.CSS(
                filename=str(folder / f"{folder.name}.css"),
                url_fetcher=_url_fetcher(),
                font_config=_font_config,
            )
            _stylesheets[folder.name] = css
        return css


class _StoredProfile(ColorProfile):
    """A colour profile embedded as the bytes of its file. WeasyPrint embeds `ImageCmsProfile.tobytes()`, which
    changes once the profile's name has been read (3024 -> 3116 bytes for sRGB2014.icc): with one profile kept
    for the process, the second document would differ from the first."""

    def __init__(self, data: bytes, src: str) -> None:
        super().__init__(io.BytesIO(data), src, "relative-colorimetric", (["r"], ["g"], ["b"]))
        self._data = data

    @property
    def content(self) -> bytes:
        return self._data


def _srgb_profile() -> ColorProfile:
    global _srgb
    with _lock:
        if _srgb is None:
            data = (resources.files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
            _srgb = _StoredProfile(data, "sRGB2014.icc")
        return _srgb


def _archival_finish(document: Any, pdf: Any) -> None:
    """WeasyPrint's finisher hook, run on the PDF objects before they are written:
    - images get /Interpolate false: PDF/A forbids true (ISO 19005-3 6.2.8), which WeasyPrint writes for every
      image under the default `image-rendering: auto`, e.g. a PNG logo;
    - the empty /Pattern and /Shading dictionaries WeasyPrint puts in every resource dictionary are removed:
      harmless, but an allowlist validator (pikepdf.pdfa) cannot vouch for them.
    With both, pikepdf.pdfa approves the invoice, credit note, declaration and aftercare sheet as PDF/A-3b
    (tests/test_documents_archival.py); an SVG logo with a gradient still uses a pattern it cannot vouch for."""
    for obj in pdf.objects:
        extra = getattr(obj, "extra", None)  # a stream's dictionary
        if isinstance(extra, dict) and extra.get("Subtype") == "/Image" and extra.get("Interpolate") == "true":
            extra["Interpolate"] = "false"
        elif isinstance(obj, dict):
            for key in ("Pattern", "Shading"):
                if key in obj and isinstance(obj[key], dict) and not obj[key]:
                    del obj[key]


def pdf_options() -> dict[str, Any]:
    """write_pdf() keyword arguments for an archival document: PDF/A-3b, tagged, the sRGB output intent.
    A fresh dict of colour profiles each time (WeasyPrint adds to the one it is given)."""
    return {**PDF_OPTIONS, "output_intent": OUTPUT_INTENT, "color_profiles": {OUTPUT_INTENT: _srgb_profile()},
            "finisher": _archival_finish}


def warm_up() -> None:
    """Build the Jinja environment, font configuration and every document's CSS (call at worker start)."""
    _environment()
    _srgb_profile()
    for name in ("invoice", "declaration", "aftercare"):
        _stylesheet(_folder(name))


# --------------------------------------------------------------------------------------------------------------
# HTML


def _practice_context(practice: Any) -> dict[str, Any]:
    logo = practice.logo_data_uri if practice.logo_data_uri.startswith("data:image/") else ""
    return {"practice": practice, "logo": logo}


def invoice_html(doc: InvoiceDocument) -> str:
    if doc.kind not in INVOICE_KINDS:
        raise ValueError(f"unknown invoice kind {doc.kind!r}; expected one of {INVOICE_KINDS}")
    if doc.kind == "credit_note" and doc.total_gross > 0:
        raise ValueError("a credit note carries negative amounts (it reverses the original invoice)")
    credit = doc.kind == "credit_note"
    exempt = any(line.vat_rate == 0 for line in doc.lines)
    totals_name_exemption = any("art. 11" in total.label for total in doc.vat_totals)
    return _environment().get_template("invoice/invoice.html").render(
        doc=doc,
        credit=credit,
        title=("Creditnota" if credit else "Factuur"),
        exemption_note=EXEMPTION_TEXT if exempt and not totals_name_exemption else "",
        **_practice_context(doc.practice),
    )


def declaration_html(doc: DeclarationDocument) -> str:
    referrals = list(dict.fromkeys(line.referral for line in doc.lines if line.referral))
    return _environment().get_template("declaration/declaration.html").render(
        doc=doc,
        title="Declaratie / verklaring zorgverlener",
        referrals=referrals,
        place=doc.place or doc.practice.city,
        **_practice_context(doc.practice),
    )


def aftercare_html(doc: AftercareDocument) -> str:
    return _environment().get_template("aftercare/aftercare.html").render(
        doc=doc,
        title="Nazorg na uw behandeling",
        instructions=doc.instructions or DEFAULT_AFTERCARE_INSTRUCTIONS,
        recovery=doc.recovery or DEFAULT_AFTERCARE_RECOVERY,
        **_practice_context(doc.practice),
    )


# --------------------------------------------------------------------------------------------------------------
# PDF


def html_to_pdf(html: str, folder: str | Path) -> bytes:
    """WeasyPrint alone: final HTML + the folder's cached CSS -> PDF bytes (base_url = the document folder)."""
    folder_path = _folder(folder)
    css = _stylesheet(folder_path)
    with _lock:
        try:
            return weasyprint.HTML(
                string=html, base_url=folder_path.as_uri() + "/", url_fetcher=_url_fetcher()
            ).write_pdf(stylesheets=[css], font_config=_font_config, **pdf_options())
        except FatalURLFetchingError as exc:  # a BaseException in WeasyPrint: turn it into an ordinary error
            raise ResourceRefused(f"{exc}: {exc.__cause__}") from exc.__cause__


def render_invoice(doc: InvoiceDocument) -> bytes:
    """Invoice or credit note (doc.kind) as PDF bytes; the same data renders the same bytes."""
    return html_to_pdf(invoice_html(doc), "invoice")


def render_declaration(doc: DeclarationDocument) -> bytes:
    """Insurer declaration the therapist signs, as PDF bytes."""
    return html_to_pdf(declaration_html(doc), "declaration")


def render_aftercare(doc: AftercareDocument) -> bytes:
    """Aftercare sheet as PDF bytes."""
    return html_to_pdf(aftercare_html(doc), "aftercare")


HTML_BUILDERS: dict[str, Callable[[Any], str]] = {
    "invoice": invoice_html,
    "declaration": declaration_html,
    "aftercare": aftercare_html,
}


def render_html(kind: str, doc: Any) -> str:
    """Final HTML of a document (kind: invoice, credit_note, declaration, aftercare); for benchmarks."""
    return HTML_BUILDERS["invoice" if kind == "credit_note" else kind](doc)

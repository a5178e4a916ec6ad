"""WeasyPrint is installed the fast way: HarfBuzz-subset loads, is used, and the font ends up in the PDF.

Without Debian's libharfbuzz-subset0, WeasyPrint 70 quietly falls back to fontTools for font subsetting
(about 3x slower per invoice) and only logs a warning. `make test` / `make run` install the library;
this test makes a missing one a failure instead of a slow surprise.
"""

from __future__ import annotations

import io
import logging
import subprocess

import pytest
import weasyprint
from conftest import need_tool
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from weasyprint.text import ffi as weasy_ffi

HTML = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  @page { size: A5; margin: 1cm; }
  body { font-family: "DejaVu Sans"; font-size: 12pt; }
</style></head>
<body><p>Factuur 2026-0001: huidtherapie, € 85,00</p></body></html>"""


def test_harfbuzz_subset_library_loads():
    assert weasy_ffi.harfbuzz_subset is not None, (
        "libharfbuzz-subset did not load: install libharfbuzz-subset0 (make test does)"
    )
    # WeasyPrint takes the HarfBuzz path only from HarfBuzz 4.1.0 (hb_set_add_sorted_array).
    assert weasy_ffi.harfbuzz.hb_version_atleast(4, 1, 0)


def _fonts_in(reader: PdfReader) -> list:
    found = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            found.append(font)
            for descendant in font.get("/DescendantFonts", []):
                found.append(descendant.get_object())
    return found


def _embedded_font_programs(reader: PdfReader) -> list[bytes]:
    descriptors = [font["/FontDescriptor"].get_object() for font in _fonts_in(reader) if "/FontDescriptor" in font]
    return [d[key].get_object().get_data() for d in descriptors for key in ("/FontFile2", "/FontFile3") if key in d]


def test_pdf_uses_harfbuzz_subsetter_and_embeds_the_font(caplog):
    """Seen from the output alone: HarfBuzz-subset keeps the font's own `head.modified` timestamp, while the
    fontTools fallback re-saves the font stamped with the time of rendering (and WeasyPrint logs a warning)."""
    source = subprocess.run([need_tool("fc-match", package="fontconfig"), "-f", "%{file}", "DejaVu Sans"],
                            capture_output=True, text=True, check=True).stdout
    assert source.endswith(".ttf"), source

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = weasyprint.HTML(string=HTML, base_url=".").write_pdf()

    assert pdf.startswith(b"%PDF-")
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]

    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert "Factuur 2026-0001: huidtherapie, € 85,00" in text

    fonts = _fonts_in(reader)
    # Subset fonts are named like /XKQQSR+DejaVu-Sans.
    assert any("DejaVu-Sans" in str(font.get("/BaseFont", "")) for font in fonts), fonts
    embedded = _embedded_font_programs(reader)
    assert embedded, "no font program embedded in the PDF"
    # A subset: a few glyphs, not the whole 700 kB DejaVu Sans.
    assert 0 < len(embedded[0]) < 100_000
    subset = TTFont(io.BytesIO(embedded[0]))
    original = TTFont(source)
    assert subset["maxp"].numGlyphs < original["maxp"].numGlyphs
    assert subset["head"].modified == original["head"].modified, "the font was re-saved: fontTools subsetted it"


@pytest.mark.parametrize("text", ["€ 85,00", "ĳ ë ü"])
def test_text_round_trips(text):
    pdf = weasyprint.HTML(string=HTML.replace("Factuur 2026-0001: huidtherapie, € 85,00", text)).write_pdf()
    assert text in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()

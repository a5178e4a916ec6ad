"""The remittance row bomb from issue 13: an .xlsx of about 80 kB holding a header and 6 million empty rows
(before the fix: 52 s and 573 MiB). Measures refusing it through the real reader (`read_table`, as an upload is
read), after one small file has paid for the imports: the median of BENCH_ROUNDS (default 3) runs, and how much
the process's peak resident memory grew. Also a plain 1,000-row remittance for comparison.

Prints `figure <name> <value> <unit>` lines (goal: remittance_row_bomb_s < 1). Run with `make bench`.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import time
import zipfile

from openpyxl import Workbook

from backoffice import create_app
from backoffice.claims.remittance import RemittanceError, read_table

SHEET = "xl/worksheets/sheet1.xml"


def remittance_file(rows: int) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Claimreferentie", "Betaald", "Code", "Reden"])
    for number in range(rows):
        sheet.append([f"3311-2026-001-{number:05d}", 12.5, "", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def row_bomb(rows: int = 6_000_000) -> bytes:
    source = io.BytesIO(remittance_file(0))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in original.infolist():
            if item.filename != SHEET:
                target.writestr(item, original.read(item))
                continue
            info = zipfile.ZipInfo(SHEET)
            info.compress_type = zipfile.ZIP_DEFLATED
            with target.open(info, "w") as sheet:
                sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Claimreferentie</t></is></c>'
                            b'<c r="B1" t="inlineStr"><is><t>Betaald</t></is></c></row>')
                for _ in range(rows // 100_000):
                    sheet.write(b"<row/>" * 100_000)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def timed(data: bytes, filename: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        read_table(data, filename)
        refused = False
    except RemittanceError:
        refused = True
    return time.perf_counter() - started, refused


def main() -> None:
    rounds = int(os.environ.get("BENCH_ROUNDS", 3))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    plain = remittance_file(1_000)
    bomb = row_bomb()
    with app.app_context():
        timed(remittance_file(1), "warm.xlsx")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results = [timed(bomb, "bomb.xlsx") for _ in range(rounds)]
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        plain_seconds = statistics.median(timed(plain, "plain.xlsx")[0] for _ in range(rounds))
    assert all(refused for _, refused in results), "the row bomb was accepted"
    print(f"figure remittance_row_bomb_s {statistics.median(s for s, _ in results):.3f} s "
          f"(median of {rounds}; {len(bomb) / 1024:.0f} kB file, 6 million empty rows, refused)")
    print(f"figure remittance_row_bomb_peak_mib {grown:.1f} MiB (growth of the peak resident size)")
    print(f"figure remittance_1000_rows_s {plain_seconds:.3f} s (a plain 1,000-row remittance, median of {rounds})")


if __name__ == "__main__":
    main()

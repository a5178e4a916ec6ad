"""Claim workbook export: 100,000 claim lines in the default template (19 columns).

- Time of `write_claim_workbook` against bare openpyxl write-only mode appending the same rows' values (as
  plain values, no styles, no summary) in the same run, interleaved, best of BENCH_ROUNDS (default 2) each.
- Peak memory: the export of 10,000 and of 100,000 lines, each in a fresh subprocess (ru_maxrss); the
  difference is the growth that must stay flat.
- The pure batch validation of 10,000 lines (one call, no database).

Prints `figure <name> <value> <unit>` lines. Run with `make bench`.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import openpyxl
from openpyxl import Workbook

from backoffice.claims.workbook import WorkbookHeader, write_claim_workbook
from backoffice.domain.claims import (
    ClaimLineFacts,
    ClaimRow,
    ClaimRules,
    ClaimTemplate,
    PolicyFacts,
    TherapistOnDate,
    validate_batch,
)
from backoffice.domain.indications import Indication

LINES = 100_000
SMALL = 10_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
TEMPLATE = ClaimTemplate.default()
HEADER = WorkbookHeader("Zilveren Kruis", "3311", "3311-2026-001", "januari 2026", "Huidtherapie Demo",
                        "90001234", datetime(2026, 2, 1, 9, 0))
THERAPISTS = ("A. de Vries", "B. Jansen", "C. Bakker", "D. Visser")
CATEGORIES = ("acne", "scars", "hair removal", "camouflage")


def make_rows(count: int):
    start = date(2025, 1, 1)
    for i in range(count):
        yield ClaimRow(
            patient_name=f"Patiënt {i:06d} van Achternaam", date_of_birth=date(1970, 1, 1) + timedelta(days=i % 15000),
            bsn=f"{100000000 + i:09d}", insurer_name="Zilveren Kruis", uzovi="3311", policy_number=f"ZK{i:08d}",
            treatment_date=start + timedelta(days=i % 365), prestatiecode="1234",
            description="Fractional laser, gezicht", category=CATEGORIES[i % 4], therapist_name=THERAPISTS[i % 4],
            therapist_agb="90012345", practice_agb="90001234", kp_number=f"KP{i % 4:05d}",
            referral="GP (huisarts) J. Jansen (AGB 01234567), 02-01-2025: acne; geldig t/m 01-01-2026",
            amount=Decimal("85.00"), expected_reimbursement=Decimal("68.00") + i % 7,
            invoice_number=f"2025-{i + 1:05d}", claim_reference=f"3311-2026-001-{i + 1:05d}",
        )


def export_ours(path: Path, count: int) -> None:
    write_claim_workbook(path, header=HEADER, template=TEMPLATE, rows=make_rows(count))


def export_bare(path: Path, count: int) -> None:
    values = attrgetter(*TEMPLATE.keys)
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("Declaratie")
    ws.append([c.header for c in TEMPLATE.columns])
    for row in make_rows(count):
        ws.append(values(row))
    workbook.save(path)


def timed(function, path: Path, count: int) -> float:
    start = time.perf_counter()
    function(path, count)
    return time.perf_counter() - start


def memory_child(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        export_ours(Path(folder) / "claims.xlsx", count)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def peak_kib(count: int) -> int:
    result = subprocess.run([sys.executable, __file__, "--memory", str(count)], capture_output=True, text=True,
                            check=True)
    return int(result.stdout.split()[-1])


def validation_ms(count: int) -> float:
    therapist = TherapistOnDate("A. de Vries", "90012345", True, "KP00001")
    policy = PolicyFacts("ZK1", date(2020, 1, 1))
    lines = [
        ClaimLineFacts(
            line_id=i, patient_id=i % 2000, patient_name=f"P{i}", date_of_birth=date(1980, 1, 1),
            treatment_date=date(2025, 1, 1) + timedelta(days=i % 365), indication=Indication.ACNE,
            description="Laser", prestatiecode="1234", therapist=therapist, practice_agb="90001234",
            insurer_name="Zilveren Kruis", uzovi="3311", policy=policy, amount=Decimal("85.00"),
            expected_reimbursement=Decimal("68.00"), invoice_number=f"2025-{i:05d}", cap_group="zk-2025",
            cap_year=2025,
        )
        for i in range(count)
    ]
    caps = {(p, "zk-2025", 2025): Decimal("300.00") for p in range(2000)}
    start = time.perf_counter()
    result = validate_batch(lines, claim_date=date(2025, 12, 31), rules=ClaimRules(), cap_remaining=caps)
    elapsed = (time.perf_counter() - start) * 1000
    assert len(result.verdicts) == count
    return elapsed


def main() -> int:
    from openpyxl.xml import LXML

    with tempfile.TemporaryDirectory() as folder:
        ours, bare = [], []
        for _ in range(ROUNDS):
            bare.append(timed(export_bare, Path(folder) / "bare.xlsx", LINES))
            ours.append(timed(export_ours, Path(folder) / "ours.xlsx", LINES))
    small, large = peak_kib(SMALL), peak_kib(LINES)
    ratio = min(ours) / min(bare)
    growth = (large - small) / 1024
    print(f"{LINES} claim lines x {len(TEMPLATE.columns)} columns, openpyxl {openpyxl.__version__}, "
          f"lxml {'on' if LXML else 'off'}, best of {ROUNDS}")
    print(f"figure claims_export_100k_s {min(ours):.2f} s")
    print(f"figure bare_openpyxl_100k_s {min(bare):.2f} s")
    print(f"figure export_vs_openpyxl_ratio {ratio:.3f} x")
    print(f"figure export_peak_rss_10k_mb {small / 1024:.1f} MB")
    print(f"figure export_peak_rss_100k_mb {large / 1024:.1f} MB")
    print(f"figure export_memory_growth_mb {growth:.1f} MB")
    print(f"figure claims_validate_batch_10k_ms {validation_ms(SMALL):.1f} ms")
    return 0 if ratio <= 1.25 and growth <= 25 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        memory_child(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())

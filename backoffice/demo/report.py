"""What the demo added, for `flask seed-demo` to print."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SeedReport:
    therapists: int = 0
    patients: int = 0
    insurers: int = 0
    refused: list[str] = field(default_factory=list)
    catalogue_items: int = 0
    coverage_rules: int = 0
    intakes: int = 0
    referrals: int = 0
    treatments: int = 0
    # Treatment candidates the intake screening refused (not recorded): "name, dd-mm-yyyy: reason".
    blocked: list[str] = field(default_factory=list)
    invoices: int = 0
    # Issued invoices by payment state on `today`: paid, open (overdue ones included), overdue, credited.
    invoice_states: dict[str, int] = field(default_factory=dict)
    payments: int = 0
    credit_notes: int = 0
    uninvoiced: int = 0           # treatments of the last weeks left for the therapist to invoice
    claim_batches: int = 0
    claim_lines: int = 0
    claim_lines_excluded: int = 0

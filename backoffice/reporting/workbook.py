"""The monthly report as an Excel workbook: plain figures in (domain.reporting.MonthlyReport), a file out.

Sheets: Overzicht (key figures, month and year to date, and the trend per month with two charts), Per
behandelaar, Per verzekeraar (with a chart), Per behandeling, Debiteuren, Registraties. The workbook is always
Dutch, whatever the language of whoever asks for it: it is built inside `i18n.dutch()`, its words are message ids
translated there, enum values go through backoffice/labels.py. Every sheet starts with a title and the
generation time, then a frozen header row. Euros are numbers in a euro format, dates real dates. Text from the
database (names, rejection reasons) is always written as text, never as a formula.

The report's sheets hold aggregates, a few hundred rows at most whatever the clinic's size; the invoice register
and payments sheets hold a row per document and payment of the month (thousands for a chain). So the workbook is
written in openpyxl's write-only mode, each sheet through `_Rows`, which keeps the cells of rows not yet written
(styles and charts as in normal mode) and appends them in row order: the small sheets when they are done, the
register and payments as they go, so memory stays flat however long the month. Written to a temporary file that
replaces the target only once complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from ..clock import clinic_timezone
from ..documents.spreadsheets import discard_sheet_buffers
from ..domain.credentials import Badge
from ..domain.dutch import month_label, nl_date
from ..domain.ledger import INVOICE, Ledger, PaymentRow, RegisterRow
from ..domain.reporting import (
    ClaimFigures,
    Month,
    MonthlyReport,
    Overview,
    Pair,
    ReasonFigure,
)
from ..domain.texts import N_
from ..files import atomic_write
from ..i18n import dutch
from ..labels import badge_label, indication_label
from ..models import PAYMENT_METHODS
from .books import MonthBooks, Totals

# What the register and payments sheets need besides their rows: a Ledger, or MonthBooks (read page by page).
Books = Ledger | MonthBooks

EURO_FORMAT = '"€" #,##0.00;-"€" #,##0.00'
DATE_FORMAT = "dd-mm-yyyy"
DATETIME_FORMAT = "dd-mm-yyyy hh:mm"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"
COUNT_FORMAT = "#,##0"

# The sheet names' message ids; the workbook carries their Dutch words (sheet_names()).
SHEETS = (N_("Overview"), N_("By therapist"), N_("By insurer"), N_("By treatment"), N_("Receivables"),
          N_("Credentials"), N_("Invoice register"), N_("Payments"))
OVERVIEW, BY_THERAPIST, BY_INSURER, BY_TREATMENT, RECEIVABLES, CREDENTIALS, REGISTER, PAYMENTS = SHEETS


def sheet_names() -> list[str]:
    """The sheet names as the workbook shows them: Dutch."""
    with dutch():
        return [_(name) for name in SHEETS]
TITLE_ROW, GENERATED_ROW, PERIOD_ROW, HEADER_ROW = 1, 2, 3, 5
FIRST_DATA_ROW = HEADER_ROW + 1
FREEZE = f"B{FIRST_DATA_ROW}"

_TITLE = Font(bold=True, size=14)
_BOLD = Font(bold=True)
_GREY = Font(italic=True, color="666666")
_HEADER_FILL = PatternFill("solid", fgColor="DDE5F0")
_SOON_FILL = PatternFill("solid", fgColor="FFE699")      # ending within the warning window
_EXPIRED_FILL = PatternFill("solid", fgColor="F4B6B6")   # expired or diploma register only


# ---- cells -----------------------------------------------------------------------------------------------------


class _Rows:
    """A write-only sheet written cell by cell like a normal one: `cell(row=, column=)` gives a styled cell of a
    row not yet written; `flush(up_to)` appends the rows up to `up_to` (all: None) in order, empty ones too. Widths
    and the frozen pane are set before the first flush (write-only sheets take them only then)."""

    def __init__(self, ws: WriteOnlyWorksheet):
        self.ws = ws
        self.pending: dict[int, dict[int, WriteOnlyCell]] = {}
        self.written = 0

    @property
    def title(self) -> str:
        return self.ws.title

    @property
    def column_dimensions(self):
        return self.ws.column_dimensions

    def set_freeze_panes(self, cell: str) -> None:
        self.ws.freeze_panes = cell

    def add_chart(self, chart, anchor: str) -> None:
        self.ws.add_chart(chart, anchor)

    def cell(self, row: int, column: int) -> WriteOnlyCell:
        if row <= self.written:
            raise ValueError(f"row {row} of {self.title} is written already")
        cells = self.pending.setdefault(row, {})
        if column not in cells:
            cells[column] = WriteOnlyCell(self.ws)
        return cells[column]

    def column_styles(self, number_formats: Sequence[str | None]) -> list[StyleArray | None]:
        """Each column's style for data_row: its number format, or None for a plain cell."""
        styles: list[StyleArray | None] = []
        for number_format in number_formats:
            if number_format is None:
                styles.append(None)
                continue
            template = WriteOnlyCell(self.ws)
            template.number_format = number_format
            styles.append(template._style)
        return styles

    def data_row(self, row: int, values: Sequence, styles: Sequence[StyleArray | None]) -> None:
        """Write row `row` at once, each value with its column's style (`column_styles`): copied, not set format
        by format, which costs twice as much (a chain's month writes 250,000 cells). Text stays text (_set_value)."""
        self.flush(row - 1)
        cells = []
        for value, style in zip(values, styles, strict=True):
            cell = WriteOnlyCell(self.ws)
            if style is not None:
                cell._style = copy(style)  # before a date value, or it takes openpyxl's yyyy-mm-dd
            _set_value(cell, value)
            cells.append(cell)
        self.ws.append(cells)
        self.written = row

    def flush(self, up_to: int | None = None) -> None:
        last = max(self.pending, default=self.written) if up_to is None else up_to
        for row in range(self.written + 1, last + 1):
            cells = self.pending.pop(row, {})
            self.ws.append([cells.get(column) for column in range(1, max(cells, default=0) + 1)])
        self.written = max(self.written, last)



def _set_value(cell: WriteOnlyCell, value) -> None:
    """Text is kept text (without the characters Excel refuses): openpyxl would otherwise turn '=...' from the
    database into a live formula."""
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value


def _put(ws: _Rows, row: int, column: int, value, number_format: str | None = None, font: Font | None = None):
    """One cell. Text is kept text: openpyxl would otherwise turn '=...' from the database into a live formula."""
    cell = ws.cell(row=row, column=column)
    if number_format and not isinstance(value, str):
        cell.number_format = number_format  # before a date value, or it keeps openpyxl's yyyy-mm-dd
    _set_value(cell, value)
    if number_format:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    return cell


def _fraction(percent: Decimal | None) -> Decimal | None:
    """domain shares are percentages (62.5); Excel's % format wants the fraction (0.625)."""
    return None if percent is None else percent / 100


def _local(moment: datetime) -> datetime:
    # Excel has no time zones: write the clinic's wall-clock time.
    return moment.astimezone(clinic_timezone()).replace(tzinfo=None, microsecond=0)


def _sheet(workbook: Workbook, title: str, report: MonthlyReport, heading: str, period: str,
           headers: Sequence[str], widths: Sequence[int]) -> _Rows:
    ws = _Rows(workbook.create_sheet(_(title)))
    practice = f" · {report.practice}" if report.practice else ""
    _put(ws, TITLE_ROW, 1, f"{heading} · {month_label(report.month)}{practice}", font=_TITLE)
    _put(ws, GENERATED_ROW, 1, _("Generated"), font=_GREY)
    _put(ws, GENERATED_ROW, 2, _local(report.generated_at), DATETIME_FORMAT, font=_GREY)
    _put(ws, PERIOD_ROW, 1, period, font=_GREY)
    for column, (header, width) in enumerate(zip(headers, widths, strict=True), 1):
        cell = _put(ws, HEADER_ROW, column, header, font=_BOLD)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(column)].width = width
    # Column B holds the generation time too: wide enough for it, or Excel shows ####.
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width or 0, 17)
    ws.set_freeze_panes(FREEZE)
    return ws


def _show_axes(chart) -> None:
    # openpyxl 3.1 marks both axes deleted unless told otherwise: Excel and LibreOffice then draw no scale.
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def _periods(report: MonthlyReport) -> str:
    ytd = report.ytd
    return _("Month: %(first)s to %(last)s; year to date (YTD): %(start)s to %(end)s. Revenue by invoice and "
             "credit-note date, treatments and claims by treatment date.", first=nl_date(report.month.first),
             last=nl_date(report.month.last), start=nl_date(ytd.start), end=nl_date(ytd.end))


# ---- sheets ------------------------------------------------------------------------------------------------------


def _overview_rows(overview: Pair[Overview]) -> list[tuple[str, object, object, str]]:
    m, y = overview.month, overview.ytd
    rows: list[tuple[str, object, object, str]] = [
        (_("Revenue incl. VAT"), m.revenue.gross, y.revenue.gross, EURO_FORMAT),
        (_("Revenue excl. VAT"), m.revenue.net, y.revenue.net, EURO_FORMAT),
        (_("VAT"), m.revenue.vat, y.revenue.vat, EURO_FORMAT),
        (_("Invoiced incl. VAT"), m.invoiced.gross, y.invoiced.gross, EURO_FORMAT),
        (_("Credit notes incl. VAT"), m.credited.gross, y.credited.gross, EURO_FORMAT),
        (_("Medical revenue incl. VAT"), m.medical.gross, y.medical.gross, EURO_FORMAT),
        (_("Cosmetic revenue incl. VAT"), m.cosmetic.gross, y.cosmetic.gross, EURO_FORMAT),
        (_("Medical share of revenue"), _fraction(m.medical_share), _fraction(y.medical_share), PERCENT_FORMAT),
    ]
    rates = sorted({0, 21} | {line.rate for line in m.vat_by_rate} | {line.rate for line in y.vat_by_rate})
    for rate in rates:
        if rate == 0:
            rows.append((_("VAT exempt: revenue excl. VAT"), m.vat(rate).net, y.vat(rate).net, EURO_FORMAT))
            continue
        rows.append((_("%(rate)s %% VAT: revenue excl. VAT", rate=rate), m.vat(rate).net, y.vat(rate).net,
                     EURO_FORMAT))
        rows.append((_("%(rate)s %% VAT: VAT", rate=rate), m.vat(rate).vat, y.vat(rate).vat, EURO_FORMAT))
    rows += [
        (_("Invoices issued"), m.invoices, y.invoices, COUNT_FORMAT),
        (_("Credit notes issued"), m.credit_notes, y.credit_notes, COUNT_FORMAT),
        (_("Treatments"), m.treatments, y.treatments, COUNT_FORMAT),
        (_("Medical treatments"), m.medical_treatments, y.medical_treatments, COUNT_FORMAT),
        (_("Patients treated"), m.patients_treated, y.patients_treated, COUNT_FORMAT),
        (_("New patients (first treatment)"), m.new_patients, y.new_patients, COUNT_FORMAT),
    ]
    return rows


TREND_HEADERS = (N_("Month"), N_("Revenue incl. VAT"), N_("Revenue excl. VAT"), N_("Medical incl. VAT"),
                 N_("Cosmetic incl. VAT"), N_("Treatments"), N_("Patients treated"), N_("New patients"))


def _write_overview(workbook: Workbook, report: MonthlyReport) -> _Rows:
    ws = _sheet(workbook, OVERVIEW, report, _("Monthly report"), _periods(report),
                [_("Figure"), month_label(report.month), _("Year to date %(year)s", year=report.month.year)],
                [34, 18, 18])
    row = FIRST_DATA_ROW
    for label, month_value, ytd_value, fmt in _overview_rows(report.overview):
        _put(ws, row, 1, label)
        _put(ws, row, 2, month_value, fmt)
        _put(ws, row, 3, ytd_value, fmt)
        row += 1

    # The trend per month, below the key figures; the charts read it.
    row += 1
    _put(ws, row, 1, _("Per month (year to date)"), font=_BOLD)
    trend_header = row + 1
    for column, header in enumerate(TREND_HEADERS, 1):
        cell = _put(ws, trend_header, column, _(header), font=_BOLD)
        cell.fill = _HEADER_FILL
    for column in range(4, len(TREND_HEADERS) + 1):
        ws.column_dimensions[get_column_letter(column)].width = 16
    first = trend_header + 1
    for offset, figures in enumerate(report.trend):
        r = first + offset
        _put(ws, r, 1, month_label(figures.month))
        _put(ws, r, 2, figures.revenue.gross, EURO_FORMAT)
        _put(ws, r, 3, figures.revenue.net, EURO_FORMAT)
        _put(ws, r, 4, figures.medical_gross, EURO_FORMAT)
        _put(ws, r, 5, figures.cosmetic_gross, EURO_FORMAT)
        _put(ws, r, 6, figures.treatments, COUNT_FORMAT)
        _put(ws, r, 7, figures.patients_treated, COUNT_FORMAT)
        _put(ws, r, 8, figures.new_patients, COUNT_FORMAT)
    last = first + len(report.trend) - 1
    months = Reference(ws, min_col=1, min_row=first, max_row=last)

    line = LineChart()
    line.title = _("Revenue per month")
    line.y_axis.title = "EUR"
    line.y_axis.numFmt = "#,##0"
    line.add_data(Reference(ws, min_col=2, max_col=3, min_row=trend_header, max_row=last), titles_from_data=True)
    line.set_categories(months)
    for series in line.series:
        series.smooth = False  # a month's figure is a point, not a curve between them
    _show_axes(line)
    line.height, line.width = 7.5, 16
    ws.add_chart(line, "J5")  # right of the trend table (columns A-H)

    bar = BarChart()
    bar.type = "col"
    bar.title = _("Medical vs cosmetic revenue")
    bar.y_axis.title = "EUR"
    bar.y_axis.numFmt = "#,##0"
    bar.add_data(Reference(ws, min_col=4, max_col=5, min_row=trend_header, max_row=last), titles_from_data=True)
    bar.set_categories(months)
    _show_axes(bar)
    bar.height, bar.width = 7.5, 16
    ws.add_chart(bar, "J21")
    return ws


def _claims_cells(ws: _Rows, row: int, column: int, claims: ClaimFigures) -> int:
    for value in (claims.claimed, claims.paid, claims.rejected, claims.outstanding):
        _put(ws, row, column, value, EURO_FORMAT)
        column += 1
    return column


def _write_therapists(workbook: Workbook, report: MonthlyReport) -> _Rows:
    headers = [_("Therapist"), _("Active"), _("Treatments (month)"), _("Treatments (YTD)"),
               _("Revenue incl. VAT (month)"), _("Revenue incl. VAT (YTD)"), _("Medical share of treatments (month)"),
               _("Medical share of treatments (YTD)"), _("Claimed (month)"), _("Paid (month)"),
               _("Rejected (month)"), _("Outstanding (month)"), _("Claimed (YTD)"), _("Paid (YTD)"),
               _("Rejected (YTD)"), _("Outstanding (YTD)"), _("Credentials on %(date)s", date=nl_date(report.as_of))]
    widths = [26, 8] + [14] * 14 + [34]
    ws = _sheet(workbook, BY_THERAPIST, report, _("By therapist"), _periods(report), headers, widths)
    row = FIRST_DATA_ROW
    treatments_total: Pair[int] = Pair(0, 0)
    revenue_total: Pair[Decimal] = Pair(Decimal(0), Decimal(0))
    claims_total = Pair(ClaimFigures(), ClaimFigures())
    for figures in report.therapists:
        _put(ws, row, 1, figures.name)
        _put(ws, row, 2, _("yes") if figures.active else _("no"))
        _put(ws, row, 3, figures.treatments.month, COUNT_FORMAT)
        _put(ws, row, 4, figures.treatments.ytd, COUNT_FORMAT)
        _put(ws, row, 5, figures.revenue.month, EURO_FORMAT)
        _put(ws, row, 6, figures.revenue.ytd, EURO_FORMAT)
        _put(ws, row, 7, _fraction(figures.medical_share.month), PERCENT_FORMAT)
        _put(ws, row, 8, _fraction(figures.medical_share.ytd), PERCENT_FORMAT)
        column = _claims_cells(ws, row, 9, figures.claims.month)
        column = _claims_cells(ws, row, column, figures.claims.ytd)
        cell = _put(ws, row, column, f"{badge_label(figures.credential_badge)}: {figures.credential}")
        if figures.credential_badge is not Badge.VALID:
            cell.fill = _SOON_FILL if figures.credential_badge is Badge.EXPIRING else _EXPIRED_FILL
        treatments_total = Pair(treatments_total.month + figures.treatments.month,
                                treatments_total.ytd + figures.treatments.ytd)
        revenue_total = Pair(revenue_total.month + figures.revenue.month, revenue_total.ytd + figures.revenue.ytd)
        claims_total = Pair(claims_total.month + figures.claims.month, claims_total.ytd + figures.claims.ytd)
        row += 1
    _put(ws, row, 1, _("Total"), font=_BOLD)
    _put(ws, row, 3, treatments_total.month, COUNT_FORMAT, font=_BOLD)
    _put(ws, row, 4, treatments_total.ytd, COUNT_FORMAT, font=_BOLD)
    _put(ws, row, 5, revenue_total.month, EURO_FORMAT, font=_BOLD)
    _put(ws, row, 6, revenue_total.ytd, EURO_FORMAT, font=_BOLD)
    column = _claims_cells(ws, row, 9, claims_total.month)
    _claims_cells(ws, row, column, claims_total.ytd)
    return ws


def _reasons_text(reasons: Sequence[ReasonFigure]) -> str:
    return "; ".join(f"{r.code}: {r.text} ({r.lines})" for r in reasons)


def _write_insurers(workbook: Workbook, report: MonthlyReport) -> _Rows:
    headers = [_("Insurer"), _("Claimed (month)"), _("Paid (month)"), _("Rejected (month)"),
               _("Outstanding (month)"), _("Average days to payment (month)"), _("Claimed (YTD)"), _("Paid (YTD)"),
               _("Rejected (YTD)"), _("Outstanding (YTD)"), _("Average days to payment (YTD)"),
               _("Top rejection reasons (month)"), _("Top rejection reasons (YTD)")]
    widths = [24] + [14] * 10 + [40, 40]
    period = _periods(report) + " " + _("Claims: lines of submitted or closed claim batches and claims the "
                                        "patient submitted; days to payment from submission to the recorded "
                                        "payment.")
    ws = _sheet(workbook, BY_INSURER, report, _("Claims by insurer"), period, headers, widths)
    row = FIRST_DATA_ROW
    for figures in report.insurers:
        _put(ws, row, 1, figures.name)
        column = _claims_cells(ws, row, 2, figures.claims.month)
        _put(ws, row, column, figures.average_days_to_payment.month, DAYS_FORMAT)
        column = _claims_cells(ws, row, column + 1, figures.claims.ytd)
        _put(ws, row, column, figures.average_days_to_payment.ytd, DAYS_FORMAT)
        _put(ws, row, column + 1, _reasons_text(figures.top_reasons.month))
        _put(ws, row, column + 2, _reasons_text(figures.top_reasons.ytd))
        row += 1
    if report.insurers:
        last = FIRST_DATA_ROW + len(report.insurers) - 1
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "clustered"
        chart.title = _("Claims outcome per insurer (year to date)")
        chart.y_axis.title = "EUR"
        chart.y_axis.numFmt = "#,##0"
        for column in (8, 9, 10):  # paid, rejected, outstanding (YTD)
            chart.add_data(Reference(ws, min_col=column, min_row=HEADER_ROW, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=FIRST_DATA_ROW, max_row=last))
        _show_axes(chart)
        chart.height, chart.width = 8, 18
        ws.add_chart(chart, f"B{last + 3}")
    else:
        _put(ws, row, 1, _("No claims for treatments of this year yet."), font=_GREY)
    return ws


def _write_treatments(workbook: Workbook, report: MonthlyReport) -> _Rows:
    headers = [_("Treatment"), _("Indication"), _("Medical / cosmetic"), _("Treatments (month)"),
               _("Treatments (YTD)"), _("Revenue incl. VAT (month)"), _("Revenue incl. VAT (YTD)")]
    ws = _sheet(workbook, BY_TREATMENT, report, _("By treatment and indication"), _periods(report), headers,
                [40, 32, 12, 14, 14, 16, 16])
    row = FIRST_DATA_ROW
    counts, revenue = Pair(0, 0), Pair(Decimal(0), Decimal(0))
    for figures in report.treatments:
        _put(ws, row, 1, figures.treatment)
        _put(ws, row, 2, indication_label(figures.indication))
        _put(ws, row, 3, _("medical") if figures.medical else _("cosmetic"))
        _put(ws, row, 4, figures.count.month, COUNT_FORMAT)
        _put(ws, row, 5, figures.count.ytd, COUNT_FORMAT)
        _put(ws, row, 6, figures.revenue.month, EURO_FORMAT)
        _put(ws, row, 7, figures.revenue.ytd, EURO_FORMAT)
        counts = Pair(counts.month + figures.count.month, counts.ytd + figures.count.ytd)
        revenue = Pair(revenue.month + figures.revenue.month, revenue.ytd + figures.revenue.ytd)
        row += 1
    _put(ws, row, 1, _("Total"), font=_BOLD)
    _put(ws, row, 4, counts.month, COUNT_FORMAT, font=_BOLD)
    _put(ws, row, 5, counts.ytd, COUNT_FORMAT, font=_BOLD)
    _put(ws, row, 6, revenue.month, EURO_FORMAT, font=_BOLD)
    _put(ws, row, 7, revenue.ytd, EURO_FORMAT, font=_BOLD)
    return ws


def _write_receivables(workbook: Workbook, report: MonthlyReport) -> _Rows:
    receivables = report.receivables
    period = _("Issued invoices with money still to receive on %(date)s (after payments and credit notes up to "
               "that day), by days since the invoice date.", date=nl_date(receivables.as_of))
    ws = _sheet(workbook, RECEIVABLES, report, _("Receivables by age"), period,
                [_("Age (days)"), _("Invoices"), _("Open amount")], [26, 12, 18])
    row = FIRST_DATA_ROW
    for bucket in receivables.buckets:
        _put(ws, row, 1, bucket.bucket.label)
        _put(ws, row, 2, bucket.invoices, COUNT_FORMAT)
        _put(ws, row, 3, bucket.amount, EURO_FORMAT)
        row += 1
    _put(ws, row, 1, _("Total"), font=_BOLD)
    _put(ws, row, 2, receivables.invoices, COUNT_FORMAT, font=_BOLD)
    _put(ws, row, 3, receivables.amount, EURO_FORMAT, font=_BOLD)
    _put(ws, row + 1, 1, _("of which past the due date"))
    _put(ws, row + 1, 2, receivables.overdue_invoices, COUNT_FORMAT)
    _put(ws, row + 1, 3, receivables.overdue_amount, EURO_FORMAT)
    _put(ws, row + 2, 1, _("Measured on"))
    _put(ws, row + 2, 3, receivables.as_of, DATE_FORMAT)
    return ws


def _write_credentials(workbook: Workbook, report: MonthlyReport) -> _Rows:
    headers = [_("Therapist"), _("Active"), _("NVH number"), _("NVH until"), _("KP number"), _("KP level"),
               _("KP until"), _("Status on %(date)s", date=nl_date(report.as_of)),
               _("Ends within %(days)s days", days=report.warn_days)]
    period = _("NVH membership and KP registration current on %(date)s (else the latest); highlighted: ending "
               "within %(days)s days (yellow), expired or diploma register only (red).",
               date=nl_date(report.as_of), days=report.warn_days)
    ws = _sheet(workbook, CREDENTIALS, report, _("Credentials"), period, headers,
                [26, 8, 14, 12, 14, 18, 12, 34, 12])
    row = FIRST_DATA_ROW
    for figures in report.credentials:
        values = [figures.name, _("yes") if figures.active else _("no"), figures.nvh_number, figures.nvh_until,
                  figures.kp_number, figures.kp_level, figures.kp_until, str(figures.status),
                  _("yes") if figures.ending_soon else ""]
        fill = None
        if figures.ending_soon:
            fill = _SOON_FILL
        elif figures.badge in (Badge.EXPIRED, Badge.DIPLOMA_ONLY, Badge.NONE):
            fill = _EXPIRED_FILL
        for column, value in enumerate(values, 1):
            cell = _put(ws, row, column, value, DATE_FORMAT if isinstance(value, date) else None)
            if fill is not None:
                cell.fill = fill
        if figures.nvh_until is None and figures.nvh_number:
            _put(ws, row, 4, _("open-ended"))
        row += 1
    return ws


def rate_header(rate: int) -> str:
    """The column of one VAT rate's amounts excluding VAT (the register sheet and its CSV)."""
    return _("Excl. VAT, exempt") if rate == 0 else _("Excl. VAT, %(rate)s %%", rate=rate)


def register_headers(book: Books) -> list[str]:
    return ([_("Kind"), _("Number"), _("Date"), _("Patient number"), _("Credits invoice")]
            + [rate_header(rate) for rate in book.rates] + [_("VAT"), _("Total incl. VAT"), _("Paid"), _("Open")])


def register_values(book: Books) -> Callable[[RegisterRow], list]:
    """The register's cells of a row, as a function of the row: the words are translated once, not per row (a
    chain's month has thousands)."""
    invoice, credit_note, rates, zero = _("Invoice"), _("Credit note"), book.rates, Decimal("0.00")

    def values(row: RegisterRow) -> list:
        return ([invoice if row.kind == INVOICE else credit_note, row.number, row.issue_date, row.patient_number,
                 row.credits] + [row.net_by_rate.get(rate, zero) for rate in rates]
                + [row.vat, row.total, row.paid, row.open])

    return values


def payment_headers() -> list[str]:
    return [_("Date"), _("Invoice number"), _("Patient number"), _("Payment method"), _("Amount"), _("Note")]


def payment_values() -> Callable[[PaymentRow], list]:
    """The payments sheet's cells of a row, as a function of the row (the methods translated once)."""
    methods = {method: _(label) for method, label in PAYMENT_METHODS.items()}

    def values(row: PaymentRow) -> list:
        return [row.paid_on, row.invoice_number, row.patient_number, methods.get(row.method) or _(row.method),
                row.amount, row.note]

    return values


def _ledger_period(book: Books) -> str:
    return _("Invoices and credit notes issued from %(first)s to %(last)s; paid and open on %(date)s (credit notes "
             "and payments up to that day). Patients by number only.", first=nl_date(book.first),
             last=nl_date(book.last), date=nl_date(book.as_of))


def _write_register(workbook: Workbook, report: MonthlyReport, book: Books,
                    rows: Iterable[RegisterRow]) -> _Rows:
    headers = register_headers(book)
    ws = _sheet(workbook, REGISTER, report, _("Invoice register"), _ledger_period(book), headers,
                [12, 14, 12, 12, 14] + [16] * len(book.rates) + [14, 16, 14, 14])
    row = FIRST_DATA_ROW
    money_from = 6  # the VAT-rate columns onwards are euros
    totals = Totals(book.rates)
    styles = ws.column_styles([DATE_FORMAT if column == 3 else EURO_FORMAT if column >= money_from else None
                               for column in range(1, len(headers) + 1)])
    values = register_values(book)
    for entry in totals.counted(rows):
        ws.data_row(row, values(entry), styles)  # a row per document: written as it comes
        row += 1
    _put(ws, row, 1, _("Total"), font=_BOLD)
    sums = [totals.net(rate) for rate in book.rates] + [totals.vat, totals.total, totals.paid, totals.open]
    for column, value in enumerate(sums, money_from):
        _put(ws, row, column, value, EURO_FORMAT, font=_BOLD)
    return ws


def _write_payments(workbook: Workbook, report: MonthlyReport, book: Books, rows: Iterable[PaymentRow]) -> _Rows:
    period = _("Payments dated from %(first)s to %(last)s, refunds and reversals negative; the insurer's payments "
               "(direct billing) included.", first=nl_date(book.first), last=nl_date(book.last))
    ws = _sheet(workbook, PAYMENTS, report, _("Payments"), period, payment_headers(), [12, 16, 14, 26, 14, 40])
    row = FIRST_DATA_ROW
    totals = Totals(book.rates)
    styles = ws.column_styles([DATE_FORMAT, None, None, None, EURO_FORMAT, None])
    values = payment_values()
    for entry in totals.counted_payments(rows):
        ws.data_row(row, values(entry), styles)
        row += 1
    _put(ws, row, 1, _("Total"), font=_BOLD)
    _put(ws, row, 5, totals.payments, EURO_FORMAT, font=_BOLD)
    return ws


# ---- the file ------------------------------------------------------------------------------------------------


def build_workbook(report: MonthlyReport, books: MonthBooks | None = None) -> Workbook:
    """The report as a workbook, in Dutch whatever the language of the request that asks for it. With `books` (the
    month-end pack, or a download that asks for them) the month's invoice register and payments follow as two more
    sheets, read page by page; without, the six sheets of figures (a chain's month has tens of thousands of rows
    of books, which cost more than every figure)."""
    with dutch():
        workbook = Workbook(write_only=True)
        sheets = [_write_overview(workbook, report), _write_therapists(workbook, report),
                  _write_insurers(workbook, report), _write_treatments(workbook, report),
                  _write_receivables(workbook, report), _write_credentials(workbook, report)]
        if books is not None:
            sheets += [_write_register(workbook, report, books, books.register()),
                       _write_payments(workbook, report, books, books.payments())]
        for sheet in sheets:
            sheet.flush()
        title = _("Monthly report %(month)s", month=month_label(report.month))
    properties = workbook.properties
    properties.title = title
    properties.creator = "backoffice"
    properties.created = properties.modified = report.generated_at.replace(tzinfo=None)
    return workbook


def write_report(report: MonthlyReport, target: str | os.PathLike[str], books: MonthBooks | None = None) -> Path:
    """Write the workbook to `target`: to a temporary file beside it first, renamed over it once complete, so a
    full disk or a crash never leaves half a report behind."""
    target = Path(target)
    workbook = build_workbook(report, books)
    try:
        with atomic_write(target) as handle:
            workbook.save(handle)
    except BaseException:
        discard_sheet_buffers(workbook)
        raise
    return target


def default_filename(month: Month, with_books: bool = False) -> str:
    """maandrapportage-YYYY-MM.xlsx; with the month's books (a download that asks for them)
    maandrapportage-YYYY-MM-met-boeken.xlsx, so that the two never overwrite each other in a downloads folder."""
    return f"maandrapportage-{month.iso}{'-met-boeken' if with_books else ''}.xlsx"

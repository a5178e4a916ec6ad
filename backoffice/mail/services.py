"""E-mailing documents to patients: the invoice and credit note (the PDFs stored at issue, byte for byte), the
declaration and the aftercare sheet (rendered as their download routes render them), each with the practice's
Dutch message template. Services add and flush, never commit (the request, the command or the job does).

Every sending is recorded (DocumentSending: when, to which address, by whom, the outcome) and a delivered one is
logged in the access log as an export of the patient's data. A delivery that fails is stored as "failed" with
the reason and can be retried (`retry`); nothing raises for it, so a page or a bulk job shows it and goes on.
What is refused before anything is sent raises a ServiceError: no e-mail address, an invalid one, a document
that cannot be printed.

Nothing here needs a request: pass `user` (a background job has no signed-in user; None records "the system").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from .. import audit
from ..clock import utc_now
from ..documents.data import AftercareDocument, DeclarationDocument
from ..domain.dutch import euro, nl_date
from ..domain.money import from_cents
from ..domain.patient_mail import MessageKind, SendingKind, SendingStatus
from ..errors import ServiceError
from ..extensions import db
from ..i18n import dutch
from ..invoicing import declarations
from ..invoicing import services as invoicing
from ..models import CreditNote, DocumentSending, Invoice, Patient, Treatment, User
from . import templates, transport
from .transport import Attachment, MailError


class AddressRefused(ServiceError):
    """No e-mail address to send to, or one that is not an e-mail address: nothing was sent."""

    status = 422


# How a retry gets the attachments of a sending again, per kind. The payment reminders (backoffice/reminders/)
# register theirs with `register_attachments("reminder", ...)`.
AttachmentBuilder = Callable[[DocumentSending], list[Attachment]]
_ATTACHMENTS: dict[str, AttachmentBuilder] = {}


def register_attachments(kind: str, builder: AttachmentBuilder) -> None:
    _ATTACHMENTS[str(SendingKind(kind))] = builder


# ---- addresses ------------------------------------------------------------------------------------------------

def normalised_address(address: str) -> str:
    """The address as it is sent to, or AddressRefused saying what is wrong with it."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise AddressRefused(_("%(address)s is not a valid e-mail address: %(reason)s", address=address.strip(),
                               reason=str(error))) from None


def recipient(patient: Patient, to: str | None = None) -> str:
    """The address typed by the user, else the patient's own; AddressRefused when there is none or it is invalid."""
    typed = (to or "").strip()
    if typed:
        return normalised_address(typed)
    own = (patient.email or "").strip()
    if not own:
        raise AddressRefused(_("%(name)s has no e-mail address: nothing was sent. Add it to the patient's record "
                               "or type the address to send to.", name=patient.full_name))
    return normalised_address(own)


# ---- sending --------------------------------------------------------------------------------------------------

def _user_id(user: User | None) -> int | None:
    return user.id if user is not None and getattr(user, "is_authenticated", True) else None


def _check_no_bsn(patient: Patient, subject: str, body: str) -> None:
    """A BSN never goes into an e-mail's words (the declaration attached carries it, as on paper)."""
    bsn = patient.get_bsn()
    if bsn and (bsn in subject or bsn in body):
        raise ServiceError(_("The message holds the patient's BSN, which is never sent in an e-mail: change the "
                             "message template."))


_WHAT = {
    SendingKind.INVOICE: "invoice PDF",
    SendingKind.CREDIT_NOTE: "credit note PDF",
    SendingKind.DECLARATION: "declaration PDF",
    SendingKind.AFTERCARE: "aftercare sheet",
    SendingKind.REMINDER: "payment reminder",
}


def _log_subject(sending: DocumentSending) -> str:
    """The access log's subject, as the document's downloads name it."""
    if sending.kind == SendingKind.CREDIT_NOTE and sending.credit_note is not None:
        return f"credit note {sending.credit_note.number}"
    if sending.kind == SendingKind.AFTERCARE:
        return f"treatment {sending.treatment_id}"
    number = sending.invoice.number if sending.invoice is not None else sending.invoice_id
    if sending.kind == SendingKind.DECLARATION:
        return f"declaration {number}"
    return f"invoice {number}"


def _deliver(sending: DocumentSending, attachments: Sequence[Attachment], user: User | None) -> DocumentSending:
    """One try: deliver, and record the outcome on the sending (and in the access log when it went out)."""
    sending.last_attempt_at = utc_now()
    sending.sent_by_id = _user_id(user)
    try:
        message_id = transport.send(sending.to_address, sending.subject, sending.body, attachments)
    except MailError as error:
        sending.status = SendingStatus.FAILED.value
        sending.error = str(error)
    else:
        sending.status = SendingStatus.SENT.value
        sending.error = ""
        sending.sent_at = utc_now()
        sending.message_id = message_id
        audit.record("export", sending.patient_id, _log_subject(sending),
                     f"{_WHAT[SendingKind(sending.kind)]} sent by e-mail to {sending.to_address}"
                     + (f" (attempt {sending.attempts})" if sending.attempts > 1 else ""), user=user)
    db.session.flush()
    return sending


def send_document(patient: Patient, kind: str, *, subject: str, body: str, attachments: Sequence[Attachment],
                  invoice: Invoice | None = None, credit_note: CreditNote | None = None,
                  treatment: Treatment | None = None, reminder_id: int | None = None, to: str | None = None,
                  user: User | None = None) -> DocumentSending:
    """Send one document to the patient (or to `to`) and record it. A delivery failure is recorded as a failed
    sending, not raised; a missing or invalid address or a BSN in the words raise (nothing is recorded)."""
    address = recipient(patient, to)
    _check_no_bsn(patient, subject, body)
    sending = DocumentSending(
        kind=str(SendingKind(kind)), patient_id=patient.id, invoice_id=invoice.id if invoice else None,
        credit_note_id=credit_note.id if credit_note else None, treatment_id=treatment.id if treatment else None,
        reminder_id=reminder_id, to_address=address, subject=subject, body=body,
        status=SendingStatus.FAILED.value, attempts=1,
    )
    sending.patient, sending.invoice, sending.credit_note, sending.treatment = patient, invoice, credit_note, \
        treatment
    db.session.add(sending)
    return _deliver(sending, attachments, user)


def retry(sending: DocumentSending, user: User | None = None) -> DocumentSending:
    """Send a failed sending again (same address and words, the document attached afresh) and record the try.
    A sending that went out meanwhile (a double click, another user) is returned unchanged."""
    sending = db.session.execute(
        select(DocumentSending).where(DocumentSending.id == sending.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if sending.sent:
        return sending
    attachments = attachments_of(sending)
    sending.attempts += 1
    return _deliver(sending, attachments, user)


def attachments_of(sending: DocumentSending) -> list[Attachment]:
    """The document of a sending, again: the stored PDF, or rendered now (declaration, aftercare sheet)."""
    kind = SendingKind(sending.kind)
    if kind == SendingKind.INVOICE and sending.invoice is not None:
        return [invoice_attachment(sending.invoice)]
    if kind == SendingKind.CREDIT_NOTE and sending.credit_note is not None:
        return [credit_note_attachment(sending.credit_note)]
    if kind == SendingKind.DECLARATION and sending.invoice is not None:
        return [declaration_attachment(sending.invoice)]
    if kind == SendingKind.AFTERCARE and sending.treatment is not None:
        return [aftercare_attachment(sending.treatment)]
    builder = _ATTACHMENTS.get(str(kind))
    if builder is None:
        raise ServiceError(_("This sending cannot be sent again from here."))
    return builder(sending)


# ---- the documents --------------------------------------------------------------------------------------------

def invoice_attachment(invoice: Invoice) -> Attachment:
    """The invoice PDF exactly as stored at issue (checked against its SHA-256)."""
    return Attachment(f"factuur-{invoice.number}.pdf", invoicing.stored_pdf(invoice))


def credit_note_attachment(credit_note: CreditNote) -> Attachment:
    return Attachment(f"creditnota-{credit_note.number}.pdf", invoicing.stored_pdf(credit_note))


def _render_declaration(doc: DeclarationDocument) -> bytes:
    from ..documents.pdf import render_declaration  # WeasyPrint costs 0.6 s to import: only when printing

    return render_declaration(doc)


def _render_aftercare(doc: AftercareDocument) -> bytes:
    from ..documents.pdf import render_aftercare

    return render_aftercare(doc)


def declaration_attachment(invoice: Invoice,
                           renderer: Callable[[DeclarationDocument], bytes] | None = None) -> Attachment:
    """The declaration as its download renders it (raises DeclarationMissingData naming what is missing)."""
    return Attachment(f"declaratie-{invoice.number}.pdf",
                      (renderer or _render_declaration)(declarations.declaration_document(invoice)))


def aftercare_attachment(treatment: Treatment,
                         renderer: Callable[[AftercareDocument], bytes] | None = None) -> Attachment:
    return Attachment(f"nazorg-{treatment.treatment_date.isoformat()}-{treatment.id}.pdf",
                      (renderer or _render_aftercare)(declarations.aftercare_document(treatment)))


def _latest_treatment_date(invoice: Invoice) -> date | None:
    dates = [line.treatment_date for line in invoice.lines]
    return max(dates) if dates else None


def invoice_values(invoice: Invoice) -> dict[str, str]:
    """The placeholders of an invoice's messages: the patient, number, what the patient is asked to pay, the due
    date and the (last) treatment date. Reminders add their own (amount open, deadline, costs)."""
    status = invoicing.invoice_status(invoice)
    return {
        "patient_name": invoice.patient.full_name,
        "invoice_number": invoice.number or "",
        "amount": euro(status.patient_part),
        "due_date": nl_date(invoice.due_date),
        "treatment_date": nl_date(_latest_treatment_date(invoice)),
    }


def _require_issued(invoice: Invoice) -> None:
    if not invoice.issued:
        raise invoicing.InvoiceError(_("A draft cannot be sent: issue it first."))


@dataclass(frozen=True)
class Draft:
    """What sending a document would send: the message and the name of the file attached (for the send page)."""

    kind: SendingKind
    subject: str
    body: str
    filename: str


def _message(kind: MessageKind, values: Mapping[str, str]) -> tuple[str, str]:
    with dutch():
        return templates.compose(kind, values)


def invoice_message(invoice: Invoice) -> tuple[str, str]:
    _require_issued(invoice)
    return _message(MessageKind.INVOICE, invoice_values(invoice))


def credit_note_message(credit_note: CreditNote) -> tuple[str, str]:
    invoice = credit_note.invoice
    return _message(MessageKind.CREDIT_NOTE, {
        "patient_name": invoice.patient.full_name, "credit_note_number": credit_note.number,
        "invoice_number": invoice.number or "", "amount": euro(-from_cents(credit_note.total_gross_cents))})


def declaration_message(invoice: Invoice) -> tuple[str, str]:
    _require_issued(invoice)
    values = invoice_values(invoice)
    values["amount"] = euro(invoice.total_gross)
    return _message(MessageKind.DECLARATION, values)


def aftercare_message(treatment: Treatment) -> tuple[str, str]:
    return _message(MessageKind.AFTERCARE, {"patient_name": treatment.patient.full_name,
                                            "treatment_date": nl_date(treatment.treatment_date)})


def send_invoice(invoice: Invoice, user: User | None = None, to: str | None = None) -> DocumentSending:
    """E-mail the issued invoice's stored PDF with the practice's invoice message (usable from a background job)."""
    subject, body = invoice_message(invoice)
    recipient(invoice.patient, to)  # refuse a missing address before the PDF is read
    return send_document(invoice.patient, SendingKind.INVOICE, subject=subject, body=body,
                         attachments=[invoice_attachment(invoice)], invoice=invoice, to=to, user=user)


def send_credit_note(credit_note: CreditNote, user: User | None = None, to: str | None = None) -> DocumentSending:
    subject, body = credit_note_message(credit_note)
    invoice = credit_note.invoice
    return send_document(invoice.patient, SendingKind.CREDIT_NOTE, subject=subject, body=body,
                         attachments=[credit_note_attachment(credit_note)], invoice=invoice,
                         credit_note=credit_note, to=to, user=user)


def send_declaration(invoice: Invoice, user: User | None = None, to: str | None = None,
                     renderer: Callable[[DeclarationDocument], bytes] | None = None) -> DocumentSending:
    subject, body = declaration_message(invoice)
    recipient(invoice.patient, to)  # refuse a missing address before rendering
    return send_document(invoice.patient, SendingKind.DECLARATION, subject=subject, body=body,
                         attachments=[declaration_attachment(invoice, renderer)], invoice=invoice, to=to,
                         user=user)


def send_aftercare(treatment: Treatment, user: User | None = None, to: str | None = None,
                   renderer: Callable[[AftercareDocument], bytes] | None = None) -> DocumentSending:
    subject, body = aftercare_message(treatment)
    recipient(treatment.patient, to)
    return send_document(treatment.patient, SendingKind.AFTERCARE, subject=subject, body=body,
                         attachments=[aftercare_attachment(treatment, renderer)], treatment=treatment, to=to,
                         user=user)


def draft(kind: SendingKind, document: Invoice | CreditNote | Treatment) -> Draft:
    """The message a send page shows before sending."""
    if kind == SendingKind.INVOICE and isinstance(document, Invoice):
        subject, body = invoice_message(document)
        return Draft(kind, subject, body, f"factuur-{document.number}.pdf")
    if kind == SendingKind.DECLARATION and isinstance(document, Invoice):
        subject, body = declaration_message(document)
        return Draft(kind, subject, body, f"declaratie-{document.number}.pdf")
    if kind == SendingKind.CREDIT_NOTE and isinstance(document, CreditNote):
        subject, body = credit_note_message(document)
        return Draft(kind, subject, body, f"creditnota-{document.number}.pdf")
    if kind == SendingKind.AFTERCARE and isinstance(document, Treatment):
        subject, body = aftercare_message(document)
        return Draft(kind, subject, body, f"nazorg-{document.treatment_date.isoformat()}-{document.id}.pdf")
    raise ServiceError(_("This document cannot be sent by e-mail."))


def send_by_kind(kind: SendingKind, document: Invoice | CreditNote | Treatment, user: User | None = None,
         to: str | None = None) -> DocumentSending:
    """Send a document of the given kind (the send page's one entry)."""
    if kind == SendingKind.INVOICE and isinstance(document, Invoice):
        return send_invoice(document, user, to)
    if kind == SendingKind.DECLARATION and isinstance(document, Invoice):
        return send_declaration(document, user, to)
    if kind == SendingKind.CREDIT_NOTE and isinstance(document, CreditNote):
        return send_credit_note(document, user, to)
    if kind == SendingKind.AFTERCARE and isinstance(document, Treatment):
        return send_aftercare(document, user, to)
    raise ServiceError(_("This document cannot be sent by e-mail."))


# ---- what was sent --------------------------------------------------------------------------------------------

def sendings_for(invoice_ids: Iterable[int] = (), treatment_ids: Iterable[int] = ()) -> list[DocumentSending]:
    """The sendings of these invoices (their credit notes, declarations and reminders too) and treatments,
    newest first."""
    invoices, treatments = list(invoice_ids), list(treatment_ids)
    if not invoices and not treatments:
        return []
    return list(db.session.scalars(
        select(DocumentSending)
        .options(selectinload(DocumentSending.sent_by), selectinload(DocumentSending.credit_note))
        .where(or_(DocumentSending.invoice_id.in_(invoices), DocumentSending.treatment_id.in_(treatments)))
        .order_by(DocumentSending.created_at.desc(), DocumentSending.id.desc())
    ))


def sendings_of(kind: SendingKind, document: Invoice | CreditNote | Treatment) -> list[DocumentSending]:
    """The earlier sendings of this very document (the send page warns before sending it twice)."""
    column = {SendingKind.CREDIT_NOTE: DocumentSending.credit_note_id,
              SendingKind.AFTERCARE: DocumentSending.treatment_id}.get(kind, DocumentSending.invoice_id)
    return list(db.session.scalars(
        select(DocumentSending).where(DocumentSending.kind == str(kind), column == document.id)
        .order_by(DocumentSending.created_at.desc(), DocumentSending.id.desc())
    ))

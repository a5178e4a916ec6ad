"""E-mail the managers what is newly expiring or has lapsed (`flask credentials check --mail`, for cron).

Reads the credential report (services.credential_report: active therapists, credentials without a successor) and
the stages mailed before (models.CredentialAlert), asks the domain which stage is due for each credential
(domain.credential_alerts.stage_due) and sends one Dutch message listing all of them to every active manager (to
the admins when no manager account exists). Only once the message went out are its stages recorded, so a failed
sending is tried again on the next run. The message names therapists and their credentials, never a patient.

Delivery goes through backoffice.mail.transport (SMTP in production, `.eml` files in instance/outbox/ in
development and tests).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from ..clock import utc_now
from ..domain.credential_alerts import STAGE_LABELS, STAGE_ORDER, AlertStage, stage_due
from ..domain.dutch import nl_date
from ..domain.roles import Role
from ..errors import ServiceError
from ..extensions import db
from ..i18n import dutch
from ..models import CredentialAlert, User
from .services import CredentialLine, CredentialReport


class AlertError(ServiceError):
    """The alerts cannot be sent (nobody to send them to)."""


@dataclass(frozen=True)
class DueAlert:
    line: CredentialLine
    stage: AlertStage


@dataclass(frozen=True)
class Recipients:
    addresses: tuple[str, ...]
    admins_instead: bool  # no active manager account: the admins get the message


@dataclass(frozen=True)
class AlertMail:
    recipients: Recipients
    alerts: tuple[DueAlert, ...]
    subject: str
    body: str


def _sent_stages(lines: list[CredentialLine]) -> dict[tuple[str, int], dict[AlertStage, date]]:
    sent: dict[tuple[str, int], dict[AlertStage, date]] = defaultdict(dict)
    if lines:
        rows = db.session.execute(
            select(CredentialAlert.kind, CredentialAlert.credential_id, CredentialAlert.stage, CredentialAlert.ends_on)
            .where(CredentialAlert.credential_id.in_({line.credential_id for line in lines})))
        for kind, credential_id, stage, ends_on in rows:
            sent[(kind, credential_id)][AlertStage(stage)] = ends_on
    return sent


def due_alerts(report: CredentialReport) -> list[DueAlert]:
    """The stages not mailed yet of the report's expiring and lapsed credentials, most urgent first."""
    lines = list(report.expired) + [line for group in report.expiring.values() for line in group]
    sent = _sent_stages(lines)
    due = []
    for line in lines:
        stage = stage_due(line.ends_on, report.today, sent.get((line.kind, line.credential_id), {}))
        if stage is not None:
            due.append(DueAlert(line, stage))
    due.sort(key=lambda alert: (STAGE_ORDER.index(alert.stage), alert.line.ends_on, alert.line.therapist,
                                alert.line.kind))
    return due


def recipients() -> Recipients:
    """Every active manager's address; the active admins' when there is no such manager."""
    def addresses(role: Role) -> tuple[str, ...]:
        return tuple(db.session.scalars(
            select(User.email).where(User.role == role.value, User.active.is_(True), User.email != "")
            .order_by(User.email)))

    managers = addresses(Role.MANAGER)
    if managers:
        return Recipients(managers, admins_instead=False)
    admins = addresses(Role.ADMIN)
    if not admins:
        raise AlertError("No active manager or admin account has an e-mail address: nobody to tell.")
    return Recipients(admins, admins_instead=True)


def _credential(line: CredentialLine) -> str:
    level = f" ({line.level})" if line.level else ""
    return f"{line.kind} {line.number}{level}"


def compose(report: CredentialReport, alerts: list[DueAlert], to: Recipients) -> tuple[str, str]:
    """The Dutch subject and body listing the new stages. Staff mail: therapists and credentials, no patients."""
    with dutch():
        subject = ngettext("Therapist credentials: %(num)d alert", "Therapist credentials: %(num)d alerts",
                           len(alerts))
        body = [_("Good day,"), "",
                _("These credentials of the practice's therapists run out soon or have run out (on %(date)s):",
                  date=nl_date(report.today))]
        for stage in STAGE_ORDER:
            group = [alert.line for alert in alerts if alert.stage is stage]
            if not group:
                continue
            body += ["", f"{STAGE_LABELS[stage]}:"]
            for line in group:
                if stage is AlertStage.LAPSED:
                    text = _("%(therapist)s: %(credential)s, ended on %(date)s",
                             therapist=line.therapist, credential=_credential(line), date=nl_date(line.ends_on))
                elif line.days_left == 0:
                    text = _("%(therapist)s: %(credential)s, ends today (%(date)s)",
                             therapist=line.therapist, credential=_credential(line), date=nl_date(line.ends_on))
                else:
                    text = ngettext("%(therapist)s: %(credential)s, ends on %(date)s (in %(num)d day)",
                                    "%(therapist)s: %(credential)s, ends on %(date)s (in %(num)d days)",
                                    line.days_left, therapist=line.therapist, credential=_credential(line),
                                    date=nl_date(line.ends_on))
                body.append(f"- {text}")
        body += ["", _("Record the renewal on the therapist's page in the back office (Therapists): a renewed "
                       "credential gets no further alerts. Treatments on days without both an NVH membership and a "
                       "KP kwaliteitsregister registration cannot be claimed from insurers.")]
        if report.unclaimable:
            body += ["", ngettext("%(num)d recorded treatment falls in a lapse and cannot be claimed: see the "
                                  "Credentials page.",
                                  "%(num)d recorded treatments fall in a lapse and cannot be claimed: see the "
                                  "Credentials page.", len(report.unclaimable))]
        if to.admins_instead:
            body += ["", _("No active manager account exists, so this message goes to the administrators.")]
        body += ["", _("You get this message once for each stage of a credential: 90, 30 and 7 days before its end "
                       "and once it has lapsed.")]
    return subject, "\n".join(body) + "\n"


def prepare(report: CredentialReport) -> AlertMail | None:
    """The message this run would send; None when every stage was mailed before."""
    alerts = due_alerts(report)
    if not alerts:
        return None
    to = recipients()
    subject, body = compose(report, alerts, to)
    return AlertMail(to, tuple(alerts), subject, body)


def send(mail: AlertMail) -> str:
    """Send the message and record its stages (the caller commits); returns the Message-ID. Raises
    backoffice.mail.transport.MailError when delivery fails: then nothing is recorded, and the next run tries
    again."""
    from ..mail import transport

    message_id = transport.send(list(mail.recipients.addresses), mail.subject, mail.body)
    _record(mail, message_id)
    return message_id


def _record(mail: AlertMail, message_id: str) -> None:
    now = utc_now()
    sent_to = ", ".join(mail.recipients.addresses)
    keys = {(alert.line.kind, alert.line.credential_id, alert.stage.value) for alert in mail.alerts}
    existing = {(row.kind, row.credential_id, row.stage): row for row in db.session.scalars(
        select(CredentialAlert).where(CredentialAlert.credential_id.in_({key[1] for key in keys})))}
    for alert in mail.alerts:
        key = (alert.line.kind, alert.line.credential_id, alert.stage.value)
        row = existing.get(key)
        if row is None:
            row = CredentialAlert(kind=key[0], credential_id=key[1], stage=key[2])
            db.session.add(row)
        # Mailed before for another end date (it was corrected or extended): now mailed for this one.
        row.therapist_id = alert.line.therapist_id
        row.ends_on = alert.line.ends_on
        row.sent_at = now
        row.sent_to = sent_to
        row.message_id = message_id
    db.session.flush()

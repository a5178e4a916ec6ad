"""Techniques, indications and contraindications: lists and edit forms for the admin. Thin: see services.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..domain import indications as indication_rules
from ..domain.indications import Category
from ..domain.intake import RuleKind
from ..domain.roles import Permission
from ..extensions import db
from ..models import ClinicalContraindication, ClinicalIndication, ClinicalTechnique
from ..security import current_staff, permission_required
from . import services
from .forms import ContraindicationForm, IndicationForm, TechniqueForm

bp = Blueprint("clinical", __name__, url_prefix="/clinical")


@bp.record_once
def _plug_in_the_lookup(state: Any) -> None:
    """The domain learns the codes the practice added from the tables (domain.indications.set_lookup)."""
    indication_rules.set_lookup(services.lookup)


def _technique_choices(form: IndicationForm | ContraindicationForm) -> None:
    form.technique_ids.choices = [(t.id, _(t.label) + ("" if t.active else " " + _("(inactive)")))
                                  for t in services.techniques()]


def _render(template: str, form: Any, **context: Any):
    return render_template(template, form=form, **context), 422 if form.errors else 200


def _taken(form: Any) -> None:
    form.code.errors = [*form.code.errors, _("This code is already used: choose another.")]


@bp.route("/")
@permission_required(Permission.CLINICAL_MANAGE)
def index():
    return render_template("clinical/index.html", techniques=services.techniques(),
                           indications=services.indications(), contraindications=services.contraindications())


# ---- techniques ----------------------------------------------------------------------------------------------------


@bp.route("/techniques/new", methods=["GET", "POST"])
@bp.route("/techniques/<int:row_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CLINICAL_MANAGE)
def edit_technique(row_id: int | None = None):
    row = db.get_or_404(ClinicalTechnique, row_id) if row_id is not None else None
    form = TechniqueForm(obj=row) if request.method == "GET" and row else TechniqueForm()
    if row is not None:
        form.code.data = row.code  # never changes: treatments and intakes store it
        form.code.render_kw = {"readonly": True}
    if form.validate_on_submit():
        data = services.TechniqueInput(code=form.code.data, label=form.label.data,
                                       minimum_age=form.minimum_age.data, active=form.active.data)
        try:
            saved, changed = services.save_technique(row, data, current_staff())
        except services.CodeTaken:
            _taken(form)
        else:
            flash(_("Technique %(name)s saved.", name=_(saved.label)) if changed else _("Nothing changed."),
                  "success")
            return redirect(url_for("clinical.index"))
    return _render("clinical/form.html", form, row=row, title=_("Technique"),
                   in_use=row is not None and services.technique_in_use(row))


# ---- indications ---------------------------------------------------------------------------------------------------


@bp.route("/indications/new", methods=["GET", "POST"])
@bp.route("/indications/<int:row_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CLINICAL_MANAGE)
def edit_indication(row_id: int | None = None):
    row = db.get_or_404(ClinicalIndication, row_id) if row_id is not None else None
    form = IndicationForm(obj=row) if request.method == "GET" and row else IndicationForm()
    _technique_choices(form)
    if row is not None:
        form.code.data = row.code
        form.code.render_kw = {"readonly": True}
        if request.method == "GET":
            form.technique_ids.data = [t.id for t in row.techniques]
    if form.validate_on_submit():
        data = services.IndicationInput(code=form.code.data, label=form.label.data,
                                        category=Category(form.category.data),
                                        technique_ids=tuple(form.technique_ids.data or ()), active=form.active.data)
        try:
            saved, changed = services.save_indication(row, data, current_staff())
        except services.CodeTaken:
            _taken(form)
        else:
            flash(_("Indication %(name)s saved.", name=_(saved.label)) if changed else _("Nothing changed."),
                  "success")
            return redirect(url_for("clinical.index"))
    return _render("clinical/form.html", form, row=row, title=_("Indication"),
                   in_use=row is not None and services.indication_in_use(row))


# ---- contraindications ---------------------------------------------------------------------------------------------


@bp.route("/contraindications/new", methods=["GET", "POST"])
@bp.route("/contraindications/<int:row_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CLINICAL_MANAGE)
def edit_contraindication(row_id: int | None = None):
    row = db.get_or_404(ClinicalContraindication, row_id) if row_id is not None else None
    form = ContraindicationForm(obj=row) if request.method == "GET" and row else ContraindicationForm()
    _technique_choices(form)
    if row is not None:
        form.code.data = row.code
        form.code.render_kw = {"readonly": True}
        form.medication.data = row.medication  # where intakes record it: fixed once saved
        form.medication.render_kw = {"disabled": True}
        if request.method == "GET":
            form.technique_ids.data = [t.id for t in row.techniques]
            form.wait_unit.data = row.wait_unit or ""
    if form.validate_on_submit():
        amount, unit = form.wait()
        data = services.ContraindicationInput(
            code=form.code.data, label=form.label.data, medication=bool(form.medication.data),
            area_bound=bool(form.area_bound.data), rule=RuleKind(form.rule.data), wait_amount=amount,
            wait_unit=unit, technique_ids=tuple(form.technique_ids.data or ()), active=form.active.data)
        try:
            saved, changed = services.save_contraindication(row, data, current_staff())
        except services.CodeTaken:
            _taken(form)
        else:
            flash(_("Contraindication %(name)s saved.", name=_(saved.label)) if changed else _("Nothing changed."),
                  "success")
            return redirect(url_for("clinical.index"))
    return _render("clinical/form.html", form, row=row, title=_("Contraindication"),
                   in_use=row is not None and services.contraindication_in_use(row))

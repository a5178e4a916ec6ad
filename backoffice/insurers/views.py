from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import unit_of_work
from ..clock import clinic_today
from ..domain.roles import Permission
from ..errors import ServiceError
from ..extensions import db
from ..models import CoverageRule, Insurer, Package
from ..security import permission_required
from . import services
from .forms import AREA_CHOICES, CATEGORY_CHOICES, CoverageRuleForm, InsurerForm, PackageForm

bp = Blueprint("insurers", __name__, url_prefix="/insurers")


def _insurer(insurer_id: int) -> Insurer:
    return db.get_or_404(Insurer, insurer_id)


def _to_detail(insurer: Insurer):
    return redirect(url_for("insurers.detail", insurer_id=insurer.id))


def _status(form) -> int:
    return 422 if form.errors else 200


def _refused(field, error: ServiceError) -> None:
    """Show a service's refusal on the form field; what the service flushed before it refused is dropped."""
    unit_of_work.discard()
    field.errors.append(str(error))


@bp.route("/")
@permission_required(Permission.INSURERS_READ)
def list_insurers():
    q = request.args.get("q", "")
    after, before = services.LIST_ORDER.cursors(request.args)
    page = services.LIST_ORDER.page(services.search_query(q), current_app.config["PAGE_SIZE"], after, before)
    counts = services.package_counts([insurer.id for insurer in page.items])
    return render_template("insurers/list.html", page=page, counts=counts, q=q, args={"q": q} if q else {})


def _save_insurer(form: InsurerForm, insurer: Insurer | None) -> Insurer | None:
    try:
        return services.save_insurer(insurer, form.to_input())
    except services.DuplicateUzovi as error:
        _refused(form.uzovi, error)
        return None


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.INSURERS_WRITE)
def create():
    form = InsurerForm()
    if form.validate_on_submit() and (insurer := _save_insurer(form, None)):
        flash(f"Insurer {insurer.name} added.", "success")
        return _to_detail(insurer)
    return render_template("insurers/form.html", form=form, insurer=None), _status(form)


@bp.route("/<int:insurer_id>")
@permission_required(Permission.INSURERS_READ)
def detail(insurer_id: int):
    insurer = _insurer(insurer_id)
    return render_template("insurers/detail.html", insurer=insurer, rules_by_year=services.rules_by_year(insurer),
                           category_labels=dict(CATEGORY_CHOICES), area_labels=dict(AREA_CHOICES))


@bp.route("/<int:insurer_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.INSURERS_WRITE)
def edit(insurer_id: int):
    insurer = _insurer(insurer_id)
    form = InsurerForm(obj=insurer)
    if form.validate_on_submit() and _save_insurer(form, insurer):
        flash("Insurer saved.", "success")
        return _to_detail(insurer)
    return render_template("insurers/form.html", form=form, insurer=insurer), _status(form)


def _package(insurer: Insurer, package_id: int) -> Package:
    package = db.get_or_404(Package, package_id)
    if package.insurer_id != insurer.id:
        abort(404)
    return package


@bp.route("/<int:insurer_id>/packages/new", methods=["GET", "POST"], endpoint="add_package")
@bp.route("/<int:insurer_id>/packages/<int:package_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.INSURERS_WRITE)
def edit_package(insurer_id: int, package_id: int | None = None):
    insurer = _insurer(insurer_id)
    package = _package(insurer, package_id) if package_id else None
    form = PackageForm(obj=package)
    if form.validate_on_submit():
        try:
            services.save_package(insurer, package, form.to_input())
        except services.DuplicatePackage as error:
            _refused(form.name, error)
        else:
            flash("Package saved.", "success")
            return _to_detail(insurer)
    return render_template("insurers/package_form.html", form=form, insurer=insurer, package=package), \
        _status(form)


# ---- coverage rules ------------------------------------------------------------------------------------------

def _rule(insurer: Insurer, rule_id: int) -> CoverageRule:
    rule = db.get_or_404(CoverageRule, rule_id)
    if rule.insurer_id != insurer.id:
        abort(404)
    return rule


@bp.route("/<int:insurer_id>/rules/new", methods=["GET", "POST"], endpoint="add_rule")
@bp.route("/<int:insurer_id>/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.INSURERS_WRITE)
def edit_rule(insurer_id: int, rule_id: int | None = None):
    insurer = _insurer(insurer_id)
    rule = _rule(insurer, rule_id) if rule_id else None
    form = CoverageRuleForm(obj=rule, data=services.rule_form_data(rule) if rule else None)
    form.package_id.choices = [("", "All packages")] + [(p.id, p.name) for p in insurer.packages]
    if rule is None and request.method == "GET":
        form.year.data = clinic_today().year
    if form.validate_on_submit():
        try:
            services.save_rule(insurer, rule, form.to_input())
        except services.RuleError as error:
            _refused(form[error.field or "label"], error)
        else:
            flash("Rule saved. Treatments already recorded keep the assessment they were given.", "success")
            return _to_detail(insurer)
    return render_template("insurers/rule_form.html", form=form, insurer=insurer, rule=rule), _status(form)


@bp.route("/<int:insurer_id>/rules/<int:rule_id>/copy", methods=["POST"])
@permission_required(Permission.INSURERS_WRITE)
def copy_rule(insurer_id: int, rule_id: int):
    insurer = _insurer(insurer_id)
    rule = _rule(insurer, rule_id)
    try:
        copy = services.copy_rule_to_next_year(rule)
    except services.RuleError as error:
        unit_of_work.discard()
        flash(str(error), "warning")
        return _to_detail(insurer)
    flash(f"Rule copied to {copy.year}; check it against the insurer's conditions for that year.", "success")
    return redirect(url_for("insurers.edit_rule", insurer_id=insurer.id, rule_id=copy.id))


@bp.route("/<int:insurer_id>/rules/<int:rule_id>/delete", methods=["POST"])
@permission_required(Permission.INSURERS_WRITE)
def delete_rule(insurer_id: int, rule_id: int):
    insurer = _insurer(insurer_id)
    try:
        services.delete_rule(_rule(insurer, rule_id))
    except services.RuleError as error:
        unit_of_work.discard()
        flash(str(error), "danger")
    else:
        flash("Rule deleted.", "info")
    return _to_detail(insurer)

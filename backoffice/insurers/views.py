from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import unit_of_work
from ..clock import clinic_today
from ..domain.dutch import nl_date
from ..domain.roles import Permission
from ..errors import ServiceError
from ..extensions import db
from ..models import CoverageRule, Insurer, Package
from ..security import current_staff, permission_required
from . import services
from .forms import CoverageRuleForm, InsurerForm, PackageForm, RuleEndForm, RuleWithdrawForm

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
        flash(_("Insurer %(name)s added.", name=insurer.name), "success")
        return _to_detail(insurer)
    return render_template("insurers/form.html", form=form, insurer=None), _status(form)


@bp.route("/<int:insurer_id>")
@permission_required(Permission.INSURERS_READ)
def detail(insurer_id: int):
    insurer = _insurer(insurer_id)
    rules_by_year = services.rules_by_year(insurer)
    in_use = services.rules_in_use([rule.id for _year, rules in rules_by_year for rule in rules])
    return render_template("insurers/detail.html", insurer=insurer, rules_by_year=rules_by_year, in_use=in_use)


@bp.route("/<int:insurer_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.INSURERS_WRITE)
def edit(insurer_id: int):
    insurer = _insurer(insurer_id)
    form = InsurerForm(obj=insurer)
    if form.validate_on_submit() and _save_insurer(form, insurer):
        flash(_("Insurer saved."), "success")
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
            flash(_("Package saved."), "success")
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
    form.package_id.choices = [("", _("All packages"))] + [(p.id, p.name) for p in insurer.packages]
    form.applies_after_rule_id.choices = [("", _("None"))] + services.fallback_choices(insurer, rule)
    if rule is None and request.method == "GET":
        form.year.data = clinic_today().year
    preview = None
    if form.validate_on_submit():
        try:
            if form.preview.data:  # nothing is stored: the changed rule re-assesses recent treatments
                preview = services.preview_rule(insurer, rule, form.to_input())
            else:
                services.save_rule(insurer, rule, form.to_input())
        except services.RuleError as error:
            _refused(form[error.field or "label"], error)
        else:
            if preview is None:
                flash(_("Rule saved. Treatments already recorded keep the assessment they were given."), "success")
                return _to_detail(insurer)
            unit_of_work.discard()
    return render_template("insurers/rule_form.html", form=form, insurer=insurer, rule=rule,
                           preview=preview), _status(form)


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
    flash(_("Rule copied to %(year)s; check it against the insurer's conditions for that year.", year=copy.year),
          "success")
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
        flash(_("Rule deleted."), "info")
    return _to_detail(insurer)


def _render_retire(insurer: Insurer, rule: CoverageRule, end_form: RuleEndForm, withdraw_form: RuleWithdrawForm):
    status = 422 if end_form.errors or withdraw_form.errors else 200
    return render_template("insurers/rule_retire.html", insurer=insurer, rule=rule, end_form=end_form,
                           withdraw_form=withdraw_form, in_use=bool(services.rules_in_use([rule.id]))), status


@bp.route("/<int:insurer_id>/rules/<int:rule_id>/retire")
@permission_required(Permission.INSURERS_WRITE)
def retire_rule(insurer_id: int, rule_id: int):
    """End a rule on a date, or withdraw it: the two ways to retire a rule that history depends on."""
    insurer = _insurer(insurer_id)
    rule = _rule(insurer, rule_id)
    end_form = RuleEndForm(formdata=None, prefix="end", data={"ends_on": rule.ends_on})
    return _render_retire(insurer, rule, end_form, RuleWithdrawForm(formdata=None, prefix="withdraw"))


@bp.route("/<int:insurer_id>/rules/<int:rule_id>/end", methods=["POST"])
@permission_required(Permission.INSURERS_WRITE)
def end_rule(insurer_id: int, rule_id: int):
    insurer = _insurer(insurer_id)
    rule = _rule(insurer, rule_id)
    form = RuleEndForm(prefix="end")
    if form.validate_on_submit():
        try:
            services.end_rule(rule, form.ends_on.data)
        except services.RuleError as error:
            _refused(form.ends_on, error)
        else:
            if rule.ends_on:
                flash(_("The rule applies to treatments up to and including %(day)s; treatments already recorded "
                        "keep their assessment.", day=nl_date(rule.ends_on)), "success")
            else:
                flash(_("The rule applies all year again."), "success")
            return _to_detail(insurer)
    rule = _rule(insurer, rule_id)
    return _render_retire(insurer, rule, form, RuleWithdrawForm(formdata=None, prefix="withdraw"))


@bp.route("/<int:insurer_id>/rules/<int:rule_id>/withdraw", methods=["POST"])
@permission_required(Permission.INSURERS_WRITE)
def withdraw_rule(insurer_id: int, rule_id: int):
    insurer = _insurer(insurer_id)
    rule = _rule(insurer, rule_id)
    form = RuleWithdrawForm(prefix="withdraw")
    if form.validate_on_submit():
        try:
            services.withdraw_rule(rule, form.reason.data or "", current_staff())
        except services.RuleError as error:
            _refused(form.reason, error)
        else:
            flash(_("Rule withdrawn: new assessments no longer use it; it stays visible for the treatments "
                    "assessed with it."), "success")
            return _to_detail(insurer)
    rule = _rule(insurer, rule_id)
    end_form = RuleEndForm(formdata=None, prefix="end", data={"ends_on": rule.ends_on})
    return _render_retire(insurer, rule, end_form, form)

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import unit_of_work
from ..clinical import services as clinical_services
from ..domain.money import from_cents
from ..domain.roles import Permission
from ..extensions import db
from ..labels import technique_label
from ..models import CatalogueItem
from ..security import permission_required
from . import services
from .forms import CatalogueItemForm

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")


@bp.route("/")
@permission_required(Permission.CATALOGUE_READ)
def list_items():
    q = request.args.get("q", "")
    after, before = services.LIST_ORDER.cursors(request.args)
    page = services.LIST_ORDER.page(services.search_query(q), current_app.config["PAGE_SIZE"], after, before)
    return render_template("catalogue/list.html", page=page, q=q, args={"q": q} if q else {})


def _input(form: CatalogueItemForm) -> services.CatalogueItemInput:
    return services.CatalogueItemInput(
        code=form.code.data, name=form.name.data,
        price=form.price.data if form.price.data is not None else Decimal(0),  # required: None never gets here
        duration_minutes=form.duration_minutes.data, technique=form.technique.data or None,
        prestatiecode=form.prestatiecode.data or "", prestatiecode_list=form.prestatiecode_list.data or "",
        active=bool(form.active.data),
    )


def _save(form: CatalogueItemForm, item: CatalogueItem | None) -> CatalogueItem | None:
    try:
        return services.save_item(item, _input(form))
    except services.DuplicateCode as error:
        unit_of_work.discard()  # the refused change may have been flushed already
        form.code.errors = [*form.code.errors, str(error)]
        return None
    except services.PriceNotPositive as error:
        unit_of_work.discard()
        form.price.errors = [*form.price.errors, str(error)]
        return None
    except services.PrestatiecodeInvalid as error:
        unit_of_work.discard()
        field = form[error.field]
        field.errors = [*field.errors, str(error)]
        return None


@bp.route("/new", methods=["GET", "POST"], endpoint="create")
@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CATALOGUE_WRITE)
def edit(item_id: int | None = None):
    item = db.get_or_404(CatalogueItem, item_id) if item_id else None
    form = CatalogueItemForm(obj=item)
    # The techniques an administrator keeps under Praktijk > Technieken en indicaties (an item keeps its own).
    form.technique.choices = [("", _("— none —"))] + [
        (row.code, technique_label(row.code) if technique_label(row.code) != row.code else row.label)
        for row in clinical_services.techniques(active_only=True, keep=item.technique if item else None)]
    if item is not None and request.method == "GET":
        form.price.data = from_cents(item.price_cents)
        form.technique.data = item.technique or ""
    if form.validate_on_submit() and (saved := _save(form, item)):
        flash(_("%(code)s saved.", code=saved.code), "success")
        return redirect(url_for("catalogue.list_items"))
    return render_template("catalogue/form.html", form=form, item=item), 422 if form.errors else 200

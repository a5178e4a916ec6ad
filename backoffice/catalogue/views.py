from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from ..domain.indications import TECHNIQUE_LABELS
from ..domain.money import from_cents
from ..domain.roles import Permission
from ..extensions import db
from ..models import CatalogueItem
from ..security import permission_required
from . import services
from .forms import CatalogueItemForm

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")


@bp.route("/")
@permission_required(Permission.CATALOGUE_READ)
def list_items():
    q = request.args.get("q", "")
    page = db.paginate(services.search_query(q), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("catalogue/list.html", page=page, q=q, technique_labels=TECHNIQUE_LABELS)


def _save(form: CatalogueItemForm, item: CatalogueItem | None) -> CatalogueItem | None:
    try:
        item = services.save_item(item, form.data)
    except services.DuplicateCode as error:
        form.code.errors.append(str(error))
        return None
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request took the code first
        db.session.rollback()
        form.code.errors.append("Another treatment already has this code.")
        return None
    return item


@bp.route("/new", methods=["GET", "POST"], endpoint="create")
@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CATALOGUE_WRITE)
def edit(item_id: int | None = None):
    item = db.get_or_404(CatalogueItem, item_id) if item_id else None
    form = CatalogueItemForm(obj=item)
    if item is not None and request.method == "GET":
        form.price.data = from_cents(item.price_cents)
        form.technique.data = item.technique or ""
    if form.validate_on_submit() and (saved := _save(form, item)):
        flash(f"{saved.code} saved.", "success")
        return redirect(url_for("catalogue.list_items"))
    return render_template("catalogue/form.html", form=form, item=item), 422 if form.errors else 200

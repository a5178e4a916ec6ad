"""Aftercare texts per technique and per catalogue item: list, edit, reset to the default. Thin: see services.py."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..domain.aftercare import DEFAULT_TEXTS, AftercareTopic, topic_for
from ..domain.roles import Permission
from ..extensions import db
from ..labels import aftercare_topic_label
from ..models import CatalogueItem
from ..security import current_staff, permission_required
from . import services
from .forms import AftercareTextForm

bp = Blueprint("aftercare", __name__, url_prefix="/aftercare")


def _topic(value: str) -> AftercareTopic:
    try:
        return AftercareTopic(value)
    except ValueError:
        abort(404)


def _input(form: AftercareTextForm) -> services.AftercareInput:
    return services.AftercareInput(title=form.title.data or "", expectations=form.expectations.data or "",
                                   instructions=form.instructions.data or "")


def _prefill(form: AftercareTextForm, data: services.AftercareInput) -> None:
    form.title.data = data.title
    form.expectations.data = data.expectations
    form.instructions.data = data.instructions


@bp.route("/")
@permission_required(Permission.CATALOGUE_READ)
def index():
    return render_template("aftercare/index.html", topics=services.topic_rows(), item_texts=services.item_texts(),
                           items_without_text=services.items_without_text())


@bp.route("/topics/<topic>/edit", methods=["GET", "POST"])
@permission_required(Permission.CATALOGUE_WRITE)
def edit_topic(topic: str):
    chosen = _topic(topic)
    stored = services.topic_text(chosen)
    form = AftercareTextForm()
    if request.method == "GET":
        _prefill(form, services.as_input(services.topic_content(chosen)))
    if form.validate_on_submit():
        services.save_topic_text(chosen, _input(form), current_staff())
        flash(_("Aftercare text for %(topic)s saved.", topic=aftercare_topic_label(chosen)), "success")
        return redirect(url_for("aftercare.index"))
    return render_template("aftercare/form.html", form=form, topic=chosen, stored=stored, item=None,
                           default=DEFAULT_TEXTS[chosen]), 422 if form.errors else 200


@bp.route("/topics/<topic>/reset", methods=["POST"])
@permission_required(Permission.CATALOGUE_WRITE)
def reset_topic(topic: str):
    chosen = _topic(topic)
    if services.reset_topic_text(chosen):
        flash(_("The aftercare text for %(topic)s is the default text again.", topic=aftercare_topic_label(chosen)),
              "success")
    else:
        flash(_("The aftercare text for %(topic)s was already the default text.",
                topic=aftercare_topic_label(chosen)), "info")
    return redirect(url_for("aftercare.index"))


@bp.route("/items/new")
@permission_required(Permission.CATALOGUE_WRITE)
def new_item():
    item_id = request.args.get("item_id", type=int)
    item = db.session.get(CatalogueItem, item_id) if item_id else None
    if item is None:
        flash(_("Choose a treatment from the catalogue."), "warning")
        return redirect(url_for("aftercare.index"))
    return redirect(url_for("aftercare.edit_item", item_id=item.id))


@bp.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CATALOGUE_WRITE)
def edit_item(item_id: int):
    item = db.get_or_404(CatalogueItem, item_id)
    stored = services.item_text(item.id)
    topic = topic_for(item.technique)
    form = AftercareTextForm()
    if request.method == "GET":
        _prefill(form, services.as_input(stored.content() if stored else services.topic_content(topic)))
    if form.validate_on_submit():
        services.save_item_text(item, _input(form), current_staff())
        flash(_("Aftercare text for %(code)s saved.", code=item.code), "success")
        return redirect(url_for("aftercare.index"))
    return render_template("aftercare/form.html", form=form, topic=topic, stored=stored, item=item,
                           default=None), 422 if form.errors else 200


@bp.route("/items/<int:item_id>/delete", methods=["POST"])
@permission_required(Permission.CATALOGUE_WRITE)
def delete_item(item_id: int):
    item = db.get_or_404(CatalogueItem, item_id)
    if services.delete_item_text(item):
        flash(_("The aftercare text for %(code)s was deleted; its sheets print the text of its technique again.",
                code=item.code), "success")
    return redirect(url_for("aftercare.index"))

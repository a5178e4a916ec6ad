"""The intake form of issue 10: grouped checkboxes instead of Ctrl-click lists, short to tab through, in Dutch."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import factories
from conftest import create_user, login, post_form

from backoffice.clock import clinic_today
from backoffice.domain.indications import BodyArea
from backoffice.extensions import db
from backoffice.models import Intake

TODAY = clinic_today()


class _Focusable(HTMLParser):
    """The keyboard stops in the intake form up to Save: fields outside a closed collapse (a date field with a
    picker is two: static/app.js adds the picker button)."""

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []  # per open div: is it a closed collapse?
        self.in_form = False
        self.stops = 0
        self.done = False
        self.multi_selects = 0

    def _hidden(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and attributes.get("data-testid") == "intake-form":
            self.in_form = True
        if not self.in_form or self.done:
            return
        if tag == "div":
            classes = (attributes.get("class") or "").split()
            self.stack.append("collapse" in classes and "show" not in classes)
        if tag == "select" and "multiple" in attributes:
            self.multi_selects += 1
        if self._hidden():
            return
        if tag == "input" and attributes.get("type") not in ("hidden",):
            if attributes.get("type") == "submit":
                self.done = True
                return
            self.stops += 2 if "data-picker" in attributes else 1
        elif tag in ("select", "textarea"):
            self.stops += 1

    def handle_endtag(self, tag):
        if self.in_form and not self.done and tag == "div" and self.stack:
            self.stack.pop()


def _parse(html: str) -> _Focusable:
    parser = _Focusable()
    parser.feed(html)
    return parser


def test_the_intake_form_groups_checkboxes_and_is_short_to_tab_through(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    html = as_role("therapist").get(f"/patients/{patient_id}/intakes/new").get_data(as_text=True)
    for group, legend in (("contraindications-group", "Contraindications"),
                          ("medications-group", "Medication: uses or used"), ("consent-group", "Informed consent")):
        assert re.search(rf'<fieldset[^>]*data-testid="{group}">\s*<legend[^>]*>{re.escape(legend)}</legend>', html)
    # Body areas are checkboxes posted under the same name, one per area; no Ctrl-click list boxes.
    areas = re.findall(r'<input[^>]*type="checkbox"[^>]*name="ci_tattoos_areas"[^>]*value="([a-z_]+)"', html)
    assert areas == [area.value for area in BodyArea]
    parsed = _parse(html)
    assert parsed.multi_selects == 0 and "<select" not in html.split('data-testid="intake-form"')[1].split("</form>")[0]
    # Details unfold under a ticked box: with nothing ticked, Save is under 30 Tab presses away (it was 75).
    assert parsed.done and parsed.stops < 30, parsed.stops
    # Each box with details controls them (Bootstrap collapse, aria-expanded kept up to date).
    box = re.search(r'<input[^>]*id="ci_tattoos"[^>]*>', html).group(0)
    assert 'data-bs-toggle="collapse"' in box and 'data-bs-target="#ci_tattoos-details"' in box
    assert 'aria-expanded="false"' in box


def test_ticked_boxes_and_their_details_post_and_come_back_open(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    data = {"intake_date": TODAY.isoformat(), "consent_given": "y", "consent_by": "Eva Jansen",
            "consent_on": TODAY.isoformat(), "ci_tattoos": "y", "ci_tattoos_areas": ["face", "bikini_line"],
            "ci_active_infection_areas": ["neck"]}  # areas for an unticked box: refused, and shown
    response = post_form(client, f"/patients/{patient_id}/intakes/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="collapse show ms-4 mb-2" id="ci_tattoos-details"' in html
    assert 'class="collapse show ms-4 mb-2" id="ci_active_infection-details"' in html
    assert "Tick the contraindication or clear its areas." in html
    checked = re.findall(r'<input[^>]*name="ci_tattoos_areas"[^>]*value="([a-z_]+)" checked', html)
    assert checked == ["face", "bikini_line"]
    del data["ci_active_infection_areas"]
    response = post_form(client, f"/patients/{patient_id}/intakes/new", data)
    assert response.status_code == 302
    with app.app_context():
        intake = db.session.scalar(db.select(Intake))
        assert intake.contraindications == [{"kind": "tattoos", "areas": ["bikini_line", "face"], "ended_on": None}]
        intake_id = intake.id
    edit = client.get(f"/patients/{patient_id}/intakes/{intake_id}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="ci_tattoos"[^>]*aria-expanded="true"', edit) or \
        'aria-expanded="true"' in re.search(r'<input[^>]*id="ci_tattoos"[^>]*>', edit).group(0)
    assert re.findall(r'<input[^>]*name="ci_tattoos_areas"[^>]*value="([a-z_]+)" checked', edit) == ["face",
                                                                                                    "bikini_line"]


def test_the_intake_pages_are_dutch_for_a_dutch_user(app, client):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    create_user(app, "nl@test.nl", "therapist", language="nl")
    login(client, "nl@test.nl")
    html = client.get(f"/patients/{patient_id}/intakes/new").get_data(as_text=True)
    assert '<html lang="nl"' in html
    for dutch in ("Contra-indicaties", "Medicatie: gebruikt of gebruikte", "Intakedatum", "Opslaan", "Gezicht"):
        assert dutch in html, dutch
    assert "Tattoos in the area" not in html and "Body areas" not in html
    response = post_form(client, f"/patients/{patient_id}/intakes/new", {
        "intake_date": TODAY.isoformat(), "ci_tattoos": "y", "ci_tattoos_areas": ["face"],
        "med_antibiotics": "y", "med_antibiotics_stopped_on": "01-01-2026"}, follow_redirects=True)
    detail = response.get_data(as_text=True)
    assert "(gezicht)" in detail and "gestopt op 01-01-2026" in detail and "Intake van" in detail
    assert "face" not in detail.split('data-testid="contraindications"')[1].split("</ul>")[0]

"""The access log in the reader's language: Dutch headings, actions and roles; the stored codes stay as they are."""

from __future__ import annotations

import re

import factories
from conftest import create_user, login


def test_the_access_log_reads_in_dutch_and_still_filters_by_code(app, client):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    create_user(app, "nl-admin@test.nl", "admin", name="Beheerder", language="nl")
    login(client, "nl-admin@test.nl")
    client.get(f"/patients/{patient_id}")  # logged as a view
    html = client.get("/access-log/", query_string={"action": "view"}).get_data(as_text=True)
    assert '<html lang="nl"' in html
    for dutch in ("Inzagelog", "Tijdstip", "Gebruiker", "Handeling", "Onderwerp", "Filteren", "iedereen", "Nieuwer"):
        assert dutch in html, dutch
    table = html.split('data-testid="access-log-table"')[1].split("</table>")[0]
    assert re.search(r'<td data-label="Handeling" data-action="view">inzage</td>', table)
    assert 'data-role="admin">Administratie</span>' in table  # the role's label, not its code
    assert re.search(r'<option[^>]*value="view"[^>]*>inzage</option>', html)
    assert "table-responsive-cards" in html.split('data-testid="access-log-table"')[0].rsplit("<table", 1)[1]
    csv_text = client.get(f"/access-log/patients/{patient_id}?format=csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").startswith("tijdstip,e-mail gebruiker,rol gebruiker,namens,cliëntnummer")

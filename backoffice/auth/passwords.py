"""The one password rule, for every place a password is chosen: the own change-password page, an administrator
creating a user or setting a password, `flask create-user` and the demo accounts.

At least MIN_PASSWORD_LENGTH characters, not the current password, and not easy to guess by zxcvbn's estimate
(score MIN_SCORE of 0-4, the account's e-mail and name counted as known words): length alone lets `aaaaaaaaaaaa`
and `password1234` through.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 12
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable", about 10^8 guesses or more
# zxcvbn's work grows faster than the length; beyond this many characters the tail adds no doubt worth measuring.
ESTIMATE_CHARACTERS = 100


def _known_words(email: str, name: str) -> list[str]:
    """What an attacker knows about the account: e-mail, its parts, the name and its parts."""
    words = [email, name, *re.split(r"[@.\-_+\s]+", email), *name.split()]
    return [word.lower() for word in words if word and len(word) > 1]


def password_problem(password: str, email: str = "", name: str = "", current: str | None = None) -> str | None:
    """Why `password` is refused, in words for the user; None when it is good enough."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
    if current is not None and password == current:
        return _("The new password must differ from the current one.")
    if zxcvbn(password[:ESTIMATE_CHARACTERS], user_inputs=_known_words(email, name))["score"] < MIN_SCORE:
        return _("This password is too easy to guess. Use a few unrelated words, or a longer mix that is not a "
                 "name, date, keyboard pattern or common word.")
    return None

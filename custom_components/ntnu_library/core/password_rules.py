"""The rules a password a patron chooses must keep (NIST SP 800-63B §5.1.1.2).

A patron chooses their own password on the activation page. It is judged as bcrypt will see
it (NFKC, so full-width letters and digits count as the ASCII ones), case ignored, and refused,
each rule with its own reason, when it is:

- shorter than 8 characters, or longer than the 72 UTF-8 bytes bcrypt reads (about 24 Chinese
  characters): PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG;
- made of what others know of the patron: it contains the patron's ID (PASSWORD_CONTAINS_ID),
  their name or a part of it (PASSWORD_CONTAINS_NAME, see `name_parts`) or half of the
  activation code staff handed over and have seen (PASSWORD_CONTAINS_CODE);
- one of the 30,000 passwords of zxcvbn's list of the most common ones, taken from leaked
  password sets (PASSWORD_TOO_COMMON);
- what zxcvbn scores 0 knowing the patron's ID and name, under a thousand guesses: a repeated
  character, a sequence, a keyboard row, a password of the list a little changed
  (PASSWORD_TOO_GUESSABLE).

There are no composition rules (no "must contain a digit"): NIST advises against them, and a
few unrelated words make the best password. zxcvbn's score 1 (under a million guesses) is
allowed on purpose: it takes ordinary memorable passwords such as "sunflower2019" that NIST does
not refuse, and the login throttle (a growing wait after five failures, up to a quarter of an
hour per patron ID) lets nobody try a million of them; the list above already stops guessing
spread over many patrons.

zxcvbn is slow on a long password (tens of milliseconds) and keeps the user inputs of a check
in a module-wide dictionary, so `check_new_password` is blocking and takes a lock.
"""

from __future__ import annotations

from collections.abc import Iterator
import re
import threading
from typing import Any, Final
import unicodedata

from zxcvbn import zxcvbn  # type: ignore[import-untyped]
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

from .errors import Reason, Refused

# At least this many characters (NIST SP 800-63B §5.1.1.2).
MIN_PASSWORD_LENGTH: Final = 8
# bcrypt reads 72 bytes and silently ignores the rest: a longer password would be a lie.
MAX_PASSWORD_BYTES: Final = 72
# A name's or an ID's part shorter than this is in too many good passwords to refuse them.
MIN_PART_LENGTH: Final = 3
# Chinese characters carry more than letters: two of a name in a row are a part of it.
MIN_HAN_PART_LENGTH: Final = 2
# How much of the activation code in a row gives too much of the password away.
CODE_RUN: Final = 8

# Every refusal of a chosen password: the patron can choose another at once.
PASSWORD_REASONS: Final = frozenset(
    {
        Reason.PASSWORD_TOO_SHORT,
        Reason.PASSWORD_TOO_LONG,
        Reason.PASSWORD_CONTAINS_ID,
        Reason.PASSWORD_CONTAINS_NAME,
        Reason.PASSWORD_CONTAINS_CODE,
        Reason.PASSWORD_TOO_COMMON,
        Reason.PASSWORD_TOO_GUESSABLE,
    }
)

_COMMON: Final[frozenset[str]] = frozenset(FREQUENCY_LISTS["passwords"])
# CJK unified ideographs (after NFKC the compatibility ones are among them).
_HAN: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]+")
_NOT_ALNUM: Final = re.compile(r"[\W_]+")
_ZXCVBN_LOCK: Final = threading.Lock()


def normalize_password(password: str) -> str:
    """Return a password as bcrypt is given it: NFKC (full-width ＡＢＣ１２３ is ABC123)."""
    return unicodedata.normalize("NFKC", password)


def check_length(password: object) -> str:
    """Return the password normalized if its length is right, else refuse it.

    The rules that need nothing of the patron: the page checks them before the code.
    Refused(INVALID_VALUE, field="password") for what cannot be a password at all (not text,
    a lone surrogate), Refused(PASSWORD_TOO_SHORT) or Refused(PASSWORD_TOO_LONG).
    """
    if not isinstance(password, str):
        raise Refused(Reason.INVALID_VALUE, field="password")
    normal = normalize_password(password)
    try:
        size = len(normal.encode())
    except UnicodeEncodeError:
        raise Refused(Reason.INVALID_VALUE, field="password") from None
    if len(normal) < MIN_PASSWORD_LENGTH:
        raise Refused(Reason.PASSWORD_TOO_SHORT)
    if size > MAX_PASSWORD_BYTES:
        raise Refused(Reason.PASSWORD_TOO_LONG)
    return normal


def name_parts(name: str) -> frozenset[str]:
    """Return the parts of a name a password may not contain (case-folded, after NFKC).

    A name is read as words (split at spaces, hyphens, dots and apostrophes) and, within a
    word, as runs of Chinese characters and runs of other letters:

    - a run of other letters of 3 or more ("Anna Schmidt": anna, schmidt); the whole name
      without its separators too, so a name of short words still counts ("Li Na": lina);
    - every two Chinese characters in a row (王小明: 王小, 小明; 歐陽娜娜: 歐陽, 陽娜, 娜娜). A
      Chinese given name is mostly two characters and a surname one or two, so this covers
      the given name, the surname with the given name's start, and a two-character surname.
      A single character is not refused: 王 or 明 is part of too many good passwords.

    A romanised form of a Chinese name (wangxiaoming) cannot be worked out from the
    characters; zxcvbn still gets the name as the patron's own words.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    parts: set[str] = set()
    letters: list[str] = []
    for word in _NOT_ALNUM.split(folded):
        for run in _HAN.findall(word):
            parts.update(run[i : i + MIN_HAN_PART_LENGTH] for i in range(len(run) - 1))
        for run in _HAN.split(word):
            letters.append(run)
            if len(run) >= MIN_PART_LENGTH:
                parts.add(run)
    joined = "".join(letters)
    if len(joined) >= MIN_PART_LENGTH:
        parts.add(joined)
    return frozenset(parts)


def _code_runs(code: str) -> Iterator[str]:
    """Every CODE_RUN characters in a row of an activation code, as `_plain` writes them."""
    plain = _plain(code)
    if len(plain) >= CODE_RUN:
        yield from (plain[i : i + CODE_RUN] for i in range(len(plain) - CODE_RUN + 1))


def _plain(text: str) -> str:
    """Letters and digits only, case-folded: how a code or an ID is compared."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


def check_new_password(password: object, patron_id: str, name: str, code: str = "") -> None:
    """Refuse a password the patron may not choose; see the module for the rules.

    `patron_id` and `name` are the patron's as the directory keeps them, `code` the
    activation code the patron gave (already checked right) or "" when there is none.
    Blocking (zxcvbn): run it in an executor. The refusal never carries the password.
    """
    normal = check_length(password)
    folded = normal.casefold()
    patron_key = patron_id.casefold()
    if len(patron_key) >= MIN_PART_LENGTH and patron_key in folded:
        raise Refused(Reason.PASSWORD_CONTAINS_ID)
    parts = name_parts(name)
    if any(part in folded for part in parts):
        raise Refused(Reason.PASSWORD_CONTAINS_NAME)
    plain = _plain(normal)
    if any(run in plain for run in _code_runs(code)):
        raise Refused(Reason.PASSWORD_CONTAINS_CODE)
    if folded in _COMMON:
        raise Refused(Reason.PASSWORD_TOO_COMMON)
    if _score(normal, [patron_id, name, *sorted(parts)]) == 0:
        raise Refused(Reason.PASSWORD_TOO_GUESSABLE)


def _score(password: str, user_inputs: list[str]) -> int:
    """The score zxcvbn gives, 0 (under 10³ guesses) to 4 (10¹⁰ or more)."""
    with _ZXCVBN_LOCK:  # zxcvbn keeps the user inputs in a module-wide dictionary
        result: dict[str, Any] = zxcvbn(password, user_inputs=user_inputs)
    return int(result["score"])

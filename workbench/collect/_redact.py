"""Redact secrets from process command lines before they become label values.

Command lines are stored for as long as the store keeps data and shown in
dashboards, so anything that looks like a credential is replaced by ``***``:

- options named like a secret, as ``--password=x``, ``--password x`` or ``-token x``;
- ``key=value`` pairs whose key names a secret (``token=x``, ``api_key=x``,
  ``AWS_SECRET_ACCESS_KEY=x``, ``?access_token=x&...`` in URLs);
- credentials in URLs (``postgres://user:pass@host``);
- HTTP authorisation values (``Authorization: Bearer x``, ``Basic x``).

Redaction happens on the argument list *before* truncation, so a cut can never
leave half a secret behind. It is a best effort over common conventions, not a
guarantee: a secret passed positionally (``mysql -pSECRET``) cannot be told apart
from any other argument.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["redact_cmdline", "MASK"]

MASK = "***"

# Words that make an option or key name a secret's name.
_SECRET_WORD = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|auth[_-]?key|credentials?|session[_-]?id|cookie)"
)
_NAME = rf"[A-Za-z0-9_.-]*{_SECRET_WORD}[A-Za-z0-9_.-]*"
# A bare option that takes the secret as the next argument: --password, -token, --pass.
_FLAG = re.compile(rf"^-{{1,2}}(?:{_NAME}|pass|auth)$", re.IGNORECASE)
# key=value anywhere in an argument (also --key=value and URL query strings).
_PAIR = re.compile(rf"((?:^|[\s?&;,:-]){_NAME}|^-{{1,2}}(?:pass|auth))=[^\s&;,]*", re.IGNORECASE)
# scheme://user:password@host
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s/]+@")
# Authorization: Bearer <token> / Basic <base64>
_AUTH_SCHEME = re.compile(r"\b(bearer|basic|token)(\s+)[^\s\"']+", re.IGNORECASE)
# Header-style "X-Api-Key: value" / "Cookie: value" in one argument (curl -H).
_HEADER = re.compile(rf"^({_NAME}):(\s*)\S.*$", re.IGNORECASE)
# Slack beyond max_chars kept when clipping long arguments before redaction, so a
# pattern that starts inside the shown text still sees its end (the "@" of a URL).
_CLIP_SLACK = 1024


def _redact_arg(arg: str) -> str:
    arg = _HEADER.sub(rf"\1:\2{MASK}", arg)
    arg = _PAIR.sub(lambda m: f"{m.group(1)}={MASK}", arg)
    arg = _URL_CREDENTIALS.sub(rf"\1:{MASK}@", arg)
    return _AUTH_SCHEME.sub(rf"\1\2{MASK}", arg)


@lru_cache(maxsize=2048)
def _redact(argv: tuple[str, ...], max_chars: int) -> str:
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        if _FLAG.match(arg):
            hide_next = True
            out.append(arg)
            continue
        out.append(_redact_arg(arg))
    text = " ".join(out)
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)] + "…"
    return text


def redact_cmdline(argv: Sequence[str] | str, max_chars: int = 120) -> str:
    """Join ``argv`` with spaces, secrets replaced by ``***``, cut to ``max_chars``.

    >>> redact_cmdline(["psql", "--password=hunter2", "postgres://bob:pw@db/x"])
    'psql --password=*** postgres://bob:***@db/x'
    """
    if isinstance(argv, str):
        argv = argv.split()
    # Only the head of the command line can be shown; keep the cache key (and the
    # regex work) small even for 100 kB Java class paths.
    limit = int(max_chars)
    head: list[str] = []
    used = 0
    for arg in argv:
        head.append(arg[: limit + _CLIP_SLACK])
        used += len(arg) + 1
        if used > limit + 1:
            break
    if len(head) < len(argv):
        head.append(argv[len(head)][: limit + _CLIP_SLACK])  # a flag's value, if any
    return _redact(tuple(head), limit)

"""Redact secrets: one set of rules for everything Workbench prints, logs or stores.

Used by ``workbench config`` (:func:`redact` over the configuration), by the
process collector (:func:`redact_cmdline` before a command line becomes a label
value) and by the notifiers (:func:`redact_url` in log lines and errors). Having
one module means one answer to "is this a secret?" everywhere:

- a key or option named like a secret (:func:`is_secret_key`: ``password``,
  ``token``, ``api_key``, ``client_secret``, ``session_id``, ``cookie``, ...;
  a name ending in ``_env`` names an environment variable and is no secret);
- ``key=value`` pairs whose key names a secret (``token=x``, ``AWS_SECRET_ACCESS_KEY=x``);
- in a URL: the password of ``user:password@`` (a lone user name, often a
  token as in ``https://ghp_x@github.com``, is masked whole) and *every* value
  of the query string and the fragment, whatever its name (``?sig=`` of an
  Azure SAS, ``?X-Amz-Signature=``, Slack's ``?token=``); the names stay so a
  reader can tell which URL it was;
- HTTP authorisation values (``Authorization: Bearer x``, ``Basic x``) and
  header-style ``X-Api-Key: x``.

Each is replaced by ``***``. This is a best effort over common conventions, not
a guarantee: a secret in a URL's *path* (Slack's ``/services/T/B/XXXX``) looks
like any path, which is why such a URL belongs in the environment (a webhook's
``url_env``) and its log lines show only the scheme and host
(``redact_url(url, path=False)``). A secret passed positionally
(``mysql -pSECRET``) cannot be told apart from any other argument.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = ["MASK", "is_secret_key", "redact", "redact_text", "redact_url", "redact_cmdline"]

MASK = "***"

# Words that make an option or key name a secret's name.
_SECRET_WORD = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|auth[_-]?key|credentials?|session[_-]?id|cookie)"
)
_SECRET_WORD_RE = re.compile(_SECRET_WORD, re.IGNORECASE)
_NAME = rf"[A-Za-z0-9_.-]*{_SECRET_WORD}[A-Za-z0-9_.-]*"
# A bare option that takes the secret as the next argument: --password, -token, --pass.
_FLAG = re.compile(rf"^-{{1,2}}(?:{_NAME}|pass|auth)$", re.IGNORECASE)
# key=value anywhere in a text (also --key=value).
_PAIR = re.compile(rf"((?:^|[\s?&;,:-]){_NAME}|^-{{1,2}}(?:pass|auth))=[^\s&;,]*", re.IGNORECASE)
# scheme://anything up to whitespace or a quote.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# Punctuation that ends a sentence rather than a URL ("see https://h/x?k=v.").
_URL_TAIL = ".,;:!?)]}"
# Authorization: Bearer <token> / Basic <base64>
_AUTH_SCHEME = re.compile(r"\b(bearer|basic|token)(\s+)[^\s\"']+", re.IGNORECASE)
# Header-style "X-Api-Key: value" / "Cookie: value" at the start of a line (curl -H).
_HEADER = re.compile(rf"^({_NAME}):(\s*)\S.*$", re.IGNORECASE | re.MULTILINE)
# Slack beyond max_chars kept when clipping long arguments before redaction, so a
# pattern that starts inside the shown text still sees its end (the "@" of a URL).
_CLIP_SLACK = 1024


def is_secret_key(key: Any) -> bool:
    """True when ``key`` names a secret (``smtp_password``); ``*_env`` names a variable."""
    k = str(key)
    return not k.lower().endswith("_env") and _SECRET_WORD_RE.search(k) is not None


def _mask_pairs(text: str) -> str:
    """``a=1&b=2`` -> ``a=***&b=***``; a part without ``=`` is masked whole."""
    return "&".join(
        "" if not part else (part.split("=", 1)[0] + "=" + MASK if "=" in part else MASK)
        for part in text.split("&")
    )


def redact_url(url: str, *, path: bool = True) -> str:
    """``url`` with its password, query values and fragment masked.

    With ``path=False`` only the scheme, host and port are kept (``https://h/…``):
    the form for a URL that is itself the secret.

    >>> redact_url("https://bob:pw@hooks.example/a?token=t0k&page=2")
    'https://bob:***@hooks.example/a?token=***&page=***'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK if url else url
    # Split by hand rather than with urllib: a malformed port or IPv6 literal must
    # not turn into an exception (or the raw URL) in a log line.
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    if not path:
        return f"{scheme}://{hostport}" + ("/…" if tail.strip("/") else "")
    tail, hash_, fragment = tail.partition("#")
    tail, qmark, query = tail.partition("?")
    out = f"{scheme}://{netloc}{tail}"
    if qmark:
        out += "?" + _mask_pairs(query)
    if hash_:
        out += "#" + _mask_pairs(fragment)
    return out


def _redact_url_match(m: re.Match) -> str:
    text = m.group(0)
    stripped = text.rstrip(_URL_TAIL)
    return redact_url(stripped) + text[len(stripped):]


def redact_text(text: str) -> str:
    """``text`` with every URL, secret ``key=value``, header and bearer value masked."""
    text = _URL.sub(_redact_url_match, text)
    text = _HEADER.sub(rf"\1:\2{MASK}", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _AUTH_SCHEME.sub(rf"\1\2{MASK}", text)


def redact(data: Any) -> Any:
    """A copy of ``data`` (dicts, lists, strings) with anything secret-looking masked.

    The value of a secret-looking key is replaced whole; every string is passed
    through :func:`redact_text`.
    """
    if isinstance(data, dict):
        return {k: (MASK if is_secret_key(k) else redact(v)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact(v) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


@lru_cache(maxsize=2048)
def _redact_argv(argv: tuple[str, ...], max_chars: int) -> str:
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
        out.append(redact_text(arg))
    text = " ".join(out)
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)] + "…"
    return text


def redact_cmdline(argv: Sequence[str] | str, max_chars: int = 120) -> str:
    """Join ``argv`` with spaces, secrets replaced by ``***``, cut to ``max_chars``.

    Redaction happens on the argument list *before* truncation, so a cut can never
    leave half a secret behind; an option such as ``--password`` hides the next
    argument.

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
    return _redact_argv(tuple(head), limit)

"""What fxticker is given from outside (settings, arguments, request parameters, remote answers), read
by the rules every layer shares: how a piece of it is quoted back in a message, an error's first line,
what an http(s) URL is, what a source is, and a URL with its credentials taken out.

Nothing here imports another fxticker module: it is the floor every layer stands on.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

# Quoted as typed only when every character is one of these: nothing a terminal, a page or a log reader
# would act on (no markup, quotes, control or bidi characters).
_PLAIN = re.compile(r"[A-Za-z0-9_.,:;/?&!*+=@~%()# -]+", re.ASCII)
SHOWN_CHARS = 40
# The largest page read when nothing else is said: the parser's default and FXTICKER_MAX_PAGE_BYTES's.
MAX_PAGE_BYTES = 32 * 1024 * 1024


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """A piece of input quoted for a message: 'as typed' when it is plain, else with every other
    character escaped (\\xNN, \\uNNNN), a space too at either end (where it could not be seen); cut at
    `limit` characters either way, so a message stays one short line and never carries what a reader's
    screen would act on."""
    cut = text if len(text) <= limit else text[:limit]
    # The ends of the text, not of the cut: a space where the cut falls is inside the text.
    inner = len(text) - len(text.lstrip()), len(text.rstrip())
    if not _PLAIN.fullmatch(cut) or inner != (0, len(text)):
        cut = "".join(c if _PLAIN.fullmatch(c) and (c != " " or inner[0] <= i < inner[1]) else _escape(c)
                      for i, c in enumerate(cut))
    return f"'{cut}'" + ("..." if len(text) > limit else "")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def first_line(exc: BaseException) -> str:
    """An error's first line, for a one-line report; its class name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def display(name: str) -> str:
    """A file name fit for messages and the database: bytes that are not UTF-8 (os.fsdecode's surrogates,
    which cannot be encoded and so would stop a whole run) kept as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# ---- URLs ----------------------------------------------------------------------------------------------

URL_SCHEMES = ("http", "https")
# RFC 3986's scheme: a letter, then letters, digits, "+", "-" or ".", then ":". Two letters at least, so
# that nothing shorter than "ab:" is taken for one (a Windows drive letter, say).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def is_url(text: str) -> bool:
    """Whether the text claims to be an http(s) URL (what is checked by http_url): a source that is not a
    file path."""
    return text.lower().startswith(tuple(f"{scheme}://" for scheme in URL_SCHEMES))


_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def http_url(text: str) -> SplitResult:
    """The parts of an http(s) URL with a host; ValueError with the reason for anything else."""
    if _BLANK_OR_CONTROL.search(text):
        raise ValueError("not an http(s) URL (it holds a space or a control character)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (a port out of range raises here)
    except ValueError:  # an unclosed [ (IPv6), a bad port
        raise ValueError("not an http(s) URL with a valid host and port") from None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    return parts


def origin(text: str) -> str:
    """An http(s) origin (scheme, host, port; no path, query or credentials), without a trailing slash."""
    text = text.strip().rstrip("/")
    parts = http_url(text)
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("not an origin such as https://host:port")
    return text


# An http(s) URL's user information: everything from "//" to the last "@" before the path. Read by a
# pattern rather than urlsplit, which refuses some URLs (an unclosed IPv6 bracket) that still carry a
# password to take out, and so that a comma-separated list of URLs loses every one.
_CREDENTIALS = re.compile(r"\b(https?://)[^/?#\s,]*@", re.IGNORECASE)


def without_credentials(url: str) -> str:
    """The URL (or a list of URLs, as in FXTICKER_SOURCES) with any user name and password taken out:
    what may be stored, printed or served."""
    return _CREDENTIALS.sub(r"\1", url)


def source(text: str) -> str:
    """A source as given when it is an http(s) URL or a file path; ValueError naming it for anything else.

    Every way in (FXTICKER_SOURCES, the command line) comes through here, so `file://`, `ftp://` or
    `javascript:` is refused with one reason instead of being read as a file of that name.
    """
    if not text:
        raise ValueError("an empty source: give an http(s) URL or a file path")
    name = display(text)
    if is_url(text):
        try:
            host = urlsplit(text).hostname
        except ValueError:  # an unclosed [ (IPv6)
            host = None
        if not host:
            raise ValueError(f"{name} is neither an http(s) URL nor a file path (no host name)")
        return text  # any other fault (a bad port) fails it alone when it is fetched (http_url)
    scheme = _SCHEME.match(text)
    if scheme:
        raise ValueError(f"{name} is neither an http(s) URL nor a file path (a {scheme[0]} URL; write "
                         f"./{name} for a file whose name has a colon)")
    return text

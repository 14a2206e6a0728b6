"""How records show themselves, without knowing the views.

`print(result)` and a notebook's `_repr_html_` ask this registry for the text or HTML view of the
record's type; `modelito.views` fills it when the package is imported. Records sit at the bottom
of the module graph and views at the top: the registry is what lets the bottom call the top
without importing it.

Views speak English or Spanish. `set_language("es")` makes `print` and notebooks show every record in
Spanish from then on (a display preference, like pandas' options; it changes no result); the
command line passes its `--lang` to `as_text` instead.
"""

from __future__ import annotations

from typing import Any, Callable

from .words import LANGS

View = Callable[..., str]  # (record, lang="en") -> str
_TEXT: dict[str, View] = {}
_HTML: dict[str, View] = {}
_LANGUAGE = {"display": "en"}


def set_language(lang: str) -> None:
    """Show records in "en" (the default) or "es" from now on, in `print()` and in notebooks.

    >>> modelito.set_language("es")  # doctest: +SKIP
    """
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r} is not a language of modelito's views: use one of {', '.join(LANGS)}.")
    _LANGUAGE["display"] = lang


def language() -> str:
    """The language records are shown in: "en" unless `set_language` said otherwise."""
    return _LANGUAGE["display"]


def register(type_name: str, *, text: View, html: View) -> None:
    """Say how records of the class named `type_name` print (text) and show in notebooks (HTML); both views
    take the record and `lang`."""
    _TEXT[type_name], _HTML[type_name] = text, html


def registered() -> set[str]:
    """Names of the classes that have both views."""
    return set(_TEXT) & set(_HTML)


def as_text(record: Any, lang: str | None = None) -> str:
    """The record as plain text, in `lang` ("en" or "es"; by default the one `set_language` chose)."""
    return _view(_TEXT, record)(record, lang=lang or language())


def as_html(record: Any, lang: str | None = None) -> str:
    """The record as a notebook's self-contained HTML, in `lang` ("en" or "es"; by default `language()`)."""
    return _view(_HTML, record)(record, lang=lang or language())


class Viewable:
    """A record that prints as plain text and shows as HTML in a notebook."""

    def __str__(self) -> str:
        return as_text(self)

    def _repr_html_(self) -> str:
        return as_html(self)


def _view(table: dict[str, View], record: Any) -> View:
    try:
        return table[type(record).__name__]
    except KeyError:
        raise TypeError(f"no view is registered for {type(record).__name__}: import modelito.views") from None

"""How records show themselves, without knowing the views.

`print(result)` and a notebook's `_repr_html_` ask this registry for the text or HTML view of the
record's type; `modelito.views` fills it when the package is imported. Records sit at the bottom
of the module graph and views at the top: the registry is what lets the bottom call the top
without importing it.
"""

from __future__ import annotations

from typing import Any, Callable

View = Callable[..., str]  # (record) -> str; text views also take lang="en"
_TEXT: dict[str, View] = {}
_HTML: dict[str, View] = {}


def register(type_name: str, *, text: View, html: View) -> None:
    """Say how records of the class named `type_name` print (text, given `lang`) and show in notebooks (HTML)."""
    _TEXT[type_name], _HTML[type_name] = text, html


def registered() -> set[str]:
    """Names of the classes that have both views."""
    return set(_TEXT) & set(_HTML)


def as_text(record: Any, lang: str = "en") -> str:
    """The record as plain text in "en" (what `print` shows) or "es" (what the command line shows in Spanish)."""
    return _view(_TEXT, record)(record, lang=lang)


class Viewable:
    """A record that prints as plain text and shows as HTML in a notebook."""

    def __str__(self) -> str:
        return as_text(self)

    def _repr_html_(self) -> str:
        return _view(_HTML, self)(self)


def _view(table: dict[str, View], record: Any) -> View:
    try:
        return table[type(record).__name__]
    except KeyError:
        raise TypeError(f"no view is registered for {type(record).__name__}: import modelito.views") from None

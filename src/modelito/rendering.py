"""How records show themselves, without knowing the views.

`print(result)` and a notebook's `_repr_html_` ask this registry for the text or HTML view of the
record's type; `modelito.views` fills it when the package is imported. Records sit at the bottom
of the module graph and views at the top: the registry is what lets the bottom call the top
without importing it.
"""

from __future__ import annotations

from typing import Any, Callable

View = Callable[[Any], str]
_TEXT: dict[str, View] = {}
_HTML: dict[str, View] = {}


def register(type_name: str, *, text: View, html: View) -> None:
    """Say how records of the class named `type_name` print (text) and show in notebooks (HTML)."""
    _TEXT[type_name], _HTML[type_name] = text, html


def registered() -> set[str]:
    """Names of the classes that have both views."""
    return set(_TEXT) & set(_HTML)


class Viewable:
    """A record that prints as plain text and shows as HTML in a notebook."""

    def __str__(self) -> str:
        return _view(_TEXT, self)

    def _repr_html_(self) -> str:
        return _view(_HTML, self)


def _view(table: dict[str, View], record: Any) -> str:
    try:
        view = table[type(record).__name__]
    except KeyError:
        raise TypeError(f"no view is registered for {type(record).__name__}: import modelito.views") from None
    return view(record)

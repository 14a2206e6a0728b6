"""Pictures of the playground for the docs: `python docs/make_screenshots.py` (needs Chromium).

Serves modelito-tiny-instruct on a free local port, drives Debian's Chromium with Playwright through
each view, and writes docs/img/*.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    from playwright.sync_api import sync_playwright

    import modelito
    from test_server import Server  # the tests' loopback server helper

    OUT.mkdir(parents=True, exist_ok=True)
    server = Server(modelito.load("modelito-tiny-instruct"), max_tokens_cap=64)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.goto(server.url + "/")
            page.wait_for_selector("#model:not(:empty)")
            page.fill("#input", "Hola modelito, hablas español?")
            page.click("#send")
            page.wait_for_function("document.querySelectorAll('#history .tok').length > 5 && "
                                   "!document.querySelector('#send').disabled", timeout=60000)
            page.wait_for_timeout(1500)
            page.locator("#history .tok").nth(1).click()
            page.wait_for_selector("#details table")
            page.screenshot(path=str(OUT / "chat.png"))
            for view, name, action in (
                ("params", "parameters", None),
                ("tokens", "tokenizer", lambda: page.wait_for_selector("#tokout .chip")),
                ("compare", "compare", lambda: (page.click("#cmprun"), page.wait_for_selector("#cmpout table",
                                                                                           timeout=60000))),
                ("beam", "beam", lambda: (page.click("#beamrun"), page.wait_for_selector("#beamout .msg",
                                                                                     timeout=60000))),
                ("classify", "classify", lambda: (page.click("#clsrun"), page.wait_for_selector("#clsout table",
                                                                                             timeout=60000))),
                ("card", "card", None),
            ):
                page.click(f"nav button[data-view={view}]")
                if action:
                    action()
                page.wait_for_timeout(500)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=view != "beam")
            browser.close()
    finally:
        server.stop()
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))}")


if __name__ == "__main__":
    main()

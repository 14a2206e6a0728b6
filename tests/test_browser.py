"""The playground in a real browser (Playwright driving Debian's Chromium): chat with streamed tokens
and their probabilities, alternatives, a branch, the language switch, a comparison, a beam search.
Screenshots of each view go to artifacts/screenshots/."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from conftest import REQUIRE, ROOT
from test_server import Server

CHROMIUM = os.environ.get("MODELITO_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright; skipped (failed in CI) where it is missing."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the test extras install playwright")
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@contextlib.contextmanager
def page_of(browser, lm, **options):
    """A fresh server for `lm` and a browser page on it."""
    server = Server(lm, **options)
    page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="en-US")
    try:
        page.goto(server.url + "/")
        page.wait_for_selector("#model:not(:empty)")
        yield page
    finally:
        page.close()
        server.stop()


@pytest.fixture(scope="module")
def page(browser, tiny_lm):
    with page_of(browser, tiny_lm, max_tokens_cap=64, name="tiny") as page:
        yield page


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_chat_streams_tokens_with_probabilities_and_alternatives(page):
    page.click("nav button[data-view=params]")
    page.fill("#p-max_new_tokens", "12")
    page.dispatch_event("#p-max_new_tokens", "change")
    page.fill("#p-min_new_tokens", "12")  # exactly 12 tokens, whatever the model
    page.dispatch_event("#p-min_new_tokens", "change")
    page.click("nav button[data-view=chat]")
    page.fill("#input", "Hola modelito, hablas español?")
    page.click("#send")
    page.wait_for_function("document.querySelectorAll('#history .tok').length >= 12", timeout=60000)
    tokens = page.locator("#history .tok")
    assert tokens.count() == 12
    assert "background" in (tokens.first.get_attribute("style") or "")  # coloured by probability
    tokens.nth(2).click()
    page.wait_for_selector("#details table")
    assert page.locator("#details .alt").count() >= 2
    header = page.inner_text("#details table tr")
    assert "model" in header
    shot(page, "chat")
    before = page.inner_text("#history .msg:last-child")
    # Branch on an alternative whose text reads as itself (a byte or control token shows escaped, \\u0000).
    alternatives = page.locator("#details .alt")
    for i in range(1, alternatives.count()):
        alternative = alternatives.nth(i)
        alt_text = alternative.locator("td").first.inner_text().strip('"')
        if alt_text.strip() and alt_text.isprintable() and "\\" not in alt_text:
            break
    alternative.click()  # branch: continue from the other token
    page.wait_for_function("document.querySelectorAll('#history .msg').length === 2 && "
                           "document.querySelector('#history .msg:last-child').innerText.length > 0", timeout=60000)
    page.wait_for_timeout(500)
    after = page.inner_text("#history .msg:last-child")
    assert after != before and alt_text.strip() in after
    shot(page, "branch")


def test_prompt_view_and_language_switch(page):
    page.locator("#history .tok").nth(1).click()  # a token's details are open when the language changes
    page.wait_for_selector("#details table")
    selected = page.locator("#history .tok").nth(1).inner_text()
    page.click("#showprompt")
    page.wait_for_selector("#prompttext:not([hidden])")
    assert "<|im_start|>user" in page.inner_text("#prompttext")
    page.select_option("#lang", "es")
    assert page.inner_text("nav button[data-view=params]") == "Parámetros"
    assert page.inner_text("#send") == "Enviar"
    details = page.inner_text("#details")  # drawn again in Spanish, not left in English
    assert "Pulsa una alternativa" in details and "Click an alternative" not in details
    marked = page.locator("#history .tok.sel")  # and the token it belongs to is still the marked one
    assert marked.count() == 1 and marked.inner_text() == selected
    shot(page, "spanish")
    page.select_option("#lang", "en")
    assert page.inner_text("#send") == "Send" and "Click an alternative" in page.inner_text("#details")


def test_tokenizer_view_live(page):
    page.click("nav button[data-view=tokens]")
    page.fill("#tokinput", "Hola modelito")
    page.wait_for_function("document.querySelector('#tokout').innerText.includes('tokens')", timeout=20000)
    assert page.locator("#tokout .chip").count() >= 2
    shot(page, "tokenizer")


def test_compare_view(page):
    page.click("nav button[data-view=compare]")
    page.click("#cmprun")
    page.wait_for_selector("#cmpout table", timeout=60000)
    assert page.locator("#cmpout .msg").count() == 3
    shot(page, "compare")


def test_beam_view_grows_the_tree(page):
    page.click("nav button[data-view=beam]")
    page.fill("#beamlen", "5")
    page.click("#beamrun")
    page.wait_for_function("document.querySelectorAll('#beamout .tree > li').length >= 2", timeout=60000)
    page.wait_for_selector("#beamout .msg", timeout=60000)
    assert page.locator("#beamout .kept").count() >= 2
    shot(page, "beam")


def test_classify_view(page):
    page.click("nav button[data-view=classify]")
    page.click("#clsrun")
    page.wait_for_selector("#clsout table", timeout=60000)
    assert "label scoring" in page.inner_text("#clsout") and page.locator("#clsout tr").count() == 3
    shot(page, "classify")


def test_parameters_and_card_views(page):
    page.click("nav button[data-view=params]")
    assert page.get_attribute("#p-temperature", "placeholder") == "0.7"  # the model's default, shown
    page.fill("#p-temperature", "0.2")
    page.dispatch_event("#p-temperature", "change")
    assert "chg" in page.get_attribute("#p-temperature >> xpath=..", "class")
    shot(page, "parameters")
    page.click("nav button[data-view=card]")
    assert "Qwen2ForCausalLM" in page.inner_text("#cardout") and "device cpu" in page.inner_text("#cardout")
    shot(page, "card")
    page.set_viewport_size({"width": 390, "height": 800})  # a phone
    page.click("nav button[data-view=chat]")
    shot(page, "phone")
    wide = page.evaluate("[...document.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), wide


def test_keyboard_reaches_the_tokens(page):
    page.set_viewport_size({"width": 1200, "height": 900})
    page.click("nav button[data-view=chat]")
    page.focus("#history .tok >> nth=0")
    page.keyboard.press("Enter")
    page.wait_for_selector("#details table")
    assert page.locator("#details .alt").count() >= 1


def test_a_new_parameter_appears_on_the_page(browser, extended, tiny_lm):
    """Declared once in params.py (see the `extended` fixture), it gets a control with its explanation."""
    with page_of(browser, tiny_lm, max_tokens_cap=8) as page:
        page.click("nav button[data-view=params]")
        page.wait_for_selector("#p-frobnication")
        field = page.locator("#p-frobnication >> xpath=..")
        assert "How much to frobnicate" in field.inner_text()
        page.select_option("#lang", "es")
        assert "Cuánto frobnicar" in page.locator("#p-frobnication >> xpath=..").inner_text()


I18N = ROOT / "src" / "modelito" / "server" / "static" / "js" / "i18n.js"


def translations() -> dict[str, dict[str, str]]:
    """The page's two tables, read from i18n.js."""
    import re

    source = I18N.read_text(encoding="utf-8")
    en, es = source.split("\n  en: {")[1].split("\n  es: {")
    pair = re.compile(r'(?:(\w+)|"([^"]+)"): "((?:[^"\\]|\\.)*)"')
    return {lang: {m.group(1) or m.group(2): m.group(3) for m in pair.finditer(block.split("\n  },")[0])}
            for lang, block in (("en", en), ("es", es))}


def test_every_page_string_exists_in_both_languages():
    import re

    table = translations()
    assert table["en"] and set(table["en"]) == set(table["es"])
    static = I18N.parent.parent
    used = set(re.findall(r'data-i(?:-label|-placeholder)?="(\w+)"', (static / "index.html").read_text(encoding="utf-8")))
    for script in (static / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("(\w+)"\)', script.read_text(encoding="utf-8")))
    # Keys built at run time: the parameter groups, the sources of defaults, the classifier kinds, beam statuses.
    from modelito.params import GROUPS

    used |= {f"group_{g}" for g in GROUPS} | {f"src_{s}" for s in ("user", "model", "transformers default",
                                                                   "default", "server", "engine")}
    used |= {f"lp_{kind}" for kind in ("raw", "processed", "exact", "unknown")}
    used |= {"by_llm", "by_classifier", "kept", "pruned", "finished", "ended"}
    assert used <= set(table["en"]), used - set(table["en"])


def test_the_page_in_spanish_has_no_english_left(page):
    """Every view, with its results, rendered in Spanish: no English string of the page remains."""
    page.set_viewport_size({"width": 1200, "height": 900})
    page.select_option("#lang", "es")
    texts = []
    page.click("nav button[data-view=chat]")
    page.fill("#input", "Hola")
    page.click("#send")
    page.wait_for_function("document.querySelector('#history .msg:last-child') && "
                           "document.querySelectorAll('#history .msg').length >= 2", timeout=60000)
    page.wait_for_timeout(300)
    page.locator("#history .tok").first.click()
    page.wait_for_selector("#details table")
    page.evaluate("document.querySelector('#prompttext').hidden = true")
    texts.append(page.inner_text("body"))
    for view, action, ready in (("params", None, "#paramgroups .field"), ("tokens", None, "#tokout table"),
                                ("compare", "#cmprun", "#cmpout table"), ("beam", "#beamrun", "#beamout .msg"),
                                ("classify", "#clsrun", "#clsout table"), ("card", None, "#cardout table")):
        page.click(f"nav button[data-view={view}]")
        if action:
            page.click(action)
        page.wait_for_selector(ready, timeout=60000)
        texts.append(page.inner_text("body"))
    # The whole document too (hidden views included), without the prompt the template wrote (the model's
    # own text, "<|im_start|>assistant") and the user's inputs.
    texts.append(page.evaluate("() => { const b = document.body.cloneNode(true); "
                               "b.querySelectorAll('#prompttext, textarea, input').forEach(e => e.remove()); "
                               "return b.textContent; }"))
    shot(page, "spanish-card")
    text = "\n".join(texts)
    table = translations()
    english = {k: v for k, v in table["en"].items() if v != table["es"][k] and len(v) >= 6}
    import re

    left = {k: re.findall(rf".{{0,40}}\b{re.escape(v.split('{')[0].strip())}\b.{{0,40}}", text)
            for k, v in english.items()}
    left = {k: found for k, found in left.items() if found}
    assert not left, left
    for doc in ("Keep only the k most likely tokens", "Stop after this many generated tokens"):
        assert doc not in text
    card = page.inner_text("#cardout")  # why the model runs so: the server's notes, in Spanish too
    assert "dispositivo cpu" in card and "tipo float32" in card and "device cpu" not in card
    page.select_option("#lang", "en")


def test_the_end_of_turn_shows_as_a_marker_not_as_text(browser):
    """A chat model's answer ends with its end-of-turn token: a marker with its probability, never '<|im_end|>'."""
    import modelito

    chat_model = modelito.load("modelito-tiny-instruct", device="cpu")
    with page_of(browser, chat_model, max_tokens_cap=64) as page:
        page.fill("#input", "Hola modelito, hablas español?")
        page.click("#send")
        page.wait_for_selector("#history .tok.end", timeout=60000)
        marker = page.inner_text("#history .tok.end")
        assert marker.startswith("⏎ end ") and marker.endswith("%")
        assert "<|im_end|>" not in page.inner_text("#history")
        page.click("#history .tok.end")
        page.wait_for_selector("#details table")
        shot(page, "end-of-turn")


def test_the_inside_view_and_a_tokens_lens_and_attribution(page, tiny_lm):
    page.set_viewport_size({"width": 1200, "height": 900})
    page.select_option("#lang", "en")
    page.click("nav button[data-view=inside]")
    page.click("#lensrun")
    page.wait_for_selector("#insideout table.grid-lens")
    layers = tiny_lm.model.config.num_hidden_layers
    assert page.locator("#insideout table.grid-lens tr").count() == layers + 2  # a header, then every layer
    shot(page, "inside-lens")
    page.click("#attnrun")
    page.wait_for_selector("#insideout table.map")
    page.select_option("#attnhead", "1")
    page.wait_for_selector("#insideout table.map td")
    shot(page, "inside-attention")
    page.click("#attrrun")
    page.wait_for_selector("#insideout .tok")
    assert "target" in page.inner_text("#insideout")
    # In the chat: a generation with the live lens; a token's details show its lens column, then attribution.
    page.click("nav button[data-view=params]")
    page.select_option("#p-lens", "true")
    page.click("nav button[data-view=chat]")
    page.click("#clear")
    page.fill("#input", "Hola")
    page.click("#send")
    page.wait_for_function("document.querySelectorAll('#history .tok').length >= 3", timeout=60000)
    page.wait_for_timeout(500)
    page.locator("#history .tok").nth(1).click()
    page.wait_for_selector("#details table.grid-lens")
    assert "Logit lens at this step" in page.inner_text("#details")
    page.click("#whybtn")
    page.wait_for_selector("#whyout .tok", timeout=60000)
    shot(page, "chat-lens")
    page.click("nav button[data-view=params]")
    page.select_option("#p-lens", "")
    page.click("nav button[data-view=chat]")

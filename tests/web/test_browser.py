"""End-to-end tests of the chat and admin pages in headless Chromium against a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Locator, Page, Request, Response, Route, expect

if TYPE_CHECKING:
    from tests.web.conftest import PageErrors, Server

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT_MS = 60_000
JOB_TIMEOUT_MS = 180_000

Q_FORUM = "Chi ha organizzato il Forum Digitale 2024 a Bologna?"
Q_FOLLOW_UP = "Quanti partecipanti ha riunito?"
Q_ROBOT = "Quale robot ha presentato il cluster della meccatronica a Imola?"
Q_UNANSWERABLE = "Chi ha vinto il campionato mondiale di calcio nel 1982?"
Q_UPLOADED = "Chi sarà la madrina del Salone della Nautica di Rimini?"


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in re.split(r"\r?\n\r?\n", body):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def sent_json(request: Request) -> dict[str, Any]:
    """The JSON body the page sent."""
    body = request.post_data_json
    assert isinstance(body, dict), body
    return body


def is_ask(response: Response) -> bool:
    return response.url.endswith("/api/ask") and response.request.method == "POST"


def ask(page: Page, question: str) -> dict[str, Any]:
    """Type `question`, send it, wait for the streamed answer; return the final Answer JSON."""
    before = page.locator(".answer").count()
    with page.expect_response(is_ask) as info:
        page.locator("#question").fill(question)
        page.locator("#ask").click()
    response = info.value
    assert response.status == 200, response.text()
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text())
    names = [name for name, _ in events]
    assert names[0] == "citations", names
    assert names.count("token") >= 2, f"answer not streamed in tokens: {names}"
    assert names[-1] == "done", names
    answer = page.locator(".answer").nth(before)
    expect(answer).to_have_attribute("data-status", "done", timeout=ANSWER_TIMEOUT_MS)
    final: dict[str, Any] = json.loads(events[-1][1])
    return final


def cited_titles(answer: dict[str, Any]) -> list[str]:
    return [c["title"] for c in answer["citations"]]


def squash(text: str) -> str:
    return " ".join(text.split())


def text_without_chips(answer: Locator) -> str:
    """The rendered answer text with the chip buttons taken out."""
    text = answer.locator(".answer-text").evaluate(
        "el => { const c = el.cloneNode(true);"
        " c.querySelectorAll('.chip').forEach(x => x.remove()); return c.textContent; }"
    )
    return squash(str(text))


def no_horizontal_scroll(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


# ---------- chat ----------


def test_streamed_answer_shows_text_and_citation_chips(
    page: Page, server: Server, artifacts: Path
) -> None:
    page.goto("/")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("header")).to_contain_text("ClusterChat")

    answer = ask(page, Q_FORUM)

    assert not answer["abstained"]
    assert any("Forum Digitale" in t for t in cited_titles(answer))
    shown = page.locator(".answer").last
    assert text_without_chips(shown) == squash(re.sub(r"\[\d+\]", "", answer["answer"]))
    chips = shown.locator("button.chip")
    expect(chips.first).to_be_visible()
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])}
    cited = {c["n"] for c in answer["citations"]}
    assert chips.count() == len(re.findall(r"\[(\d+)\]", answer["answer"]))
    assert {int(n) for n in chips.evaluate_all("cs => cs.map(c => c.dataset.n)")} == markers & cited
    expect(shown.locator(".sources li")).to_have_count(len(answer["citations"]))
    expect(page.locator("#empty")).to_be_hidden()
    expect(page.locator("#ask")).to_be_enabled()
    expect(page.locator("#stop")).to_be_hidden()
    page.screenshot(path=artifacts / "chat-answer.png")


def test_chip_opens_source_panel_with_highlighted_quote(
    page: Page, server: Server, artifacts: Path
) -> None:
    page.goto("/")
    answer = ask(page, Q_FORUM)
    chip = page.locator(".answer button.chip").first
    n = int(chip.get_attribute("data-n") or "0")
    citation = next(c for c in answer["citations"] if c["n"] == n)

    chip.focus()  # keyboard only: Enter on the chip opens the panel
    page.keyboard.press("Enter")

    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-testid=source-title]")).to_have_text(citation["title"])
    mark = panel.locator("mark")
    expect(mark).to_have_count(1)
    expect(mark).to_have_text(citation["quote"])
    expect(panel.locator("blockquote.passage")).to_contain_text(citation["quote"])
    if citation["url"]:
        expect(panel.locator("a[data-testid=source-url]")).to_have_attribute(
            "href", citation["url"]
        )
    if citation["highlight_start"] is not None:
        start = citation["highlight_start"] - citation["start"]
        span = citation["quote"][start : citation["highlight_end"] - citation["start"]]
        expect(mark.locator("strong")).to_have_text(span)
    if citation["date"]:
        expect(panel.locator("time")).to_have_attribute("datetime", citation["date"])
    page.screenshot(path=artifacts / "source-panel.png")

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('chip')")


def test_follow_up_sends_history_and_history_survives_reload(page: Page, server: Server) -> None:
    page.goto("/")
    first = ask(page, Q_FORUM)

    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as info:
        second = ask(page, Q_FOLLOW_UP)
    body = sent_json(info.value)
    assert body["question"] == Q_FOLLOW_UP
    assert body["stream"] is True
    assert body["history"] == [
        {"role": "user", "content": Q_FORUM},
        {"role": "assistant", "content": first["answer"]},
    ]
    assert second["answer"]
    expect(page.locator(".turn-user")).to_have_count(2)

    page.reload()
    expect(page.locator(".answer")).to_have_count(2)
    expect(page.locator(".turn-user").first).to_contain_text(Q_FORUM)
    expect(page.locator(".answer").first.locator("button.chip").first).to_be_visible()

    page.locator("#new-conversation").click()
    expect(page.locator(".answer")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    page.reload()
    expect(page.locator(".answer")).to_have_count(0)
    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as info:
        ask(page, Q_FORUM)
    assert sent_json(info.value)["history"] == []


def test_unanswerable_question_shows_abstention_with_suggestions(
    page: Page, server: Server, artifacts: Path
) -> None:
    page.goto("/")
    answer = ask(page, Q_UNANSWERABLE)

    assert answer["abstained"], answer["answer"]
    shown = page.locator(".answer").last
    expect(shown).to_have_class(re.compile(r"\babstained\b"))
    expect(shown.locator("[data-testid=abstained-label]")).to_have_text(
        "Nessuna risposta nelle fonti"
    )
    assert answer["suggestions"], "an abstention should suggest the closest articles"
    suggestions = shown.locator("[data-testid=suggestion]")
    expect(suggestions).to_have_count(len(answer["suggestions"]))
    expect(suggestions.first).to_contain_text(answer["suggestions"][0]["title"])
    page.screenshot(path=artifacts / "abstention.png", full_page=True)


def test_untrusted_article_text_is_rendered_inert(page: Page, server: Server) -> None:
    page.goto("/")
    answer = ask(page, Q_ROBOT)

    xss = [c for c in answer["citations"] if "<script>" in c["title"]]
    assert xss, f"the meccatronica article should be cited: {cited_titles(answer)}"
    shown = page.locator(".answer").last
    expect(shown.locator(".sources")).to_contain_text("<script>window.__xss=1</script>")
    shown.locator(f"button.chip[data-n='{xss[0]['n']}']").first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator("[data-testid=source-title]")).to_have_text(xss[0]["title"])
    expect(panel).to_contain_text('<img src=x onerror="window.__xss=2">')

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(".answer img, .answer script, #source-panel img").count() == 0
    assert page.locator("#source-panel script").count() == 0

    page.reload()  # rendered again from localStorage
    expect(page.locator(".answer .sources").last).to_contain_text("<script>")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(".answer img").count() == 0


def test_feedback_and_copy(page: Page, server: Server) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/")
    answer = ask(page, Q_FORUM)
    shown = page.locator(".answer").last

    with page.expect_response(lambda r: r.url.endswith("/api/feedback")) as info:
        shown.locator("[data-testid=rate-up]").click()
    assert info.value.status == 200
    assert info.value.json()["ok"] is True
    sent = info.value.request.post_data_json
    assert sent == {"question": Q_FORUM, "answer": answer["answer"], "rating": "up"}
    expect(page.locator(".answer").last.locator("[data-testid=rate-up]")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#announcer")).to_have_text("Grazie per il feedback.")

    page.locator(".answer").last.locator("[data-testid=copy]").click()
    expect(page.locator("#announcer")).to_have_text("Risposta copiata negli appunti.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(answer["answer"])
    assert answer["citations"][0]["title"] in copied


def test_stop_button_aborts_a_running_answer(
    page: Page, server: Server, page_errors: PageErrors
) -> None:
    page_errors.allow(r"/api/ask")  # the aborted request may be logged as failed
    page.route("**/api/ask", lambda _route: None)  # never answers: the stream is "in progress"
    page.goto("/")
    page.locator("#question").fill(Q_FORUM)
    page.locator("#question").press("Enter")
    stop = page.locator("#stop")
    expect(stop).to_be_visible()
    expect(page.locator("#ask")).to_be_disabled()
    stop.click()
    answer = page.locator(".answer").last
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer).to_contain_text("Risposta interrotta.")
    expect(stop).to_be_hidden()
    expect(page.locator("#ask")).to_be_enabled()


def test_friendly_error_states(page: Page, server: Server, page_errors: PageErrors) -> None:
    page_errors.allow(r"Failed to load resource")  # the failures below are on purpose

    def no_index(route: Route) -> None:
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"detail": "no index yet: run clusterchat ingest"}),
        )

    page.route("**/healthz", no_index)
    page.route("**/api/ask", no_index)
    page.goto("/")
    expect(page.locator("#status")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Non ci sono ancora documenti indicizzati")
    page.locator("#question").fill(Q_FORUM)
    page.locator("#ask").click()
    error = page.locator(".answer").last.locator("[data-testid=answer-error]")
    expect(error).to_contain_text("Nessun indice disponibile")

    page.unroute("**/healthz")
    page.unroute("**/api/ask")
    page.route("**/healthz", lambda route: route.abort("connectionrefused"))
    page.route("**/api/ask", lambda route: route.abort("connectionrefused"))
    page.reload()
    expect(page.locator("#status")).to_contain_text("Il server non risponde")
    page.locator("#question").fill(Q_FORUM)
    page.locator("#ask").click()
    expect(page.locator(".answer").last.locator("[data-testid=answer-error]")).to_contain_text(
        "Il server non risponde"
    )

    page.route(
        "**/api/ask",
        lambda route: route.fulfill(
            status=500, content_type="application/json", body='{"detail": "boom"}'
        ),
    )
    page.locator(".answer").last.locator("button.retry").click()
    expect(page.locator(".answer").last.locator("[data-testid=answer-error]")).to_contain_text(
        "500: boom"
    )
    expect(page.locator("#question")).to_be_visible()

    page.unroute("**/api/ask")
    page.locator(".answer").last.locator("button.retry").click()  # the real server answers
    expect(page.locator(".answer").last).to_have_attribute(
        "data-status", "done", timeout=ANSWER_TIMEOUT_MS
    )


def test_quote_offsets_count_code_points_and_unsafe_urls_are_not_links(
    page: Page, server: Server
) -> None:
    # Python offsets count code points: an emoji before the quote is one, not two, in JS.
    article = "Premessa 🎉 breve. Il premio è andato a Lattevivo di Reggio Emilia. Fine."
    quote = "Il premio è andato a Lattevivo di Reggio Emilia."
    start = article.index(quote)
    span = start + quote.index("Lattevivo")
    citation = {
        "n": 1, "article_id": "a", "chunk_id": "a:0", "title": "Premio",
        "url": "javascript:alert(1)", "date": None, "quote": quote,
        "start": start + 10, "end": start + 10 + len(quote),
        "highlight_start": span + 10, "highlight_end": span + 10 + len("Lattevivo"),
        "passage": article, "passage_start": 10,
    }  # fmt: skip
    answer = {
        "answer": "Il premio è andato a Lattevivo [1].", "abstained": False,
        "answerer": "extractive", "timings_ms": {}, "citations": [citation], "suggestions": [],
    }  # fmt: skip
    body = (
        f"event: citations\ndata: {json.dumps({'citations': [citation]})}\n\n"
        + "".join(f"event: token\ndata: {json.dumps({'text': w})}\n\n" for w in ["Il ", "premio"])
        + f"event: done\ndata: {json.dumps(answer)}\n\n"
    )
    page.route("**/api/ask", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=body))  # fmt: skip
    page.goto("/")
    page.locator("#question").fill("Chi ha vinto il premio?")
    page.locator("#ask").click()
    page.locator(".answer button.chip").first.click()
    panel = page.locator("#source-panel")
    expect(panel.locator("mark")).to_have_text(quote)
    expect(panel.locator("mark strong")).to_have_text("Lattevivo")
    assert panel.locator("a").count() == 0  # javascript: is never an href
    expect(panel).to_contain_text("Nessun link all'articolo originale.")
    expect(panel).to_contain_text("Data non indicata")


def test_examples_on_the_empty_page_are_clickable(page: Page, server: Server) -> None:
    page.goto("/")
    page.wait_for_load_state("networkidle")  # examples may come from /api/examples
    examples = page.locator("#examples button.example")
    if examples.count() == 0:
        pytest.skip("the server offered no example questions for this corpus")
    question = examples.first.inner_text()
    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as info:
        examples.first.click()
    assert sent_json(info.value)["question"] == question.strip()
    expect(page.locator(".turn-user").last).to_contain_text(question.strip())
    expect(page.locator(".answer").last).to_have_attribute(
        "data-status", re.compile("done"), timeout=ANSWER_TIMEOUT_MS
    )


def test_keyboard_only_use_with_visible_focus(page: Page, server: Server) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate_handle("document.activeElement")
    assert focused.evaluate("el => el.classList.contains('skip-link')")
    assert focused.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")  # skip link -> question box
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type(Q_FORUM)
    page.keyboard.press("Enter")
    expect(page.locator(".answer").last).to_have_attribute(
        "data-status", "done", timeout=ANSWER_TIMEOUT_MS
    )
    chip = page.locator(".answer button.chip").first
    for _ in range(40):  # Tab forward until the first chip has focus
        page.keyboard.press("Tab")
        if chip.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the citation chip is not reachable with Tab")
    assert chip.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.locator("#source-panel mark")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#source-panel")).to_be_hidden()


def test_language_switch_changes_ui_strings(page: Page, server: Server) -> None:
    page.goto("/")
    assert page.evaluate("document.documentElement.lang") == "it"
    expect(page.locator("#ask")).to_have_text("Chiedi")
    expect(page.locator("#new-conversation .label-long")).to_have_text("Nuova conversazione")
    expect(page.locator("#lang-toggle .label-long")).to_have_text("English")

    page.locator("#lang-toggle").click()

    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("#ask")).to_have_text("Ask")
    expect(page.locator("#new-conversation .label-long")).to_have_text("New conversation")
    expect(page.locator("#question")).to_have_attribute("placeholder", re.compile(r"^E\.g\."))
    expect(page.locator("#lang-toggle .label-long")).to_have_text("Italiano")
    expect(page.locator("#lang-toggle")).to_have_attribute("lang", "it")
    ask(page, Q_UNANSWERABLE)
    expect(page.locator("[data-testid=abstained-label]").last).to_have_text(
        "No answer in the sources"
    )

    page.reload()  # the choice is remembered
    expect(page.locator("#ask")).to_have_text("Ask")
    page.goto("/admin")
    expect(page.locator("label[for=token]")).to_have_text("Admin token")
    page.locator("#lang-toggle").click()
    expect(page.locator("label[for=token]")).to_have_text("Token di amministrazione")


def test_mobile_viewport_has_no_horizontal_scroll(
    mobile_page: Page, server: Server, artifacts: Path
) -> None:
    page = mobile_page
    page.goto("/")
    assert no_horizontal_scroll(page)
    ask(page, Q_ROBOT)  # long titles with markup-like text must wrap
    expect(page.locator(".answer button.chip").first).to_be_visible()
    assert no_horizontal_scroll(page)
    page.screenshot(path=artifacts / "mobile.png")

    page.locator(".answer button.chip").first.tap()
    expect(page.locator("#source-panel")).to_be_in_viewport()
    assert no_horizontal_scroll(page)
    page.locator("#source-close").tap()
    expect(page.locator("#source-panel")).to_be_hidden()

    page.goto("/admin")
    page.locator("#token").fill(server.admin_token)
    page.locator("#token-save").tap()
    expect(page.locator("#documents tr").first).to_be_visible()
    assert no_horizontal_scroll(page)


# ---------- admin ----------


def sign_in(page: Page, token: str) -> None:
    page.goto("/admin")
    expect(page.locator("#admin-tools")).to_be_hidden()
    page.locator("#token").fill(token)
    page.locator("#token").press("Enter")
    expect(page.locator("#admin-tools")).to_be_visible()


def test_admin_rejects_a_wrong_token(page: Page, server: Server, page_errors: PageErrors) -> None:
    page_errors.allow(r"status of 40[13]")  # the rejected request is logged by Chromium
    page.goto("/admin")
    page.locator("#token").fill("wrong-token")
    page.locator("#token-save").click()
    expect(page.locator("#auth-message")).to_contain_text("Token non valido")
    expect(page.locator("#admin-tools")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('clusterchat.adminToken')") is None


def test_admin_upload_reindex_and_new_article_is_answerable(
    page: Page, server: Server, artifacts: Path
) -> None:
    sign_in(page, server.admin_token)
    rows = page.locator("#documents tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#documents")).to_contain_text("<script>window.__xss=1</script>")
    assert page.locator("#documents img, #documents script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.reload()  # the token is kept for the tab
    expect(page.locator("#admin-tools")).to_be_visible()

    with page.expect_response(
        lambda r: r.url.endswith("/api/documents") and r.request.method == "POST"
    ) as info:
        page.locator("#upload-input").set_input_files(server.upload_file)
    result = info.value.json()
    assert result["added"] == 1, result
    expect(page.locator("#upload-message")).to_contain_text("Aggiunti 1")
    if result["job_id"]:
        job = page.locator(f"#job[data-job-id='{result['job_id']}']")
        expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(rows).to_have_count(5)
    expect(page.locator("#documents")).to_contain_text("Salone della Nautica di Rimini")

    polls: list[str] = []

    def on_response(response: Response) -> None:
        if "/api/jobs/" in response.url:
            polls.append(response.url)

    page.on("response", on_response)
    with page.expect_response(lambda r: r.url.endswith("/api/reindex")) as started:
        page.locator("#reindex").click()
    job_id = started.value.json()["job_id"]
    job = page.locator(f"#job[data-job-id='{job_id}']")
    expect(job).to_be_visible()
    expect(job).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    progress = page.locator("#progress")
    assert progress.evaluate("p => p.value === p.max && p.max > 0")
    assert any(url.endswith(f"/api/jobs/{job_id}") for url in polls), polls
    expect(page.locator("#job-status")).to_contain_text("Indice aggiornato")
    expect(page.locator("#reindex")).to_be_enabled()
    page.screenshot(path=artifacts / "admin.png", full_page=True)

    page.goto("/")
    answer = ask(page, Q_UPLOADED)
    assert not answer["abstained"], answer["answer"]
    assert "Salone della Nautica di Rimini" in cited_titles(answer)
    expect(page.locator(".answer").last.locator(".sources")).to_contain_text(
        "Salone della Nautica di Rimini"
    )


def test_admin_delete_asks_for_confirmation(page: Page, server: Server) -> None:
    sign_in(page, server.admin_token)
    rows = page.locator("#documents tr")
    expect(rows.first).to_be_visible()
    count = rows.count()
    target = page.locator("#documents tr", has_text="Salone della Nautica di Rimini")
    if target.count() == 0:
        target = rows.last
    title = target.locator("td.title").inner_text()

    page.once("dialog", lambda dialog: dialog.dismiss())
    target.locator("button.delete").click()
    expect(rows).to_have_count(count)  # dismissed: nothing deleted

    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_response(lambda r: r.request.method == "DELETE") as info:
        target.locator("button.delete").click()
    assert info.value.status == 200
    assert title in messages[0]
    expect(rows).to_have_count(count - 1)
    expect(page.locator("#documents")).not_to_contain_text(title)


def test_chat_asks_for_the_access_key_when_the_server_requires_one(
    keyed_page: Page, keyed_server: Server, page_errors: PageErrors
) -> None:
    page = keyed_page
    page_errors.allow(r"Failed to load resource")  # the 401 and 403 below are on purpose
    page.goto("/")
    form = page.locator("[data-testid=key-form]")
    expect(form).to_be_hidden()
    with page.expect_response(is_ask) as first:
        page.locator("#question").fill(Q_FORUM)
        page.locator("#ask").click()
    assert first.value.status == 401
    error = page.locator(".answer").last.locator("[data-testid=answer-error]")
    expect(error).to_contain_text("chiave di accesso")
    expect(form).to_be_visible()
    expect(page.locator("#api-key")).to_be_focused()

    with page.expect_response(is_ask) as wrong:
        page.locator("#api-key").fill("chiave-sbagliata")
        page.locator("[data-testid=key-save]").click()
    assert wrong.value.status == 403
    expect(page.locator("[data-testid=key-hint]")).to_contain_text("non è valida")
    expect(form).to_be_visible()

    with page.expect_response(is_ask) as right:
        page.locator("#api-key").fill(str(keyed_server.api_key))
        page.locator("[data-testid=key-save]").click()
    assert right.value.status == 200
    assert right.value.request.headers["authorization"] == f"Bearer {keyed_server.api_key}"
    expect(form).to_be_hidden()
    # The failed question itself is retried and answered: no need to ask it again.
    expect(page.locator(".answer")).to_have_count(1)
    expect(page.locator(".answer").last).to_have_attribute(
        "data-status", "done", timeout=ANSWER_TIMEOUT_MS
    )

    page.reload()  # the key is remembered
    answer = ask(page, Q_FOLLOW_UP)
    assert answer["answer"]
    expect(form).to_be_hidden()


# ---------- follow-ups and examples behind a key (issue #17, items 8 and 9) ----------


def test_follow_up_in_the_chat_answers_the_new_question(demo_page: Page) -> None:
    page = demo_page
    page.goto("/")
    panel = "Chi ha parlato al panel sul valore condiviso?"
    follow_up = "E quando si è svolta la conferenza?"
    first = ask(page, panel)
    assert "Bracci" in first["answer"]
    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as info:
        second = ask(page, follow_up)
    assert sent_json(info.value)["history"][0] == {"role": "user", "content": panel}
    assert "7 e 8 marzo" in second["citations"][0]["quote"]
    shown = page.locator(".answer").last
    expect(shown).to_contain_text("7 e 8 marzo")
    assert "7 e 8 marzo" in text_without_chips(shown)[:60]  # the date leads


def test_examples_wait_for_an_accepted_key(
    keyed_page: Page, keyed_server: Server, page_errors: PageErrors
) -> None:
    page = keyed_page
    page_errors.allow(r"Failed to load resource")  # the 401s below are on purpose
    with page.expect_response(lambda r: r.url.endswith("/api/examples")) as examples:
        page.goto("/")
    assert examples.value.status == 401
    expect(page.locator("#examples button.example")).to_have_count(0)
    expect(page.locator("#examples-block")).to_be_hidden()
    assert "Di cosa parla" not in page.content()  # no title in the page either

    with page.expect_response(is_ask) as refused:
        page.locator("#question").fill(Q_FORUM)
        page.locator("#ask").click()
    assert refused.value.status == 401
    with page.expect_response(lambda r: r.url.endswith("/api/examples")) as loaded:
        page.locator("#api-key").fill(str(keyed_server.api_key))
        page.locator("[data-testid=key-save]").click()
    assert loaded.value.status == 200
    expect(page.locator(".answer").last).to_have_attribute(
        "data-status", "done", timeout=ANSWER_TIMEOUT_MS
    )
    page.locator("#new-conversation").click()
    expect(page.locator("#examples-block")).to_be_visible()
    assert page.locator("#examples button.example").count() > 0

    page.reload()  # the remembered key brings them back at once
    expect(page.locator("#examples button.example").first).to_be_visible()


def test_a_very_long_earlier_answer_does_not_block_follow_ups(page: Page, server: Server) -> None:
    """Each earlier turn the page sends stays far below the server's per-turn limit."""
    long_answer = (
        "Il Forum Digitale 2024 è stato organizzato a Bologna. " * 400
    )  # 21,600 characters
    stored = [{"id": "lungo", "question": Q_FORUM, "text": long_answer, "status": "done"}]
    page.goto("/")
    page.evaluate("s => localStorage.setItem('clusterchat.conversation.v1', s)", json.dumps(stored))
    page.reload()
    with page.expect_request(lambda r: r.url.endswith("/api/ask")) as info:
        answer = ask(page, Q_FOLLOW_UP)
    history = sent_json(info.value)["history"]
    assert history[0] == {"role": "user", "content": Q_FORUM}
    assert long_answer.startswith(history[1]["content"])
    assert 0 < len(history[1]["content"]) <= 2000
    assert answer["answer"]


def test_a_who_answer_lists_the_people_with_their_quotes(demo_page: Page) -> None:
    page = demo_page
    page.goto("/")
    body = ask(page, "Chi ha parlato al primo panel del Forum Digitale Clust-ER 2024?")
    assert body["answerer"] == "facts"
    names = [p["name"] for p in body["people"]]
    assert {"Marco Ferretti", "Giulia Sartori"} <= set(names)
    people = page.locator(".answer").last.get_by_test_id("person")
    expect(people).to_have_count(len(names))
    first = people.first
    expect(first).to_contain_text(names[0])
    expect(first).to_contain_text("relatore")
    first.get_by_test_id("chip").click()
    quote = page.locator("#source-panel mark")
    expect(quote).to_contain_text(names[0].split()[-1])

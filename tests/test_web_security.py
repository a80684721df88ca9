"""`voc web` roles and CSRF (issue #17): the helpers every edit route uses (voc/web/security.py),
on a small app with the workbench's own middleware, and the bind rules for the editor token."""

from __future__ import annotations

import base64
import re

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from voc.errors import VocError
from voc.web.security import (
    CSRF_COOKIE,
    CsrfCookie,
    TokenAuth,
    check_bind,
    csrf_token,
    require_edit,
    role,
    who,
)

VIEW = "viewer-token-0123456789"
EDIT = "editor-token-0123456789"


def _app(token: str | None = None, editor_token: str | None = None) -> Starlette:
    done: list[str] = []

    async def page(request: Request) -> Response:
        return HTMLResponse(
            f'<form method="post" action="/edit"><input type="hidden" name="csrf" '
            f'value="{csrf_token(request)}"><p>{role(request)} {who(request)}</p></form>'
        )

    async def edit(request: Request) -> Response:
        form = await require_edit(request)
        done.append((form.get("label") or [""])[0])
        return PlainTextResponse(f"ok {who(request)}")

    middleware = []
    if token or editor_token:
        middleware.append(Middleware(TokenAuth, token=token, editor_token=editor_token))
    middleware.append(Middleware(CsrfCookie))
    app = Starlette(routes=[Route("/", page), Route("/edit", edit, methods=["POST"])], middleware=middleware)
    app.state.done = done
    return app


def _token(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m
    return m.group(1)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_local_user_is_editor_and_an_edit_needs_the_csrf_token() -> None:
    app = _app()
    c = TestClient(app)
    page = c.get("/")
    assert "editor local" in page.text
    assert CSRF_COOKIE in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
    assert "SameSite=Strict" in page.headers["set-cookie"]
    token = _token(page.text)
    assert c.post("/edit", data={"label": "x"}).status_code == 403  # no token
    assert c.post("/edit", data={"label": "x", "csrf": token[:-2] + "AA"}).status_code == 403  # forged
    assert c.post("/edit", data={"label": "x", "csrf": ""}).status_code == 403
    other = TestClient(app)  # another browser (its own cookie): the token is not its
    other.get("/")
    assert other.post("/edit", data={"label": "x", "csrf": token}).status_code == 403
    assert TestClient(app).post("/edit", data={"label": "x", "csrf": token}).status_code == 403  # no cookie
    assert app.state.done == []
    r = c.post("/edit", data={"label": "y", "csrf": token})
    assert r.status_code == 200 and r.text == "ok local" and app.state.done == ["y"]
    # the same page again keeps the cookie, and its token still works
    assert "set-cookie" not in c.get("/").headers and _token(c.get("/").text) == token
    # a JSON or multipart body, or none, is not an edit form: refused like a missing token
    assert c.post("/edit", json={"csrf": token}).status_code == 403
    assert c.post("/edit", files={"csrf": ("x", token.encode())}).status_code == 403
    assert c.post("/edit").status_code == 403


def test_a_new_process_key_invalidates_old_tokens() -> None:
    c1 = TestClient(_app())
    token = _token(c1.get("/").text)
    c2 = TestClient(_app(), cookies=dict(c1.cookies))
    assert c2.post("/edit", data={"csrf": token}).status_code == 403


def test_viewer_is_refused_and_editor_allowed_with_tokens() -> None:
    app = _app(VIEW, EDIT)
    c = TestClient(app)
    assert c.get("/").status_code == 401
    viewer = _basic("vera", VIEW)
    page = c.get("/", headers=viewer)
    assert "viewer viewer:vera" in page.text
    r = c.post("/edit", data={"csrf": _token(page.text)}, headers=viewer)
    assert r.status_code == 403 and "editor role" in r.text
    editor = _basic("alice", EDIT)
    page = c.get("/", headers=editor)
    assert "editor editor:alice" in page.text
    token = _token(page.text)
    assert (
        c.post("/edit", data={"csrf": token}, headers={"Authorization": f"Bearer {EDIT}"}).status_code == 403
    ), "the token is bound to the principal (editor:alice), not only the cookie"
    r = c.post("/edit", data={"csrf": token, "label": "z"}, headers=editor)
    assert r.status_code == 200 and r.text == "ok editor:alice" and app.state.done == ["z"]
    assert c.post("/edit", data={"csrf": token}).status_code == 401
    # only a viewer token: nobody edits
    only_view = TestClient(_app(VIEW))
    page = only_view.get("/", headers={"Authorization": f"Bearer {VIEW}"})
    assert (
        only_view.post(
            "/edit", data={"csrf": _token(page.text)}, headers={"Authorization": f"Bearer {VIEW}"}
        ).status_code
        == 403
    )


def test_bind_rules_with_an_editor_token() -> None:
    check_bind("0.0.0.0", None, EDIT)
    check_bind("0.0.0.0", VIEW, None)
    check_bind("127.0.0.1", None, None)
    with pytest.raises(VocError, match="refusing to serve"):
        check_bind("0.0.0.0", None, None)
    with pytest.raises(VocError, match="VOC_WEB_EDITOR_TOKEN is too short"):
        check_bind("127.0.0.1", VIEW, "short")
    with pytest.raises(VocError, match="must differ"):
        check_bind("0.0.0.0", EDIT, EDIT)

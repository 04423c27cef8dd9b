"""``GET /call`` (the browser call page) and ``GET /static/…`` (its built scripts and styles).

The page is server-rendered from a template with no inline script or style, so the page's CSP
(:data:`voxseal.signaling.headers.PAGE_POLICIES`) can forbid everything but the gateway's own
files. It needs no credential to load: the join token is pasted, or carried in the URL
*fragment* (``/call#token=…``), which browsers never send to a server — so tokens do not land
in access logs or ``Referer`` headers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from voxseal.errors import NotFound
from voxseal.web.assets import call_assets

router = APIRouter(tags=["web"])

_templates = Environment(
    loader=PackageLoader("voxseal.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def demo_enabled(request: Request) -> bool:
    """True only when ``voxseal demo`` installed its demo-call endpoint on this app."""
    return getattr(request.app.state, "demo_calls", None) is not None


@router.get("/call", response_class=HTMLResponse)
def call_page(request: Request) -> HTMLResponse:
    assets = call_assets()
    html = _templates.get_template("call.html").render(
        main=f"/static/{assets.main}",
        worker=f"/static/{assets.worker}",
        css=f"/static/{assets.css}",
        demo=demo_enabled(request),
    )
    return HTMLResponse(html)


@router.get("/static/call/{name}")
def static_file(name: str, request: Request) -> Response:
    asset = call_assets().files.get(f"call/{name}")
    if asset is None:
        raise NotFound("no such static file")
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers={"etag": asset.etag})
    return Response(asset.body, media_type=asset.content_type, headers={"etag": asset.etag})

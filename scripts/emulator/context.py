"""What a patch gets: the PatchContext (moto's app, extra routes, reset hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
Matcher = Callable[[dict], bool]


@dataclass
class PatchContext:
    """Handed to each patch before the server starts.

    * ``moto_app``: moto's DomainDispatcherApplication (e.g. to monkeypatch a
      backend class, or inspect ``moto_app.app_instances``).
    * ``add_route(matcher, app)``: serve requests for which ``matcher(environ)``
      is true with the WSGI ``app`` instead of moto. Matchers may use
      ``service_of(environ)`` / ``operation_of(environ)`` from ``emulator.calllog``. Every route is
      behind moto's IAM check (``patches/iam_routes.py``).
    * ``on_reset(hook)``: call ``hook()`` whenever moto is reset (``POST
      /moto-api/reset``), after moto's own backends are. Every patch that keeps
      state of its own (outside moto's backends) must register one that clears it.
    """

    moto_app: DomainDispatcherApplication
    routes: list = field(default_factory=list)
    reset_hooks: list = field(default_factory=list)

    def add_route(self, matcher: Matcher, app: WSGIApp) -> None:
        # Behind the IAM check moto makes of its own requests once enforcement is on.
        from .patches.iam_routes import checked

        self.routes.append((matcher, checked(app)))

    def on_reset(self, hook: Callable[[], None]) -> None:
        self.reset_hooks.append(hook)

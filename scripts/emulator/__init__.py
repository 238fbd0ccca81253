"""Project-owned launcher for the moto AWS emulator (moto[server]==5.2.5).

Usage:
    python scripts/emulator --host 127.0.0.1 --port N [--call-log FILE]
    (or, with scripts/ on sys.path: python -m emulator ...)

It builds moto's WSGI app exactly the way moto's own server does
(``moto/server.py`` and ``moto/moto_server/threaded_moto_server.py``:
``DomainDispatcherApplication(create_backend_app)`` served by werkzeug with
``MotoRequestHandler``), and wraps it in:

* an optional router of extra routes (see ``emulator.patches``), tried before
  moto, for APIs moto lacks (patches may also monkeypatch moto bugs);
* a call-log middleware that appends one JSON line per AWS request to
  ``--call-log FILE`` (or ``$HMS_EMULATOR_CALL_LOG``):
  ``{"t": <epoch seconds>, "service": "ec2", "operation": "DescribeVpcs"}``.

After the socket is listening it warms moto up with one request per service
the project uses (moto's first request per service takes ~2 s), then enables
the call log, and prints ``ready`` on stdout.

``POST /moto-api/reset`` resets moto and every store the patches keep
(``PatchContext.on_reset``).

Normally started through ``scripts/emulator.sh start``.

Layout:
    __main__.py   entry point (``python scripts/emulator``)
    server.py     build_app, Router, the reset hook, warm-up, main
    calllog.py    request classification (service_of, operation_of, ...) and the call log
    context.py    PatchContext, handed to each patch
    patches/      one module per moto gap; patches/__init__.py holds the ordered PATCHES list
"""

import os

# Must be set before moto is imported: moto reads its settings at import time.
# (Every module of the package is imported after this one.)
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

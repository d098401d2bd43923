"""The ASGI app behind ``aelab serve``: :func:`aelab.web.app.create_app`."""

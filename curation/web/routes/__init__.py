"""The routers of the curation web app, one per area (included in this order by
:func:`curation.web.app.create_app`)."""

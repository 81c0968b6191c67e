"""The curation web app (FastAPI + server-rendered Jinja templates, a little JavaScript).

Pages: the grid (filters, search box, infinite scroll), an artwork's detail (recipe, features,
family, "more like this", rating, tags, variations), the map, sets and the set builder.

- :mod:`curation.web.app`: ``create_app``, the factory (state, middleware, error pages, routers);
- :mod:`curation.web.security`: every safety check (Host, token, Origin, CSRF, limits, headers);
- :mod:`curation.web.deps`: what routes depend on (the app's state, a POST's checked form);
- :mod:`curation.web.params`: request fields to values; :mod:`curation.web.pages`: templates and
  error pages; :mod:`curation.web.cards`: artworks as grid cards;
- :mod:`curation.web.routes`: one router per area (search, artworks, generation, files, maps, sets).

Routes stay thin: changes to the catalogue go through :mod:`curation.works` and :mod:`curation.sets`,
runs are queued through :mod:`curation.generate`.
"""

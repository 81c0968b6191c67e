"""The catalogue: SQLAlchemy models, the content-addressed media store, migrations and queries."""

from catalogue.api import Catalogue, VerifyReport, feature_vector, open_catalogue
from catalogue.drafts import ArtworkDraft, MediaDraft
from catalogue.store import MediaStore

__all__ = ["ArtworkDraft", "Catalogue", "MediaDraft", "MediaStore", "VerifyReport", "feature_vector",
           "open_catalogue"]

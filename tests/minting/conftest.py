"""Fixtures of the minting tests: an in-process chain, a funded key, a mint context."""

from __future__ import annotations

import pytest

from tests.minting.helpers import funded_key


@pytest.fixture
def w3():
    from minting.chain import in_process_web3

    return in_process_web3()


@pytest.fixture
def key(w3) -> str:
    return funded_key(w3)


@pytest.fixture
def mint_settings(settings):
    return settings.model_copy(update={"minting": settings.minting.model_copy(update={"batch_size": 4})})


@pytest.fixture
def mc(mint_settings, catalogue, w3, key):
    from minting.flow import open_context

    return open_context(mint_settings, catalogue, w3=w3, environ={"GALLERY_MINT_KEY": key})

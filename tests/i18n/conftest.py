import pytest

from scripts.compile_messages import compile_messages


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """The .mo files are build output (`make messages`); compile them here too so these tests run on their own."""
    compile_messages()

"""Property-based tests (hypothesis) of the sweep YAML parser: any document is a sweep or one line naming the file."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinvae.sweeps.config import load_sweep
from spinvae.sweeps.space import SweepConfigError
from tests.sweeps.conftest import SMOKE_SWEEP

values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                      max_leaves=15)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(path) -> None:
    try:
        load_sweep(path)
    except SweepConfigError as err:
        assert "\n" not in str(err) and str(err).startswith(str(path)), str(err)


@FAST
@given(st.text(max_size=200))
def test_any_text_is_a_sweep_or_one_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("sweep") / "s.yaml"
    path.write_text(text)
    _load(path)


@FAST
@given(st.sampled_from(sorted(yaml.safe_load(SMOKE_SWEEP.read_text()))), values)
def test_the_smoke_sweep_with_one_key_changed_is_a_sweep_or_one_line(tmp_path_factory, key, value):
    sweep = yaml.safe_load(SMOKE_SWEEP.read_text())
    sweep[key] = value
    path = tmp_path_factory.mktemp("sweep") / "s.yaml"
    path.write_text(yaml.safe_dump(sweep))
    _load(path)

import pytest

from mgw.config import InvalidConfigError, load_params, mode_params, set_nested


def test_defaults_load_and_mode_preset_fills_deployment():
    p = load_params(environ={})
    assert p.mode == "development" and p.deployment.mockData is True and p.deployment.selfHealing is False
    assert p.index.M == 32 and p.index.efConstruction == 200 and p.index.efSearch == 100
    assert p.gnn.heads == 8 and p.cache.L1.maxSize == 100 and p.cache.L2.maxSize == 10_000


@pytest.mark.parametrize("mode,replication,heal", [("development", 1, False), ("staging", 2, True),
                                                   ("production", 3, True)])
def test_each_mode_preset_is_valid(mode, replication, heal):
    p = load_params(overrides={"mode": mode}, environ={})
    assert p.deployment.replication == replication and p.deployment.selfHealing is heal
    assert mode_params(mode).replication == replication


def test_env_overrides_are_typed_and_case_insensitive():
    p = load_params(environ={"MGW_INDEX__M": "48", "MGW_INDEX__EFSEARCH": "64", "MGW_CACHE__L2__URL": "redis://x"})
    assert p.index.M == 48 and p.index.efSearch == 64 and p.cache.L2.url == "redis://x"


def test_every_problem_is_listed_in_one_message():
    with pytest.raises(InvalidConfigError) as e:
        load_params(overrides={"index": {"M": 1, "bogus": 3, "metric": "hamming"}, "gnn": {"heads": "x"},
                               "nosuchsection": {}}, environ={})
    msg = str(e.value)
    assert msg.startswith("Invalid config: ")
    for part in ("index.M", "index.bogus", "index.metric", "gnn.heads", "nosuchsection"):
        assert part in msg


def test_unknown_mode_and_bad_yaml(tmp_path):
    with pytest.raises(InvalidConfigError, match="mode"):
        mode_params("chaos")
    bad = tmp_path / "p.yaml"
    bad.write_text("index: [unclosed")
    with pytest.raises(InvalidConfigError, match="not valid YAML"):
        load_params(bad, environ={})


def test_set_nested_changes_one_key(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("index:\n  M: 32\n  efSearch: 100\nseed: 1\n")
    set_nested(f, "index.M", 48)
    p = load_params(f, environ={})
    assert p.index.M == 48 and p.index.efSearch == 100 and p.seed == 1

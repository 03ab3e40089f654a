"""The hostile-input harness (fuzz.py) at its full size: nothing unclear, nothing wrong, nothing hangs."""

import fuzz
import pytest


@pytest.mark.parametrize("seed", [0, 1])
def test_hostile_api_calls_model_files_and_cli_runs_fail_clearly(seed):
    fuzz.FAILURES.clear()
    results = fuzz.run(api=3000, files=2000, cli=300, seed=seed)
    assert {name: sum(c.values()) for name, c in results.items()} == {"api": 3000, "files": 2000, "cli": 300}
    for counts in results.values():
        assert counts["unclear"] == counts["wrong"] == counts["hang"] == 0, fuzz.FAILURES[:10]
        assert counts["clear"] > 0.8 * sum(counts.values())

"""bngan makes OpenMP wait passively unless the user chose otherwise, and every run records the
policy it trained under (spinning threads on shared cores were 10-20 times slower)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, os{first}; import bngan; from bngan.devices import versions; "
         "print(json.dumps([os.environ.get('OMP_WAIT_POLICY'), versions()['omp_wait_policy']]))")


def policy(env_value: str | None, *, torch_first: bool = False) -> list:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    code = PROBE.format(first=", torch" if torch_first else "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_passive_is_the_default_and_a_users_choice_is_kept():
    assert policy(None) == ["PASSIVE", "PASSIVE"]
    assert policy("ACTIVE") == ["ACTIVE", "ACTIVE"]


@pytest.mark.slow
def test_torch_loaded_first_is_recorded_instead_of_a_policy_that_did_not_apply():
    env_value, recorded = policy(None, torch_first=True)
    assert env_value is None and recorded == "runtime default (torch was imported before bngan)"


def test_the_test_session_itself_waits_passively():
    """tests/conftest.py loads torch before any test imports bngan, so the root conftest.py sets
    the policy bngan would have set: with spinning threads the two-thread classifier test took
    503 s instead of 113 s on 2 shared cores (issue 48)."""
    import bngan

    assert not bngan.OMP_WAIT_POLICY.startswith("runtime default"), bngan.OMP_WAIT_POLICY

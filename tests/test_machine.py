"""What a report records of where it ran: the CPU's flags, the git revision, the resolved settings."""

import re

from rag.machine import FLAGS, cpu, provenance, revision


def test_cpu_names_the_model_and_only_the_flags_that_matter():
    text = cpu()
    flags = set(text.rsplit("(", 1)[-1].rstrip(")").split())
    assert flags <= set(FLAGS) and text.strip()


def test_revision_is_the_checkouts_commit(tmp_path):
    assert re.fullmatch(r"[0-9a-f]{7,}(\+dirty)?", revision())
    assert revision(tmp_path) == "unknown"  # not a git checkout


def test_provenance_carries_the_settings_when_given(settings):
    p = provenance(settings)
    assert set(p) == {"revision", "cpu", "settings"} and p["settings"]["k"] == settings.k
    assert set(provenance()) == {"revision", "cpu"}

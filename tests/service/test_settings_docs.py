"""docs/service.md's settings table names every service setting, and only those, with the
model's default where the table gives a plain number: the page is how operators learn them."""

from __future__ import annotations

import re
from pathlib import Path

from meshforge.service.settings import ServiceSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def settings_table() -> dict[str, str]:
    """{VARIABLE: default column} of the rows of the "Settings" section's table."""
    section = DOC.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.startswith("| `"):
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0])
        defaults = [d.strip() for d in re.split(r"[/,]", cells[1])]
        for index, name in enumerate(names):
            rows[name] = defaults[index] if len(defaults) == len(names) else cells[1]
    return rows


def test_the_settings_table_lists_every_setting_and_no_other() -> None:
    documented = set(settings_table())
    fields = {name.upper() for name in ServiceSettings.model_fields}
    assert documented - fields == set(), "documented but not a setting"
    assert fields - documented == set(), "a setting missing from docs/service.md"


def test_plain_numeric_defaults_in_the_table_are_the_models() -> None:
    checked = 0
    for name, default in settings_table().items():
        if re.fullmatch(r"[0-9.]+", default):
            model_default = ServiceSettings.model_fields[name.lower()].default
            assert float(default) == float(model_default), (name, default, model_default)
            checked += 1
    assert checked >= 8, checked  # the table's numeric defaults were found and compared

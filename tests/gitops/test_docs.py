"""The documentation says what the code does: every outcome and phase, working links, and the kstatus table."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from ece_restart.kstatus import KStatus, compute
from ece_restart.resource_restart import Phase
from ece_restart.results import Outcome
from tests.gitops.phases import new_object, scenarios

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
USER_GUIDE = DOCS / "user-guide.md"
GITOPS = DOCS / "gitops.md"
# Markdown files whose relative links are checked: every page in docs/ and the Argo CD README they link to.
LINKED_PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "charts" / "ece-restart-operator" / "argocd" / "README.md"]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def table_rows(text: str, header: list[str]) -> list[list[str]]:
    """Cells of the markdown table whose header row starts with `header` (code marks stripped)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[: len(header)] == header and index + 1 < len(lines) and set(lines[index + 1]) <= set("|-: "):
            rows = []
            for row in lines[index + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip().strip("`") for c in row.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"no table with header {header}")


def outcome_table(text: str) -> dict[str, list[str]]:
    return {row[0]: row for row in table_rows(text, ["Outcome", "Phase"])}


@pytest.mark.parametrize("outcome", list(Outcome), ids=str)
def test_every_outcome_is_explained_in_the_user_guide(outcome: Outcome) -> None:
    rows = outcome_table(USER_GUIDE.read_text())
    assert outcome.value in rows, f"{outcome.value} is missing from the outcome table of docs/user-guide.md"
    _, phase, meaning, todo = rows[outcome.value]
    assert meaning and todo, f"{outcome.value}: meaning and what to do must both be filled in"
    assert any(p.value in phase for p in Phase), f"{outcome.value}: the phase column names no phase"


def test_the_outcome_table_has_no_stale_rows() -> None:
    assert set(outcome_table(USER_GUIDE.read_text())) == {o.value for o in Outcome}


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_every_phase_is_in_the_user_guide_table_and_diagram(phase: Phase) -> None:
    text = USER_GUIDE.read_text()
    assert phase.value in {row[0] for row in table_rows(text, ["Phase", "Terminal"])}
    diagram = re.search(r"```mermaid\n(stateDiagram-v2.*?)```", text, flags=re.DOTALL)
    assert diagram is not None, "the lifecycle mermaid state diagram is missing"
    assert re.search(rf"\b{phase.value}\b", diagram.group(1)), f"{phase.value} is not in the lifecycle diagram"


def test_terminal_column_matches_the_code() -> None:
    rows = table_rows(USER_GUIDE.read_text(), ["Phase", "Terminal"])
    assert {row[0]: row[1] == "yes" for row in rows} == {p.value: p.is_terminal for p in Phase}


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation except '-' and '_' dropped, spaces to '-'."""
    anchors = set()
    for line in re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL).splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[`*]", "", heading.group(1).strip().lower())
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)  # links inside code blocks are not links
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    problems = []
    for target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            problems.append(f"{target}: {resolved} does not exist")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not problems, "\n".join(problems)


def test_the_pages_link_each_other() -> None:
    guide = _relative_links(USER_GUIDE)
    assert "gitops.md" in guide and "troubleshooting.md" in guide
    assert any(t.startswith("user-guide.md") for t in _relative_links(DOCS / "troubleshooting.md"))


def test_the_link_checker_notices_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n[ok](#title) [gone](missing.md) [anchor](#nowhere) `[code](x.md)`\n"
                    "```\n[in a block](y.md)\n# not a heading\n```\n")
    assert _relative_links(page) == ["#title", "missing.md", "#nowhere", "x.md"]
    assert _anchors(page) == {"title"}


def test_gitops_kstatus_table_is_what_kstatus_computes() -> None:
    rows = {row[0]: row[1] for row in table_rows(GITOPS.read_text(), ["Phase", "kstatus"])}
    computed: dict[str, set[KStatus]] = {}
    for scenario in scenarios():
        computed.setdefault(scenario.phase.value, set()).add(compute(scenario.obj).status)
    stale = copy.deepcopy(scenarios()[-1].obj)
    stale["metadata"]["generation"] += 1
    computed["(no status yet)"] = {compute(new_object()).status}
    computed["(new generation not yet observed)"] = {compute(stale).status}
    assert all(len(statuses) == 1 for statuses in computed.values()), computed
    assert rows == {label: statuses.pop().value for label, statuses in computed.items()}

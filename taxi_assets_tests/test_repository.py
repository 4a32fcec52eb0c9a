"""The repository's own rules: a short README whose links resolve, tests that share helpers only through fixtures."""

import ast
import re

from taxi_assets_tests.support import PROJECT_ROOT

TESTS = PROJECT_ROOT / "taxi_assets_tests"


def test_the_readme_is_a_front_door_whose_links_all_resolve() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [target for target in targets if not target.startswith(("http://", "https://"))]
    assert "docs/getting-started.md" in local
    missing = [target for target in local if not (PROJECT_ROOT / target).exists()]
    assert missing == []


def test_every_page_of_the_manual_is_in_its_navigation() -> None:
    mkdocs = (PROJECT_ROOT / "mkdocs.yml").read_text()
    pages = sorted(str(page.relative_to(PROJECT_ROOT / "docs")) for page in (PROJECT_ROOT / "docs").rglob("*.md"))
    assert [page for page in pages if f": {page}\n" not in mkdocs] == []


def test_no_test_module_imports_another_test_module() -> None:
    offenders = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("taxi_assets_tests") and name.rsplit(".", 1)[-1].startswith("test_"):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}")
    assert offenders == []

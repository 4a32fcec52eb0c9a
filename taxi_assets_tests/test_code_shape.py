"""The code stays readable in one sitting: short functions, thin assets, modules under 300 lines, each tested.

Ruff's complexity gates (mccabe, branches, statements) run in `make lint`; what ruff cannot count is counted
here. ``WAITING`` lists what is still over a limit, with its size: it may only shrink, and an entry that fits
its limit must go, so the list ends empty. ``UNMIRRORED`` does the same for modules with behaviour that no test
module is named for yet (they are tested through another module's tests, which a reader has to know).
"""

import ast
from pathlib import Path

from taxi_assets_tests.support import PROJECT_ROOT

PACKAGES = ("taxi_assets", "taxi_serving", "taxi_tools", "taxi_dashboard")
MAX_FUNCTION_LINES = 60
MAX_ASSET_LINES = 40
MAX_MODULE_LINES = 300
# decorators that make a function an asset, a check or an op: orchestration only, so the tightest limit
DAGSTER_DECORATORS = ("asset", "multi_asset", "asset_check", "multi_asset_check", "op", "observable_source_asset")
# nothing waits to be split: an entry here would name a module over the limit and its size
WAITING: dict[str, int] = {}
# modules with behaviour that no test_<module>.py names yet, where the mirror puts it: none wait
UNMIRRORED: frozenset[str] = frozenset()


def _decorated_by_dagster(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in DAGSTER_DECORATORS:
            return True
    return False


def _sizes() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    modules, functions, assets = {}, {}, {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            name = str(path.relative_to(PROJECT_ROOT))
            source = path.read_text()
            modules[name] = len(source.splitlines())
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    key = f"{name}:{node.lineno} {node.name}"
                    (assets if _decorated_by_dagster(node) else functions)[key] = lines
    return modules, functions, assets


def test_no_function_over_60_lines_and_no_asset_over_40() -> None:
    _, functions, assets = _sizes()
    assert {key: n for key, n in functions.items() if n > MAX_FUNCTION_LINES} == {}
    assert {key: n for key, n in assets.items() if n > MAX_ASSET_LINES} == {}
    assert len(assets) >= 10  # the decorators are recognised: every asset and op of the code location is counted


def test_no_module_over_300_lines_except_those_waiting_to_be_split() -> None:
    modules, _, _ = _sizes()
    over = {name: lines for name, lines in modules.items() if lines > MAX_MODULE_LINES}
    assert set(over) <= set(WAITING), "new modules over the limit"
    for name, lines in over.items():
        assert lines <= WAITING[name], f"{name} grew from {WAITING[name]} to {lines} lines"
    assert set(WAITING) <= set(over), "a waiting module fits now: take it off WAITING"


def test_the_limits_are_measured_on_the_real_tree() -> None:
    modules, functions, _ = _sizes()
    assert Path(PROJECT_ROOT / "taxi_assets" / "definitions.py").is_file()
    assert "taxi_serving/app.py" in modules
    assert any(key.endswith(" create_app") for key in functions)


# where the tests of each package live: the code location's mirror its folders exactly, the others are one folder each
TEST_FOLDERS = {"taxi_serving": "serving", "taxi_tools": "tools", "taxi_dashboard": "dashboard"}


def _test_module_for(path: Path) -> bool:
    """Whether a test module is named for ``path`` where the mirror puts it."""
    relative = path.relative_to(PROJECT_ROOT)
    package, name = relative.parts[0], f"test_{path.stem}.py"
    tests = PROJECT_ROOT / "taxi_assets_tests"
    if package == "taxi_assets":
        return (tests.joinpath(*relative.parts[1:-1]) / name).is_file()
    return any((tests / TEST_FOLDERS[package]).rglob(name))


def _unmirrored() -> set[str]:
    found = set()
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if path.name == "__init__.py" or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            behaves = any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for node in tree.body)
            if behaves and not _test_module_for(path):
                found.add(str(path.relative_to(PROJECT_ROOT)))
    return found


def test_every_module_with_behaviour_has_a_test_module_named_for_it_or_waits_for_one() -> None:
    unmirrored = _unmirrored()
    assert unmirrored <= UNMIRRORED, "a new module with behaviour and no test module named for it"
    assert unmirrored >= UNMIRRORED, "a waiting module has its test module now: take it off UNMIRRORED"

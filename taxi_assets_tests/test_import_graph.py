"""No two modules import each other, however indirectly: the import graph of the product and its tests has no cycle.

The floors of the code location are held by the ``layers`` contract (``lint-imports``); this test holds what a
contract between packages cannot see: a cycle between two modules of one package, or of the tests. Imports made
only for type checking count, as do imports inside functions: a cycle hidden in either is still a cycle.
"""

import grimp

PACKAGES = ("taxi_assets", "taxi_serving", "taxi_tools", "taxi_dashboard", "taxi_assets_tests")


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """The graph's strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def test_the_finder_sees_a_cycle_when_there_is_one() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert strongly_connected(graph) == [{"a", "b", "c"}]


def test_no_module_of_the_product_or_its_tests_takes_part_in_an_import_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert "taxi_assets.model.pyfunc" in graph.modules  # the real tree is read
    assert graph.find_modules_directly_imported_by("taxi_assets.monitoring.window")  # and its imports
    assert strongly_connected(graph) == []

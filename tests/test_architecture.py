"""Guard rails on the code itself: the apps depend one way, writes go through services, state
constraints come from the choices, and imports inside functions say why they are there.

Each rule is checked by a small scanner over the source (ast); each scanner is first shown a snippet
that breaks the rule, so a scanner that silently stopped seeing anything would fail here too.
"""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.db.models import CheckConstraint

ROOT = Path(__file__).resolve().parent.parent

# Who may import whom: core ← accounts ← catalog ← transactions. marketplace/ wires them (settings,
# URLs, Celery) and devtools/ is for development only: no runtime app imports either.
LAYERS = {
    "core": {"core"},
    "accounts": {"core", "accounts"},
    "catalog": {"core", "accounts", "catalog"},
    "transactions": {"core", "accounts", "catalog", "transactions"},
}
PROJECT_PACKAGES = {*LAYERS, "marketplace", "devtools"}

# Database writes a view, task, template tag or API view must leave to a service.
WRITE_METHODS = {
    "save",
    "delete",
    "create",
    "get_or_create",
    "update_or_create",
    "bulk_create",
    "bulk_update",
    "update",
}
# Receivers whose .update()/.delete() is not the database (dicts, caches, sessions, HTTP headers).
NOT_THE_DATABASE = {
    "cache",
    "session",
    "headers",
    "context",
    "data",
    "params",
    "kwargs",
    "extra",
    "defaults",
    "query",
    "environ",
}


def _python_files(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_packages(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def upward_imports(app: str, tree: ast.AST) -> list[str]:
    allowed = LAYERS[app]
    return [
        f"line {line}: imports {package}"
        for line, package in _imported_packages(tree)
        if package in PROJECT_PACKAGES and package not in allowed
    ]


def _is_write_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr not in WRITE_METHODS:
        return False
    receiver = node.func.value
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return name not in NOT_THE_DATABASE


def database_writes(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if _is_write_call(node)]


def _is_interface_module(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return (
        path.name in ("views.py", "tasks.py")
        or path.name.endswith("_views.py")
        or "templatetags" in parts
        or "api" in parts
    )


def hand_listed_choices(tree: ast.AST) -> list[int]:
    """CheckConstraint conditions spelling `<field>__in=[...literal strings...]`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "CheckConstraint":
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.keyword)
                    and (inner.arg or "").endswith("__in")
                    and isinstance(inner.value, (ast.List, ast.Tuple, ast.Set))
                    and any(isinstance(elt, ast.Constant) and isinstance(elt.value, str) for elt in inner.value.elts)
                ):
                    found.append(inner.value.lineno)
    return found


def uncommented_function_imports(source: str, tree: ast.AST) -> list[str]:
    """Imports inside a function without a comment on their line or the line above saying why."""
    lines = source.splitlines()
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                here, above = lines[node.lineno - 1], lines[node.lineno - 2] if node.lineno > 1 else ""
                if "#" not in here and not above.strip().startswith("#"):
                    found.append(f"line {node.lineno}: {here.strip()}")
    return found


# The comment that lets select_for_update() (no `of`) lock the rows select_related joins, on the line of the lock or
# the line above it, followed by why.
JOINED_LOCK_MARKER = "# locks the joined rows on purpose:"


def _chain(call: ast.Call) -> list[ast.Call]:
    """The calls of a queryset chain, outermost first: a.b().c().d() → d(), c(), b()."""
    calls = []
    node = call
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        calls.append(node)
        node = node.func.value
    return calls


def joined_row_locks(source: str, tree: ast.AST) -> list[str]:
    """select_for_update() without `of` in a chain with select_related: PostgreSQL locks the joined rows FOR UPDATE
    too (a related dataset, organization or entitlement), which blocks every foreign key to them (FOR KEY SHARE) and
    makes skip_locked skip a row for a lock on a joined one. `of=("self",)` locks the row meant; a lock wanted on a
    joined row is named in `of` or taken by a statement of its own, or the line says why (JOINED_LOCK_MARKER)."""
    lines = source.splitlines()
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        calls = _chain(node)
        if not any(c.func.attr == "select_related" for c in calls):
            continue
        for call in calls:
            if call.func.attr != "select_for_update" or any(k.arg == "of" for k in call.keywords):
                continue
            line = call.func.end_lineno  # the line of `.select_for_update(`
            here, above = lines[line - 1], lines[line - 2] if line > 1 else ""
            if JOINED_LOCK_MARKER not in here and not above.strip().startswith(JOINED_LOCK_MARKER):
                found.add((line, here.strip()))
    return [f"line {line}: {text}" for line, text in sorted(found)]


# --- the scanners see what they must ----------------------------------------------------------------


def test_the_scanners_catch_each_kind_of_breach():
    """Each scanner flags a snippet that breaks its rule and passes one that keeps it."""
    assert upward_imports("catalog", ast.parse("from transactions.models import Order")) == [
        "line 1: imports transactions"
    ]
    assert upward_imports("accounts", ast.parse("def f():\n    import catalog.models")) == ["line 2: imports catalog"]
    assert upward_imports("core", ast.parse("from marketplace import settings")) == ["line 1: imports marketplace"]
    assert (
        upward_imports(
            "transactions", ast.parse("from catalog.models import Offer\nfrom core.errors import DomainError")
        )
        == []
    )

    assert database_writes(
        ast.parse("def view(request):\n    order.save()\n    Order.objects.filter().update(state='x')")
    ) == [2, 3]
    assert (
        database_writes(ast.parse("def view(request):\n    request.session.update(a=1)\n    cache.delete('k')")) == []
    )

    assert hand_listed_choices(ast.parse("CheckConstraint(condition=Q(state__in=['a', 'b']), name='x')")) == [1]
    assert hand_listed_choices(ast.parse("models.CheckConstraint(condition=Q(days__in=[30, 90]), name='x')")) == []

    bare = "def f():\n    from x import y\n"
    commented = "def f():\n    # cycle: x imports this module\n    from x import y\n"
    assert uncommented_function_imports(bare, ast.parse(bare)) == ["line 2: from x import y"]
    assert uncommented_function_imports(commented, ast.parse(commented)) == []

    joined = (
        "def f():\n"
        "    a = Package.objects.select_for_update().select_related('entitlement').get(pk=1)\n"
        "    b = (\n"
        "        Order.objects.filter(state='x')\n"
        "        .select_for_update(skip_locked=True)\n"
        "        .select_related('buyer')\n"
        "        .first()\n"
        "    )\n"
    )
    assert joined_row_locks(joined, ast.parse(joined)) == [
        "line 2: a = Package.objects.select_for_update().select_related('entitlement').get(pk=1)",
        "line 5: .select_for_update(skip_locked=True)",
    ]
    kept = (
        "def f():\n"
        "    a = Package.objects.select_for_update(of=('self',)).select_related('entitlement').get(pk=1)\n"
        "    b = Package.objects.select_for_update().get(pk=1)\n"
        f"    {JOINED_LOCK_MARKER} the entitlement is written below\n"
        "    c = Package.objects.select_for_update().select_related('entitlement').get(pk=1)\n"
    )
    assert joined_row_locks(kept, ast.parse(kept)) == []


# --- the rules over the project ------------------------------------------------------------------------


@pytest.mark.parametrize("app", sorted(LAYERS))
def test_apps_import_only_downward(app):
    """core ← accounts ← catalog ← transactions, and none imports marketplace/ or devtools/ (migrations included)."""
    breaches = {
        str(path.relative_to(ROOT)): found for path, tree in _python_files(app) if (found := upward_imports(app, tree))
    }
    assert breaches == {}


@pytest.mark.parametrize("app", sorted(LAYERS))
def test_views_tasks_and_template_tags_write_only_through_services(app):
    """A view, task, template tag or API view calls a service to write; it never saves a model itself."""
    breaches = {
        str(path.relative_to(ROOT)): lines
        for path, tree in _python_files(app)
        if _is_interface_module(path) and (lines := database_writes(tree))
    }
    assert breaches == {}


@pytest.mark.parametrize("app", sorted(LAYERS))
def test_state_check_constraints_are_built_from_the_choices(app):
    """No CheckConstraint lists choice values by hand (core.db.choices_constraint takes them from the class)."""
    breaches = {
        str(path.relative_to(ROOT)): lines
        for path, tree in _python_files(app)
        if path.name == "models.py" and (lines := hand_listed_choices(tree))
    }
    assert breaches == {}


def test_every_state_field_is_constrained_to_exactly_its_choices():
    """A state field's CheckConstraint holds every choice and nothing else, in the database too."""
    checked = 0
    for model in apps.get_models():
        if model._meta.app_label not in LAYERS:
            continue
        for field in model._meta.concrete_fields:
            if field.name not in ("state", "verification", "check_state", "listing") or not field.choices:
                continue
            conditions = [
                dict(c.condition.children)
                for c in model._meta.constraints
                if isinstance(c, CheckConstraint)
                and len(c.condition.children) == 1
                and isinstance(c.condition.children[0], tuple)
                and c.condition.children[0][0] == f"{field.name}__in"
            ]
            assert len(conditions) == 1, f"{model.__name__}.{field.name} has no CheckConstraint on its choices"
            assert sorted(conditions[0][f"{field.name}__in"]) == sorted(v for v, _label in field.choices), (
                model.__name__
            )
            checked += 1
    assert checked >= 8  # organization, dataset, version, file, order, payment, package, upload …


@pytest.mark.parametrize("app", [*sorted(LAYERS), "marketplace", "devtools"])
def test_imports_inside_functions_say_why(app):
    """An import inside a function breaks a real cycle or defers a heavy library, and its comment says which."""
    breaches = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        if found := uncommented_function_imports(source, ast.parse(source)):
            breaches[str(path.relative_to(ROOT))] = found
    assert breaches == {}


@pytest.mark.parametrize("app", [*sorted(LAYERS), "marketplace"])
def test_select_for_update_locks_only_its_own_rows_unless_it_says_why(app):
    """select_for_update() with select_related names its rows (`of=("self",)`): without `of` PostgreSQL locks every
    joined row FOR UPDATE too, which a foreign key to it (FOR KEY SHARE) waits for. Found in CI as a deadlock (a
    query store's claim locking its version and dataset against a checkout's order line for that version)."""
    breaches = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if found := joined_row_locks(source, ast.parse(source)):
            breaches[str(path.relative_to(ROOT))] = found
    assert breaches == {}


def _api_views(patterns, prefix=""):
    from django.urls import URLPattern, URLResolver

    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _api_views(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and hasattr(entry.callback, "cls"):
            yield prefix + str(entry.pattern), entry.callback.cls


def test_every_api_view_throttles_before_permissions_and_names_its_permissions():
    """Every /api/v1/ view subclasses core.api.views.ThrottleFirst (a refused request still counts against its
    key or address) and says who may use it (no view inherits the default by accident)."""
    from django.urls import get_resolver

    from core.api.views import ThrottleFirst

    views = [(route, cls) for route, cls in _api_views(get_resolver().url_patterns) if route.startswith("api/v1/")]
    assert len(views) >= 3
    assert [route for route, cls in views if not issubclass(cls, ThrottleFirst)] == []
    assert [
        route
        for route, cls in views
        if "permission_classes" not in vars(cls)
        and not any(
            "permission_classes" in vars(base) for base in cls.__mro__[1:] if base.__module__.split(".")[0] in LAYERS
        )
    ] == []

"""The package layout the architecture asks for: no cycle, no reach into cmd/ or into another module's private names."""

import ast
import pathlib

import manila_lite

ROOT = pathlib.Path(manila_lite.__file__).parent


def _modules():
    for path in sorted(ROOT.rglob('*.py')):
        parts = path.relative_to(ROOT.parent).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        yield '.'.join(parts), path, ast.parse(path.read_text())


def _imports(tree):
    """``{local name: imported module}`` of a module's imports (also those inside functions), and the modules it needs."""
    names, needs = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                needs.add(alias.name)
                if alias.asname:
                    names[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = '%s.%s' % (node.module, alias.name)
                needs.add(full)
                names[alias.asname or alias.name] = full
    return names, needs


MODULES = {name: (path, tree) for name, path, tree in _modules()}


def test_the_library_never_imports_cmd():
    offenders = [name for name, (_path, tree) in MODULES.items()
                 if not name.startswith('manila_lite.cmd')
                 and any(need == 'manila_lite.cmd' or
                         need.startswith('manila_lite.cmd.')
                         for need in _imports(tree)[1])]
    assert offenders == []


def test_no_import_cycle():
    graph = {name: {need for need in _imports(tree)[1] if need in MODULES
                    and need != name}
             for name, (_path, tree) in MODULES.items()}
    cycles = []

    def visit(node, stack, seen):
        for nxt in graph[node]:
            if nxt in stack:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, stack + [nxt], seen)

    for start in graph:
        visit(start, [start], {start})
    assert cycles == []


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for name, (path, tree) in MODULES.items():
        local, _needs = _imports(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith('manila_lite'):
                offenders += ['%s imports %s.%s' % (name, node.module, a.name)
                              for a in node.names
                              if a.name.startswith('_') and
                              not a.name.startswith('__')]
            if (isinstance(node, ast.Attribute) and
                    isinstance(node.value, ast.Name) and
                    node.attr.startswith('_') and
                    not node.attr.startswith('__')):
                target = local.get(node.value.id, '')
                if target.startswith('manila_lite') and target in MODULES:
                    offenders.append('%s uses %s.%s' % (name, target,
                                                        node.attr))
    assert offenders == []

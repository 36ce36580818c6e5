"""What the package promises about itself: standard library only, Python
3.9 syntax, typed, and the README showing the seed's call as tested."""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
import unittest
from typing import Set

import agenttrust
from tests.test_seed import SEED

PKG = os.path.dirname(os.path.abspath(agenttrust.__file__))
ROOT = os.path.dirname(PKG)
REPO = os.path.abspath(os.path.join(ROOT, "..", ".."))


def stdlib(name: str) -> bool:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return name in names
    if name in sys.builtin_module_names:
        return True
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return False
    lib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    return os.path.realpath(spec.origin).startswith(lib) and "site-packages" not in spec.origin


def sources() -> "list[str]":
    out = [os.path.join(PKG, f) for f in sorted(os.listdir(PKG)) if f.endswith(".py")]
    assert len(out) >= 5, out
    return out


class PackageTest(unittest.TestCase):
    def test_imports_only_the_standard_library(self) -> None:
        seen: Set[str] = set()
        for path in sources():
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    seen.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    seen.add(node.module.split(".")[0])
                elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
                    self.fail("%s: __import__ hides what is imported" % path)
        outside = sorted(m for m in seen if m != "agenttrust" and not stdlib(m))
        self.assertEqual(outside, [], "imports outside the standard library")
        # The check can fail: it sees the imports, and knows a non-stdlib name.
        self.assertIn("http", seen)
        self.assertFalse(stdlib("requests"))

    def test_python_39_syntax(self) -> None:
        for path in sources():
            with open(path, encoding="utf-8") as f:
                src = f.read()
            with self.subTest(path=os.path.basename(path)):
                ast.parse(src, path, feature_version=(3, 9))
                if "->" in src or ": " in src:
                    # Annotations stay strings: X | None never evaluated on 3.9.
                    if os.path.basename(path) != "__init__.py":
                        self.assertIn("from __future__ import annotations", src)

    def test_typed_and_packaged(self) -> None:
        self.assertTrue(os.path.isfile(os.path.join(PKG, "py.typed")))
        with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
            pyproject = f.read()
        self.assertIn("dependencies = []", pyproject)
        self.assertIn('"py.typed"', pyproject)
        self.assertIn('version = "%s"' % agenttrust.__version__, pyproject)
        for name in agenttrust.__all__:
            self.assertTrue(hasattr(agenttrust, name), name)

    def test_readmes_show_the_tested_seed(self) -> None:
        for readme in (os.path.join(REPO, "README.md"), os.path.join(ROOT, "README.md")):
            with self.subTest(readme=readme), open(readme, encoding="utf-8") as f:
                self.assertIn("```python\n" + SEED + "```", f.read())


if __name__ == "__main__":
    unittest.main()

"""Sphinx configuration of manila_lite's documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join('..', '..')))

import manila_lite.cmd  # noqa: E402,F401  (native threads; no eventlet)

project = 'manila_lite'
copyright = 'manila_lite authors, Apache License 2.0'
author = 'manila_lite authors'

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
]
try:
    import reno.sphinxext  # noqa: F401
except ImportError:
    reno_available = False
else:
    reno_available = True
    extensions.append('reno.sphinxext')

# The release notes page uses reno when it is installed, else the notes'
# plain text (see releasenotes.rst).
tags.add('reno' if reno_available else 'noreno')  # noqa: F821 (Sphinx)

autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'undoc-members': False}
autodoc_mock_imports = []
source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
html_static_path = []
pygments_style = 'sphinx'
nitpicky = False


def _write_driver_manual(app):
    """contributor/driver-manual.inc: the module docstring of manila_lite.share.driver (the manual), with its own headings."""
    from manila_lite.share import driver
    text = driver.__doc__.split('\n', 1)[1].lstrip('\n')
    path = os.path.join(app.srcdir, 'contributor', 'driver-manual.inc')
    old = None
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if old != text:
        with open(path, 'w') as f:
            f.write(text)


def setup(app):
    app.connect('builder-inited', _write_driver_manual)

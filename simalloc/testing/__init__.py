"""Public test helpers: hypothesis strategies and the allocator contract suite.

Imports hypothesis (a test dependency); core simalloc never imports this package.
"""

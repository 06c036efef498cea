"""Comity: a federated platform for international justice cooperation.

Each organisation runs its own node. See ``docs/architecture.md`` for the shape of the
package: one sub-package per context (``identity``, ``audit`` …), the web and CLI entry
points, and the cross-cutting modules ``settings``, ``errors`` and ``db``.
"""

__version__ = "0.1.0"

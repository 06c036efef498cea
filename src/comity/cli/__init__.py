"""The ``comity`` command line: one module per command group, assembled in :mod:`.main`.

Commands act as the local operator (:func:`comity.node.local_operator`): someone with
shell access to the node's data directory, who holds every permission. Like the web
routes, commands only parse input, call one service and render the result.
"""

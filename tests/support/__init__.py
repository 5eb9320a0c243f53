"""Helpers shared by several test modules.

* ``doors``: the two front doors (ASGI and WSGI) behind one interface, and the ``door`` fixture;
* ``servers``: free ports, uvicorn and Werkzeug in a thread, raw-socket origins, raw exchanges;
* ``devserver``: the dev server and the CLI as subprocesses;
* ``storage``: cache entries and a fake clock for the storage tests (the contract itself is
  ``tests/test_storage_contract.py``);
* ``reporting``: figures lines on the terminal.
"""

"""One ``.js`` file as a handler object, for ``edge-middleware invoke`` and ``serve --handler``."""

from __future__ import annotations

import re
from pathlib import Path

from ..exceptions import ConfigurationError
from .cffunctions import RUNTIMES, CloudFrontFunction
from .node import NODE_RUNTIMES, NodeHandler, is_node_runtime

__all__ = ["JS_SUFFIXES", "load_js"]

JS_SUFFIXES = (".js", ".mjs", ".cjs")
# A Lambda handler is exported (module.exports / exports.x / export ...); a CloudFront
# Function is a plain top-level `function handler(event)`.
_EXPORTS = re.compile(r"\b(module\.exports|exports\.\w+)\s*=|^\s*export\s", re.M)


def load_js(path: str, runtime: str | None = None) -> CloudFrontFunction | NodeHandler:
    """A CloudFront Function or a Node.js Lambda@Edge handler from a file.

    :param runtime: ``cloudfront-js-1.0``/``cloudfront-js-2.0`` or one of ``NODE_RUNTIMES``;
        by default a file that exports its handler is Node.js (``nodejs20.x``), any other a
        ``cloudfront-js-2.0`` function.
    """
    file = Path(path)
    if runtime is None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError("HANDLER", path, f"a readable .js file ({exc})") from None
        runtime = "nodejs20.x" if _EXPORTS.search(text) else "cloudfront-js-2.0"
    if is_node_runtime(runtime):
        return NodeHandler(file.name, root=file.parent, runtime=runtime)
    if runtime not in RUNTIMES:
        raise ConfigurationError("--runtime", runtime, " | ".join((*NODE_RUNTIMES, *RUNTIMES)))
    return CloudFrontFunction(file, runtime=runtime)

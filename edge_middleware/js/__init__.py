"""JavaScript at the edge: CloudFront Functions and Node.js Lambda@Edge handlers.

Both are handler objects (``obj(event, context)`` with a Lambda@Edge-shaped event, returning a
Lambda@Edge-shaped result), so the pipeline runs them like Python handlers. Both run in
long-lived ``node`` worker processes (``engine.py``); ``node`` comes from the system.
"""

from __future__ import annotations

from .cffunctions import MAX_FUNCTION_SIZE, CloudFrontFunction
from .engine import find_node
from .node import NodeHandler, is_node_runtime

__all__ = ["MAX_FUNCTION_SIZE", "CloudFrontFunction", "NodeHandler", "find_node", "is_node_runtime"]

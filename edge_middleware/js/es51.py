"""What ``cloudfront-js-1.0`` does not accept, found in a function's code before it runs.

CloudFront's JavaScript runtime 1.0 is ES 5.1 plus a few later features (DG, "JavaScript
runtime 1.0 features for CloudFront Functions": template literals, arrow functions, rest
parameters, the ``**`` operator, some ES 6+ methods); ``const`` and ``let`` are not
supported, nor ``async``/``await`` and the other later syntax (those came with runtime 2.0).
Both of our engines are a modern V8 that would run such code, so :func:`first_unsupported` reads
the code with a small tokenizer (strings, template literals with nested ``${}``, comments and
regular expression literals are skipped as such, so a ``const`` in a string or comment is not
a finding) and refuses the first construct 1.0 does not have, with its line.

Not checked (they need a parser, not a tokenizer): default parameter values, spread
arguments, shorthand methods and computed keys in object literals. docs/cloudfront-functions.md
§4 lists what is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["first_unsupported", "tokenize"]


class Token(NamedTuple):
    kind: str  # name, num, str, template, regex, punct
    text: str
    line: int


_PUNCT_TEXT = """>>>= ... === !== **= <<= >>= >>> &&= ||= ??= => == != <= >= && || ?? ?. ++
-- += -= *= /= %= &= |= ^= ** << >> { } ( ) [ ] ; , < > + - * / % & | ^ ! ~ ? : = . @ #"""
_PUNCT = sorted(_PUNCT_TEXT.split(), key=len, reverse=True)
#: After these a ``/`` starts a regular expression, not a division.
_BEFORE_REGEX_WORDS = frozenset(
    {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case"}
    | {"do", "else", "yield", "await"}
)


#: the statements whose parenthesised head a statement follows
_HEADS = frozenset({"if", "while", "for", "with"})


def _opens_block(prev: Token | None) -> bool:
    """Whether a ``{`` after ``prev`` opens a statement block (not an object literal)."""
    if prev is None:
        return True
    if prev.kind == "name":
        return prev.text in ("else", "try", "finally", "do")
    return prev.kind == "punct" and prev.text in (")", ";", "{", "}")


def _name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$" or ord(ch) > 127


class _Lexer:
    def __init__(self, code: str) -> None:
        self.code = code
        self.i = 0
        self.line = 1
        #: "{" for a brace, "block" for a statement block's, "${" for a template substitution
        self.braces: list[str] = []
        #: per open parenthesis: it holds the head of ``if``/``while``/``for``/``with``
        self.parens: list[bool] = []
        #: the last ``)`` or ``}`` ended a statement's head or block: a ``/`` next starts a
        #: regular expression (``if (x) /a?.b/.test(y)``, ``} /re/.test(z)``), not a division
        self.statement_ended = False

    def _skip_to(self, end: int) -> str:
        text = self.code[self.i : end]
        self.line += text.count("\n")
        self.i = end
        return text

    def _quoted(self, quote: str) -> int:
        """The end of a string or template chunk starting after ``self.i``; -1 unterminated.
        For templates, a ``${`` also ends the chunk."""
        code, j = self.code, self.i + 1
        while j < len(code):
            ch = code[j]
            if ch == "\\":
                j += 2
                continue
            if ch == quote:
                return j + 1
            if quote == "`" and code.startswith("${", j):
                return j + 2
            if ch == "\n" and quote != "`":
                return -1
            j += 1
        return -1

    def _regex_end(self) -> int:
        code, j, in_class = self.code, self.i + 1, False
        while j < len(code):
            ch = code[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "\n":
                return -1
            if ch == "[":
                in_class = True
            elif ch == "]":
                in_class = False
            elif ch == "/" and not in_class:
                j += 1
                while j < len(code) and _name_char(code[j]):
                    j += 1  # flags
                return j
            j += 1
        return -1

    def tokens(self) -> Iterator[Token]:
        code = self.code
        prev: Token | None = None
        while self.i < len(code):
            ch = code[self.i]
            line = self.line
            if ch in " \t\r\n\ufeff\u00a0\u2028\u2029\v\f":
                self._skip_to(self.i + 1)
                continue
            if code.startswith("//", self.i):
                end = code.find("\n", self.i)
                self._skip_to(len(code) if end < 0 else end)
                continue
            if code.startswith("/*", self.i):
                end = code.find("*/", self.i + 2)
                if end < 0:
                    return
                self._skip_to(end + 2)
                continue
            tok: Token
            if ch in "'\"`" or (ch == "}" and self.braces and self.braces[-1] == "${"):
                if ch == "}":
                    self.braces.pop()  # the substitution ends: the template goes on
                end = self._quoted("`" if ch in "`}" else ch)
                if end < 0:
                    return
                text = self._skip_to(end)
                if ch in "`}" and text.endswith("${"):
                    self.braces.append("${")
                tok = Token("template" if ch in "`}" else "str", text, line)
            elif ch.isdigit() or (ch == "." and code[self.i + 1 : self.i + 2].isdigit()):
                j = self.i + 1
                while j < len(code) and (_name_char(code[j]) or code[j] == "."):
                    if code[j] in "eE" and code[j + 1 : j + 2] in ("+", "-"):
                        j += 1
                    j += 1
                tok = Token("num", self._skip_to(j), line)
            elif _name_char(ch):
                j = self.i + 1
                while j < len(code) and _name_char(code[j]):
                    j += 1
                tok = Token("name", self._skip_to(j), line)
            elif ch == "/" and (
                prev is None
                # (after "i++" or "i--" a "/" divides, as after ")": they end an operand)
                or (prev.kind == "punct" and prev.text not in (")", "]", "}", "++", "--"))
                or (prev.kind == "name" and prev.text in _BEFORE_REGEX_WORDS)
                or (prev.text in (")", "}") and self.statement_ended)
            ):
                end = self._regex_end()
                if end < 0:
                    return
                tok = Token("regex", self._skip_to(end), line)
            else:
                text = next((p for p in _PUNCT if code.startswith(p, self.i)), ch)
                if text == "?." and code[self.i + 2 : self.i + 3].isdigit():
                    text = "?"  # a ? .5 : 1
                self.statement_ended = False
                if text == "{":
                    self.braces.append("block" if _opens_block(prev) else "{")
                elif text == "}" and self.braces:
                    self.statement_ended = self.braces.pop() == "block"
                elif text == "(":
                    self.parens.append(
                        prev is not None and prev.kind == "name" and prev.text in _HEADS
                    )
                elif text == ")" and self.parens:
                    self.statement_ended = self.parens.pop()
                tok = Token("punct", self._skip_to(self.i + len(text)), line)
            prev = tok
            yield tok


def tokenize(code: str) -> list[Token]:
    """The code's tokens without whitespace and comments (a lexical error ends the list:
    the engine reports it when the code loads)."""
    return list(_Lexer(code).tokens())


_PUNCT_FINDINGS = {
    "?.": "optional chaining (?.)",
    "??": "the nullish coalescing operator (??)",
    "??=": "logical assignment (??=)",
    "&&=": "logical assignment (&&=)",
    "||=": "logical assignment (||=)",
}
_EXPRESSION_START = frozenset({"name", "num", "str", "template", "regex"})


def _closing(toks: list[Token], i: int) -> int:
    """Index of the bracket closing ``toks[i]`` (``(``), or len(toks)."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].kind == "punct" and toks[j].text in "([{":
            depth += 1
        elif toks[j].kind == "punct" and toks[j].text in ")]}":
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def _finding(toks: list[Token], i: int) -> str | None:
    tok = toks[i]
    nxt = toks[i + 1] if i + 1 < len(toks) else Token("end", "", tok.line)
    if tok.kind == "punct":
        return _PUNCT_FINDINGS.get(tok.text)
    if tok.kind == "num":
        return "BigInt literals" if tok.text.endswith("n") and tok.text[0].isdigit() else None
    if tok.kind != "name":
        return None
    before = toks[i - 1] if i else None
    if before is not None and before.kind == "punct" and before.text in (".", "?."):
        return None  # a property: obj.const, obj.await
    if nxt.text == ":" and before is not None and before.text in ("{", ","):
        return None  # an object key: {class: 'x'}
    word = tok.text
    if word == "const":
        return "const declarations"
    if word == "let" and (nxt.kind == "name" or nxt.text in ("[", "{")):
        return "let declarations"
    if word == "class":
        return "classes"
    if word in ("import", "export"):
        return f"ES modules ({word})"
    if word == "await" and (nxt.kind in _EXPRESSION_START or nxt.text in ("(", "[", "{")):
        return "await"
    if word == "async":
        if nxt.text == "function" or (
            nxt.kind == "name" and i + 2 < len(toks) and toks[i + 2].text == "=>"
        ):
            return "async functions"
        if nxt.text == "(":
            end = _closing(toks, i + 1)
            if end + 1 < len(toks) and toks[end + 1].text == "=>":
                return "async functions"
        return None
    if word == "function" and nxt.text == "*":
        return "generator functions"
    if word == "var" and nxt.text in ("[", "{"):
        return "destructuring"
    if word == "for" and nxt.text == "(":
        j = i + 2
        if j < len(toks) and toks[j].text in ("var", "let", "const"):
            j += 1
        if j + 1 < len(toks) and toks[j].kind == "name" and toks[j + 1].text == "of":
            return "for...of loops"
    return None


def first_unsupported(code: str) -> tuple[str, int] | None:
    """The first construct ``cloudfront-js-1.0`` does not support, and its line."""
    toks = tokenize(code)
    for i, tok in enumerate(toks):
        found = _finding(toks, i)
        if found is not None:
            return found, tok.line
    return None

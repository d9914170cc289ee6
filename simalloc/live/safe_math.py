"""A small, safe parser for answer expressions: model text is parsed, never evaluated as code.

The verifier optimizes a policy against this function, so it must never run model output: no ``eval``, no
``sympy.parse_expr`` (which evaluates Python), bounded input, bounded work. Grammar (after LaTeX normalization):

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/' | implicit) unary)*        implicit: "2x", "2(x+1)", "(a)(b)"
    unary  := ('+' | '-') unary | power
    power  := atom ('^' unary)?                             right-associative
    atom   := number | variable | 'pi' | 'sqrt' '(' expr ')' | '(' expr ')'

Variables are single ASCII letters. Limits: 200 characters, 100 tokens, nesting depth 20, exponents that are
constants with |value| <= 12. Anything else is "not an expression" (``ExpressionError``).

Equivalence of two expressions is decided by evaluating both at 6 fixed pseudo-random points (variables in
[0.5, 2.5], float64) and comparing within 1e-9 relative: for the rational functions and roots a final answer
is made of, two different expressions agree at all points only on a set of measure zero.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["ExpressionError", "parse_expression", "equivalent_expressions"]

MAX_CHARS = 200
MAX_TOKENS = 100
MAX_DEPTH = 20
MAX_EXPONENT = 12.0


class ExpressionError(ValueError):
    """The text is not an expression this parser accepts (or it exceeds a limit)."""


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(sqrt|pi)|([a-zA-Z])|(\*\*|[-+*/^()]))")


def normalize_latex(text: str) -> str:
    """LaTeX spellings to the grammar's: \\frac{a}{b} -> ((a)/(b)), \\sqrt{x} -> sqrt(x), \\cdot -> *, braces."""
    t = text.replace("$", "").replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "")
    t = t.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", "pi").replace("**", "^")
    for _ in range(MAX_DEPTH):  # innermost \frac first; bounded so that hostile nesting cannot loop long
        new = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", t)
        new = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", new)
        if new == t:
            break
        t = new
    return t.replace("{", "(").replace("}", ")")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}")
        num, name, var, op = m.groups()
        out.append(("num", num) if num else ("name", name) if name else ("var", var) if var else ("op", op))
        if len(out) > MAX_TOKENS:
            raise ExpressionError(f"more than {MAX_TOKENS} tokens")
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, value=None):
        kind, v = self.peek()
        if kind is None or (value is not None and v != value):
            raise ExpressionError(f"expected {value or 'a token'}")
        self.i += 1
        return kind, v

    def expr(self, depth):
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nesting deeper than {MAX_DEPTH}")
        node = self.term(depth)
        while self.peek() in (("op", "+"), ("op", "-")):
            _, op = self.take()
            node = (op, node, self.term(depth))
        return node

    def term(self, depth):
        node = self.unary(depth)
        while True:
            kind, v = self.peek()
            if (kind, v) in (("op", "*"), ("op", "/")):
                self.take()
                node = (v, node, self.unary(depth))
            elif kind in ("num", "var", "name") or (kind, v) == ("op", "("):
                node = ("*", node, self.unary(depth))  # implicit multiplication
            else:
                return node

    def unary(self, depth):
        if self.peek() in (("op", "-"), ("op", "+")):
            _, op = self.take()
            inner = self.unary(depth + 1)
            return ("neg", inner) if op == "-" else inner
        return self.power(depth)

    def power(self, depth):
        base = self.atom(depth)
        if self.peek() == ("op", "^"):
            self.take()
            exponent = self.unary(depth + 1)
            value = _constant(exponent)
            if value is None or not abs(value) <= MAX_EXPONENT:
                raise ExpressionError(f"exponents must be constants with |value| <= {MAX_EXPONENT:g}")
            return ("^", base, exponent)
        return base

    def atom(self, depth):
        kind, v = self.take()
        if kind == "num":
            return ("num", float(v))
        if kind == "var":
            return ("var", v)
        if kind == "name" and v == "pi":
            return ("num", math.pi)
        if kind == "name" and v == "sqrt":
            self.take("(")
            inner = self.expr(depth + 1)
            self.take(")")
            return ("sqrt", inner)
        if (kind, v) == ("op", "("):
            inner = self.expr(depth + 1)
            self.take(")")
            return inner
        raise ExpressionError(f"unexpected {v!r}")


def _constant(node):
    """The value of a variable-free node, or None."""
    try:
        return _evaluate(node, {})
    except (KeyError, ZeroDivisionError, OverflowError, ValueError):
        return None


def _evaluate(node, env):
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return env[node[1]]
    if kind == "neg":
        return -_evaluate(node[1], env)
    if kind == "sqrt":
        x = _evaluate(node[1], env)
        if x < 0:
            raise ValueError("sqrt of a negative number")
        return math.sqrt(x)
    a, b = _evaluate(node[1], env), _evaluate(node[2], env)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        if b == 0:
            raise ZeroDivisionError
        return a / b
    if a < 0 and not float(b).is_integer():
        raise ValueError("fractional power of a negative number")
    return math.pow(a, b)


def _variables(node, out):
    if node[0] == "var":
        out.add(node[1])
    for child in node[1:]:
        if isinstance(child, tuple):
            _variables(child, out)
    return out


def parse_expression(text: str):
    """Parse ``text`` into an expression tree (nested tuples); raises ExpressionError on anything else."""
    if not isinstance(text, str):
        raise ExpressionError("expected a string")
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"longer than {MAX_CHARS} characters")
    if not text.isascii():
        raise ExpressionError("non-ASCII text")
    tokens = _tokens(normalize_latex(text))
    if not tokens:
        raise ExpressionError("empty")
    parser = _Parser(tokens)
    tree = parser.expr(0)
    if parser.i != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.i][1]!r}")
    return tree


_POINTS = np.random.default_rng(20251123).uniform(0.5, 2.5, size=(6, 52))


def equivalent_expressions(a: str, b: str) -> bool:
    """True when both texts parse and agree (1e-9 relative) at every test point where both are defined
    (at least 3 such points). False for anything unparseable: the answer is then simply not accepted."""
    try:
        ta, tb = parse_expression(a), parse_expression(b)
    except ExpressionError:
        return False
    names = sorted(_variables(ta, set()) | _variables(tb, set()))
    agree = 0
    for point in _POINTS:
        env = {name: float(point[ord(name.lower()) - 97 + (26 if name.isupper() else 0)]) for name in names}
        try:
            va, vb = _evaluate(ta, env), _evaluate(tb, env)
        except (ZeroDivisionError, OverflowError, ValueError):
            continue
        if not (math.isfinite(va) and math.isfinite(vb)):
            continue
        if abs(va - vb) > 1e-9 * max(1.0, abs(va), abs(vb)):
            return False
        agree += 1
    return agree >= 3

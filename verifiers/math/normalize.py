"""Cosmetic normalisation of an extracted answer, and splitting a cleaned answer into its parts.

Everything here is string work that keeps the mathematics intact: what is removed (markdown,
``\\text{}``, ``\\left``, a trailing period, unicode look-alikes) never changes a value.
"""

from __future__ import annotations

import re

from verifiers.text import match_brace

_VULGAR = {
    "½": (1, 2),
    "⅓": (1, 3),
    "⅔": (2, 3),
    "¼": (1, 4),
    "¾": (3, 4),
    "⅕": (1, 5),
    "⅖": (2, 5),
    "⅗": (3, 5),
    "⅘": (4, 5),
    "⅙": (1, 6),
    "⅚": (5, 6),
    "⅐": (1, 7),
    "⅛": (1, 8),
    "⅜": (3, 8),
    "⅝": (5, 8),
    "⅞": (7, 8),
    "⅑": (1, 9),
    "⅒": (1, 10),
}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_UNICODE = {
    "\u2212": "-",
    "\u2013": "-",
    "\u2012": "-",
    "\u2014": "-",
    "\u00d7": r"\times ",
    "\u22c5": r"\cdot ",
    "\u00b7": r"\cdot ",
    "\u00f7": r"\div ",
    "\u221a": r"\sqrt ",
    "\u03c0": r"\pi ",
    "\u221e": r"\infty ",
    "\u2264": r"\le ",
    "\u2265": r"\ge ",
    "\u2260": r"\ne ",
    "\u222a": r"\cup ",
    "\u2229": r"\cap ",
    "\u2205": r"\emptyset ",
    "\u00b0": r"^\circ ",
    "\u00b1": r"\pm ",
    "\u2213": r"\mp ",
    "\u2044": "/",
    "\u2009": " ",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2032": "'",
    "\uff0c": ",",
    "\u2208": r"\in ",
    "\u211d": r"\mathbb{R} ",
}
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mathsf|mbox|operatorname\*?|"
    r"boldsymbol|bm|emph|hbox)\s*\{"
)
_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg|middle)(?![a-zA-Z])"
    r"|\\displaystyle|\\textstyle|\\scriptstyle|\\limits|\\nolimits|\\!|\\mathstrut"
)
_FRAC_SHORT = re.compile(r"\\[dtc]?frac\s*(\d)\s*(\d)")
_FRAC_SHORT2 = re.compile(r"\\[dtc]?frac\s*(\d)\s*(\{)")
_FRAC_SHORT3 = re.compile(r"\\[dtc]?frac\s*(\{[^{}]*\})\s*(\d)")
_SPECIAL_WORDS = [
    (
        re.compile(
            r"(?i)^(?:all\s+real(?:\s+numbers)?|all\s+reals|every\s+real\s+number|\(-\\infty\s*,\s*\\infty\)|\\mathbb\s*\{?R\}?|\\R|\\Re|\\reals)$"
        ),
        r"\mathbb{R}",
    ),
    (
        re.compile(
            r"(?i)^(?:no\s+(?:real\s+)?solutions?|none|no\s+such\s+\w+|the\s+empty\s+set|empty\s+set|\\emptyset|\\varnothing|\\\{\s*\\\}|\{\s*\})$"
        ),
        r"\emptyset",
    ),
    (re.compile(r"(?i)^(?:\+?\s*infinity|\+?\s*\\infty|\\infin)$"), r"\infty"),
    (re.compile(r"(?i)^(?:-\s*infinity|-\s*\\infty)$"), r"-\infty"),
]


def _unwrap_command(s: str, pattern: re.Pattern[str]) -> str:
    """Replace ``\\cmd{X}`` by ``X`` (balanced), for every match of ``pattern`` (which ends at ``{``)."""
    for _ in range(50):
        m = pattern.search(s)
        if m is None:
            return s
        end = match_brace(s, m.end() - 1)
        if end < 0:
            return s[: m.start()] + s[m.end() :]
        s = s[: m.start()] + s[m.end() : end - 1] + s[end:]
    return s


_BRACE_DECORATION = re.compile(r"\\(?:underbrace|overbrace|underbracket|overbracket)\s*\{")


def _drop_brace_labels(s: str) -> str:
    """``\\underbrace{X}_{label}`` / ``\\overbrace{X}^{label}`` -> ``X``: the brace and its label
    annotate a part of the expression; the value is what is under the brace."""
    for _ in range(20):
        m = _BRACE_DECORATION.search(s)
        if m is None:
            return s
        end = match_brace(s, m.end() - 1)
        if end < 0:
            return s
        body = s[m.end() : end - 1]
        rest = s[end:]
        lm = re.match(r"\s*[_^]\s*", rest)
        if lm is not None:
            after = rest[lm.end() :]
            if after.startswith("{"):
                close = match_brace(after, 0)
                rest = after[close:] if close > 0 else after
            else:
                rest = re.sub(r"^(?:\\[a-zA-Z]+|\S)", "", after)
        s = s[: m.start()] + "{" + body + "}" + rest
    return s


def clean(s: str) -> str:
    """Remove what is cosmetic, keeping the mathematics intact."""
    s = s.strip()
    if "brace" in s or "bracket" in s:
        s = _drop_brace_labels(s)
    # "11,\! 111" and "14{, }916" are typeset thousands separators: keep them one number
    s = re.sub(r"(?<=\d),\s*\\!\s*(?=\d)|(?<=\d)\s*\{\s*,\s*\}\s*(?=\d)", "{,}", s)
    for k, v in _UNICODE.items():
        if k in s:
            s = s.replace(k, v)
    if any(c in s for c in _VULGAR):
        s = re.sub(
            "([0-9]?)\\s*([" + "".join(_VULGAR) + "])",
            lambda m: m.group(1) + r"\frac{%d}{%d}" % _VULGAR[m.group(2)],
            s,
        )
    if any(c in s for c in "⁰¹²³⁴⁵⁶⁷⁸⁹"):
        s = re.sub("([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", lambda m: "^{" + m.group(1).translate(_SUPERSCRIPTS) + "}", s)
    s = re.sub(r"\*\*|__", "", s)
    s = s.replace(r"\$", " ").replace("$", "")
    s = re.sub(r"^\\\[|\\\]$|^\\\(|\\\)$", "", s.strip())
    s = _unwrap_command(s, _WRAPPERS)
    s = _DROP.sub("", s)
    s = re.sub(r"\\(?:dfrac|tfrac|cfrac)", r"\\frac", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT2.sub(r"\\frac{\1}\2", s)
    s = _FRAC_SHORT3.sub(r"\\frac\1{\2}", s)
    s = s.replace(r"\%", "%").replace(r"\&", "&")
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree", "°", s)
    s = s.replace(r"\lbrace", r"\{").replace(r"\rbrace", r"\}")
    s = re.sub(r"\\(?:le|leqslant|leq)(?![a-zA-Z])", r"\\le ", s)
    s = re.sub(r"\\(?:ge|geqslant|geq)(?![a-zA-Z])", r"\\ge ", s)
    s = re.sub(r"\\(?:neq|ne)(?![a-zA-Z])", r"\\ne ", s)
    s = re.sub(r"\\(?:quad|qquad)(?![a-zA-Z])|\\[;:]|~|\\,(?!\d)|(?<!\d)\\,", " ", s)
    s = s.replace(r"\varnothing", r"\emptyset")
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"[.。;]+$", "", s).strip()
    if s.startswith(r"\,"):
        s = s[2:].strip()
    for pat, rep in _SPECIAL_WORDS:
        if pat.match(s):
            return rep
    return s


def match_paren(s: str) -> int:
    """Index just past the bracket group that opens ``s`` (any of ``([{``), or -1 if it never closes."""
    depth = 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def split_top(s: str, seps: tuple[str, ...] = (",", ";")) -> list[str]:
    """Split at separators that are outside every bracket."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c in seps:
            parts.append(s[last:i])
            last = i + 1
        i += 1
    parts.append(s[last:])
    return [p.strip() for p in parts]


# what names the asked quantity on the left of "name = answer": x, a_1, \\theta, AB, |AB|, a ratio of
# names (V_1:V_2, \\frac{NO}{BO}); never a number or an expression with + or - (7 = 11a+c is no name)
_NAME = r"(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+(?:_\{?\w+\}?)?|[A-Z]{2,4}|\|[A-Z]{1,4}\|)"
_VAR_EQ = re.compile(
    rf"^({_NAME}(?:\s*[:/]\s*{_NAME})?|\\frac\s*\{{\s*{_NAME}\s*\}}\s*\{{\s*{_NAME}\s*\}})\s*=\s*(?!=)"
)
OR_AND = re.compile(r"\s+(?:or|and)\s+|\s*\\(?:text\{\s*(?:or|and)\s*\}|lor|vee)\s*", re.I)


def list_items(s: str) -> list[str]:
    """A bare answer list ``2, 3`` / ``x=2 or x=3`` / ``\\{2,3\\}`` as items (one item if not a list)."""
    inner = s
    if inner.startswith(r"\{") and inner.endswith(r"\}"):
        inner = inner[2:-2]
    items = []
    for part in split_top(inner):
        items.extend(p.strip() for p in OR_AND.split(part))
    return [i for i in items if i]


def var_of(s: str) -> str | None:
    """The variable of a one-variable assignment ``x = ...`` / ``a_1 = ...``, else None."""
    m = _VAR_EQ.match(s)
    if m is not None and "=" not in s[m.end() :]:
        return m.group(1).replace("{", "").replace("}", "")
    return None


def strip_name(s: str) -> str:
    """``AB = 4``, ``|AB| = 1``, ``V_1:V_2 = 11:21``, ``\\frac{NO}{BO} = 2`` -> the right side: a
    name of a quantity that is not a one-letter variable (those are ``strip_var``'s, which the
    equation policy reads), so the answer is what it names."""
    name = var_of(s)
    if name is None or re.fullmatch(r"[a-zA-Z](?:_\w+)?|\\(?!frac)[a-zA-Z]+(?:_\w+)?", name):
        return s
    return strip_var(s)


def strip_var(s: str) -> str:
    """``x = 3`` -> ``3``; anything that is not a one-variable assignment is returned as it is."""
    m = _VAR_EQ.match(s)
    if m is not None and "=" not in s[m.end() :]:
        return s[m.end() :].strip()
    return s


TEXT_ANSWER = re.compile(r"^[A-Za-z][A-Za-z '\-]*[A-Za-z]$")


def norm_text(s: str) -> str:
    """A text answer for comparison: lower case, letters and digits only, no leading article."""
    s = s.lower()
    s = re.sub(r"[^a-z0-9 ]", " ", s)
    s = re.sub(r"^(?:the|a|an)\s+", "", s.strip())
    return re.sub(r"\s+", " ", s).strip()

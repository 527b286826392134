"""Language consistency: is the reasoning (and answer) written in the target language?

DeepSeek-R1 rewarded, and filtered its SFT data by, the share of target-language words in the
chain of thought. This module computes that share and also catches short code-switches that a
share alone hides (one Chinese clause in long English reasoning).

How a text is judged:

1. Language-neutral spans are removed first: fenced and inline code, LaTeX (``$..$``, ``$$..$$``,
   ``\\(..\\)``, ``\\[..\\]``, environments, commands), URLs, e-mail addresses, markup tags.
   Numbers, identifiers (``x1``, ``a_n``, ``camelCase``), single letters (variables), ALL-CAPS
   acronyms (``GCD``, ``AM-GM``), function names before ``(`` and common math operator names
   (``sin``, ``log``, ``gcd``...) are neutral too.
2. The rest is cut into words: a run of letters in a spaced script, or one character of Han or
   Kana (so "CJK characters count as words").
3. The script decides most words at once: a Han character in English reasoning is not English.
   (For a Japanese target, a sentence of 8 or more Han characters and no kana counts as Chinese.)
4. Where other candidate languages share the target's script (English vs French in Latin
   script), each sentence's words are judged together: a table of frequent function words
   settles clear cases cheaply, and ``lingua`` (restricted to a few candidate languages, for speed
   and for accuracy on short strings) judges the rest that are long enough (``min_words``).
   Shorter unclear sentences get the benefit of the doubt.

``score`` is target words / all language-bearing words (1.0 when there are none). The verdict
fails when the score is below ``threshold`` or when ``max_run`` or more consecutive words are not
in the target language: with ``wrong_language`` when less than half of the words are in the
target language, else with ``mixed_language``.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from verifiers.text import THINK_CLOSE, THINK_OPEN, split_think
from verifiers.verdict import Verdict

WRONG_LANGUAGE = "wrong_language"
MIXED_LANGUAGE = "mixed_language"
REASONS = (WRONG_LANGUAGE, MIXED_LANGUAGE)

DEFAULT_THRESHOLD = 0.9
DEFAULT_MAX_RUN = 5
DEFAULT_MIN_WORDS = 4
_MIN_CHINESE_RUN = 8  # Han characters in a sentence without kana: Chinese, not Japanese

# --- scripts ---------------------------------------------------------------------------------

_RANGES = {
    "han": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f",
    "kana": "\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f",
    "hangul": "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",
    "latin": "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u1e00-\u1eff",
    "cyrillic": "\u0400-\u052f",
    "greek": "\u0370-\u03ff\u1f00-\u1fff",
    "armenian": "\u0531-\u058f",
    "hebrew": "\u0591-\u05f4",
    "arabic": "\u0610-\u061a\u0620-\u065f\u066e-\u06d3\u06d5-\u06ff\u0750-\u077f\u08a0-\u08ff"
              "\ufb50-\ufdff\ufe70-\ufefc",
    "devanagari": "\u0900-\u0963\u0966-\u097f",
    "bengali": "\u0980-\u09ff",
    "gurmukhi": "\u0a00-\u0a7f",
    "gujarati": "\u0a80-\u0aff",
    "tamil": "\u0b80-\u0bff",
    "telugu": "\u0c00-\u0c7f",
    "thai": "\u0e00-\u0e7f",
    "georgian": "\u10a0-\u10ff",
}
_OTHER = "".join(v for k, v in _RANGES.items() if k not in ("han", "kana", "hangul", "latin"))
# One pattern, no groups: findall is the fast path. A Latin-script token swallows digits,
# underscores and a trailing "(" so that identifiers and function names can be told apart.
_TOKEN = re.compile(
    f"[{_RANGES['han']}{_RANGES['kana']}]"
    f"|[{_RANGES['hangul']}]+"
    f"|[{_RANGES['latin']}0-9_]+(?:['’\\-][{_RANGES['latin']}0-9_]+)*\\(?"
    f"|[{_OTHER}]+(?:['’\\-][{_OTHER}]+)*"
    r"|[.!?;:](?=\s|$)|[。！？；：\n]"
)
_ONE_CHAR_WORDS = frozenset(("han", "kana", "hangul"))
_SEPS = frozenset(".!?;:。！？；：\n")


def _build_script_table() -> tuple[list[int], list[int], list[str]]:
    spans = []
    for script, ranges in _RANGES.items():
        for m in re.finditer(r"(.)(?:-(.))?", ranges, re.DOTALL):
            lo, hi = m.group(1), m.group(2) or m.group(1)
            spans.append((ord(lo), ord(hi), script))
    spans.append((ord("0"), ord("9"), "latin"))
    spans.append((ord("_"), ord("_"), "latin"))
    spans.sort()
    return [a for a, _, _ in spans], [b for _, b, _ in spans], [n for _, _, n in spans]


_STARTS, _ENDS, _NAMES = _build_script_table()
_script_cache: dict[str, str | None] = {}


def _script(c: str) -> str | None:
    """The script of one character (cached: texts use few distinct first letters)."""
    try:
        return _script_cache[c]
    except KeyError:
        o = ord(c)
        i = bisect_right(_STARTS, o) - 1
        name = _NAMES[i] if i >= 0 and o <= _ENDS[i] else None
        _script_cache[c] = name
        return name


# scripts by language, for the languages lingua knows that are not written in Latin script
_SCRIPT_OF = {
    "zh": ("han",), "ja": ("han", "kana"), "ko": ("hangul",), "el": ("greek",),
    "he": ("hebrew",), "hy": ("armenian",), "ka": ("georgian",), "th": ("thai",),
    "bn": ("bengali",), "gu": ("gujarati",), "pa": ("gurmukhi",), "ta": ("tamil",),
    "te": ("telugu",), "ru": ("cyrillic",), "uk": ("cyrillic",), "be": ("cyrillic",),
    "bg": ("cyrillic",), "mk": ("cyrillic",), "kk": ("cyrillic",), "mn": ("cyrillic",),
    "sr": ("cyrillic",), "ar": ("arabic",), "fa": ("arabic",), "ur": ("arabic",),
    "hi": ("devanagari",), "mr": ("devanagari",),
}
# languages a sentence in the target's script is told apart from, unless `languages` says
_CANDIDATES = {
    "latin": ("en", "fr", "de", "es", "pt", "it", "nl"),
    "cyrillic": ("ru", "uk", "bg"),
    "arabic": ("ar", "fa", "ur"),
    "devanagari": ("hi", "mr"),
}

# --- language-neutral spans ------------------------------------------------------------------

# Each pass runs only when its trigger substring is present: most texts skip most passes.
_NEUTRAL_PASSES = (
    (("```", "~~~"), re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.DOTALL)),  # fenced code
    (("`",), re.compile(r"`[^`\n]*`")),                                               # inline code
    (("\\begin",), re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)),    # environments
    (("$", "\\"), re.compile(                                                         # LaTeX
        r"(?=[$\\])(?:\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)|(?<!\\)\$[^$\n]+\$"
        r"|\\[A-Za-z]+\*?(?:\{[^{}\n]*\})*)",
        re.DOTALL,
    )),
    (("://", "www."), re.compile(r"(?:https?|ftp)://\S+|www\.\S+")),                  # URLs
    (("@",), re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")),                                # e-mail
    (("<",), re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")),                       # markup tags
)
_MATH_NAMES = frozenset(
    w for name in "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln lg exp lim "
    "max min gcd lcm mod det sup inf arg deg dim ker tr sgn sqrt mathrm mathbf frac cdot".split()
    for w in (name, name.capitalize())
)

# --- function words: a cheap first opinion on Latin-script sentences --------------------------
# A word listed for two languages is dropped from both, so every hit is evidence for one.

_FUNCTION_WORDS_RAW = {
    "en": "the of and to in is it that for was on are with as be this by at from or have an not "
          "but what all were when we there can which their if will about how up out them then "
          "some so these would other into has more her two like him see could no than been its "
          "who now my did only way find use may after just where most know get through back much "
          "before go good new our used me too any same right look think also because does even "
          "here why must should us let wait check answer value sum since therefore thus hence "
          "however suppose given means yes okay maybe perhaps actually first second next each "
          "both either number equation solve compute calculate divide times plus minus equal "
          "equals gives got let's it's that's don't isn't can't we're i'm need want try case",
    "fr": "le la les de des du un une et est en que qui dans pour pas sur au aux par avec ce "
          "cette ces il elle nous vous ils sont être avoir fait plus mais ou donc car ne se "
          "sa son ses leur on comme tout très aussi alors ainsi même bien encore peut faut "
          "c'est n'est qu'il d'un d'une l'on j'ai je tu y à où été était réponse calculer "
          "somme nombre égal vérifier donne chaque entre deux trois",
    "de": "der die das und ist nicht mit den dem des ein eine einen einem zu von auf für sich "
          "es ich wir sie er im auch als aus bei nach oder wie so man kann muss werden wird "
          "sind war hat haben noch nur dann also dass wenn aber über unter zwischen jetzt "
          "hier gleich summe zahl antwort berechnen prüfen wieder schon sehr zwei drei",
    "es": "el la los las de del un una y es en que por para con no se su sus al lo como más "
          "pero o si ya este esta estos estas ese eso son está están ser hay tiene entonces "
          "así también muy porque cuando donde respuesta calcular suma número igual cada "
          "dos tres ahora podemos tenemos primero luego",
    "pt": "o a os as de do da dos das um uma e é em que por para com não se seu sua ao no na "
          "nos nas como mais mas ou se já este esta isso são está ser tem então assim também "
          "muito porque quando onde resposta calcular soma número igual cada dois três agora "
          "podemos temos primeiro depois",
    "it": "il lo la i gli le di del della dei delle un una e è in che per con non si suo sua "
          "al alla come più ma o se già questo questa sono essere ha hanno quindi così anche "
          "molto perché quando dove risposta calcolare somma numero uguale ogni due tre ora "
          "possiamo abbiamo prima dopo",
    "nl": "de het een en is in van dat op te zijn met voor niet aan er om ook als bij maar "
          "dan nog wel door naar uit kan moet wordt worden heeft hebben we wij ik je dit deze "
          "die wat hoe waar antwoord berekenen som getal gelijk elke twee drie nu eerst",
}


def _distinct(raw: dict[str, str]) -> dict[str, frozenset[str]]:
    sets = {lang: set(words.split()) for lang, words in raw.items()}
    seen: dict[str, int] = {}
    for words in sets.values():
        for w in words:
            seen[w] = seen.get(w, 0) + 1
    return {lang: frozenset(w for w in words if seen[w] == 1) for lang, words in sets.items()}


_FUNCTION_WORDS = _distinct(_FUNCTION_WORDS_RAW)


@lru_cache(maxsize=64)
def _function_words(code: str, cands: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """The target's function words and those of the other candidate languages."""
    others = frozenset().union(*(_FUNCTION_WORDS.get(c, ()) for c in cands if c != code))
    return _FUNCTION_WORDS.get(code, frozenset()), others


# --- target resolution -----------------------------------------------------------------------


@lru_cache(maxsize=256)
def _resolve(target: str) -> tuple[str, tuple[str, ...]]:
    """Map ``"en"``, ``"zh-CN"``, ``"French"`` to an ISO 639-1 code and its scripts."""
    from lingua import IsoCode639_1, Language

    key = target.strip().replace("_", "-").split("-")[0].lower() if isinstance(target, str) else ""
    code = None
    if len(key) == 2:
        try:
            code = Language.from_iso_code_639_1(IsoCode639_1.from_str(key)).iso_code_639_1.name
        except ValueError:
            code = None
    if code is None and key:
        try:
            code = Language.from_str(key).iso_code_639_1.name
        except ValueError:
            code = None
    if code is None:
        raise ValueError(f"language: unknown target language {target!r} (use an ISO 639-1 code)")
    code = code.lower()
    return code, _SCRIPT_OF.get(code, ("latin",))


@lru_cache(maxsize=32)
def _detector(codes: tuple[str, ...]):
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_iso_codes_639_1(
        *(IsoCode639_1.from_str(c) for c in codes)
    ).build()


_detector_lock = threading.Lock()


def _get_detector(codes: tuple[str, ...]):
    with _detector_lock:  # build once even when many threads ask at the same time
        return _detector(codes)


def _candidates(code: str, script: str, languages: Iterable[str] | None) -> tuple[str, ...]:
    if languages is None:
        pool = _CANDIDATES.get(script, ())
    else:
        pool = tuple(_resolve(lang)[0] for lang in languages)
    pool = [c for c in pool if _SCRIPT_OF.get(c, ("latin",)) == (script,)]
    if code not in pool:
        pool.append(code)
    return tuple(sorted(set(pool)))


# --- the verifier ----------------------------------------------------------------------------


def strip_neutral(text: str) -> str:
    """Remove think tags, code, LaTeX, URLs and markup: the spans no language owns."""
    text = text.replace(THINK_OPEN, " ").replace(THINK_CLOSE, "\n")
    for triggers, pattern in _NEUTRAL_PASSES:
        if any(t in text for t in triggers):
            text = pattern.sub(" ", text)
    return text


def language_consistency(
    text: str,
    target: str = "en",
    threshold: float = DEFAULT_THRESHOLD,
    *,
    max_run: int | None = DEFAULT_MAX_RUN,
    part: Literal["all", "reasoning", "answer"] = "all",
    languages: Iterable[str] | None = None,
    min_words: int = DEFAULT_MIN_WORDS,
    **options: object,
) -> Verdict:
    """Share of target-language words in ``text`` (reasoning and answer by default).

    Fails below ``threshold`` or on a run of ``max_run`` or more consecutive non-target words
    (``None`` turns the run check off): ``wrong_language`` when under half of the words are in
    the target language, ``mixed_language`` otherwise.
    ``languages`` lists the candidate languages a sentence in the target's script is told apart
    from (default: en fr de es pt it nl for Latin script); ``min_words`` is the shortest sentence
    the language identifier is asked about. ``part`` picks the reasoning, the answer or both.
    """
    if options:
        raise ValueError(f"language: unknown option(s) {sorted(options)}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"language: threshold must lie in [0, 1], got {threshold!r}")
    if max_run is not None and int(max_run) < 1:
        raise ValueError(f"language: max_run must be >= 1, got {max_run!r}")
    if part not in ("all", "reasoning", "answer"):
        raise ValueError(f"language: part must be 'all', 'reasoning' or 'answer', got {part!r}")
    code, target_scripts = _resolve(target)
    if languages is not None:
        languages = tuple([languages] if isinstance(languages, str) else languages)
    if not isinstance(text, str):
        return Verdict.fail(WRONG_LANGUAGE, details={"error": f"text is {type(text).__name__}"})

    if part != "all":
        reasoning, answer = split_think(text)
        text = (reasoning or "") if part == "reasoning" else answer
    clean = strip_neutral(text)

    # One pass over the tokens, sentence by sentence. A sentence's labels are its words' scripts
    # in order, None for a word in the shared script whose language the whole sentence decides.
    primary = target_scripts[0]
    cands = _candidates(code, primary, languages)
    shared = primary if len(cands) > 1 else ""
    sentences: list[tuple[list[str], list[str | None]]] = []
    words: list[str] = []
    labels: list[str | None] = []
    cache = _script_cache
    for tok in _TOKEN.findall(clean):
        c = tok[0]
        if len(tok) == 1 and c in _SEPS:
            if labels:
                sentences.append((words, labels))
                words, labels = [], []
            continue
        script = cache.get(c) or _script(c)
        if script == "latin":
            # not words: variables, f(, GCD, AM-GM, camelCase, numbers, x1, a_n, operator names
            if len(tok) < 2 or tok[-1] == "(" or not tok[1:].islower() or tok in _MATH_NAMES:
                continue
            if not tok.isalpha() and not tok.replace("'", "").replace("’", "").replace("-", "").isalpha():
                continue
        elif script is None or (len(tok) == 1 and script not in _ONE_CHAR_WORDS):
            continue  # a lone Greek or Cyrillic letter is a variable
        if script == shared:
            words.append(tok)
            labels.append(None)
        else:
            labels.append(script)
    if labels:
        sentences.append((words, labels))

    n = n_target = longest = run = 0
    by_language: dict[str, int] = {}
    foreign_scripts: dict[str, int] = {}
    for words, labels in sentences:
        shared_ok = True
        if words:
            lang = _sentence_language(words, code, cands, min_words)
            by_language[lang] = by_language.get(lang, 0) + len(words)
            shared_ok = lang == code
        if code == "ja" and "kana" not in labels and labels.count("han") >= _MIN_CHINESE_RUN:
            # Japanese sentences carry kana; a long all-Han one is Chinese
            labels = ["zh_han" if lab == "han" else lab for lab in labels]
        k = len(labels)
        n += k
        if len(words) == k:  # one language throughout
            k_target = k if shared_ok else 0
        else:
            k_target = (len(words) if shared_ok else 0) + sum(labels.count(t) for t in target_scripts)
        if k_target == k:
            n_target += k
            run = 0
            continue
        if k_target == 0 and len(words) == k:
            run += k
            longest = max(longest, run)
            continue
        for lab in labels:  # a mixed sentence: order matters for the run
            if (shared_ok if lab is None else lab in target_scripts):
                n_target += 1
                run = 0
            else:
                if lab is not None:
                    foreign_scripts[lab] = foreign_scripts.get(lab, 0) + 1
                run += 1
                if run > longest:
                    longest = run

    details = {"words": n, "target_words": n_target, "longest_foreign_run": longest, "target": code}
    if n == 0:
        return Verdict.ok(1.0, details=details)
    score = n_target / n
    if foreign_scripts:
        details["foreign_scripts"] = foreign_scripts
    if by_language:
        details["sentence_languages"] = by_language
    long_run = max_run is not None and longest >= max_run
    if score < threshold or long_run:
        # mostly another language is the wrong language; mostly the target, a mixture
        return Verdict.fail(WRONG_LANGUAGE if score < 0.5 else MIXED_LANGUAGE, score, details=details)
    return Verdict.ok(score, details=details)


def _sentence_language(words: list[str], code: str, cands: tuple[str, ...], min_words: int) -> str:
    """The language of one sentence's target-script words: function words first, then lingua."""
    lowered = set(map(str.lower, words))
    own_words, other_words = _function_words(code, cands)
    own = len(own_words & lowered)
    if own >= 2 and own >= 2 * len(other_words & lowered):
        return code  # the common case, decided without per-language counts
    hits = {lang: len(_FUNCTION_WORDS[lang] & lowered) for lang in cands if lang in _FUNCTION_WORDS}
    hits.pop(code, None)
    other_lang, other = max(hits.items(), key=lambda kv: kv[1], default=(None, 0))
    if len(words) < min_words:
        # too short to identify: a foreign verdict needs clear function-word evidence
        return other_lang if other >= 2 and own == 0 else code
    values = _get_detector(cands).compute_language_confidence_values(" ".join(words))
    if not values:
        return code
    top = values[0]
    top_code = top.language.iso_code_639_1.name.lower()
    if top_code == code:
        return code
    own_conf = next((v.value for v in values if v.language.iso_code_639_1.name.lower() == code), 0.0)
    # close calls go to the target: short technical sentences confuse related languages
    return top_code if top.value - own_conf >= 0.2 else code

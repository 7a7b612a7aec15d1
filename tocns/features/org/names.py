"""Pure matching of typed unit names ("thon 3", "3", "Bản Nà Hin", "xã Lìa") against a list of units.

Shared by /thamgia and /baocao: a unit is picked only when the words name it for sure; otherwise the real
candidates are listed. Decisions in docs/grammar.md.
"""

from __future__ import annotations

from tocns.core.text import fold, fold_compact, similarity
from tocns.features.org.models import OrgUnit

CHOICE_SCORE = 0.5

# Words that say what kind of team a name is; "/thamgia 3" and "/thamgia thon 3" both name "Thôn 3".
TEAM_KIND_WORDS = frozenset(
    {"thon", "ban", "ap", "xom", "to", "dan", "pho", "khu", "khom", "doi", "phum", "soc", "tdp"}
)


# The same for communes and wards ("/baocao xã Lìa" for "Xã Lìa").
COMMUNE_KIND_WORDS = frozenset({"xa", "phuong", "thi", "tran", "dac", "khu"})


def _parts(text: str, kinds: frozenset[str] = TEAM_KIND_WORDS) -> tuple[str, list[str]]:
    """The digits of a name and its other folded words, kind words ("thôn", "tổ dân phố") left out."""
    words = fold(text).replace("-", " ").split()
    digits = "".join(ch for ch in "".join(words) if ch.isdigit())
    rest = [w for w in ("".join(ch for ch in word if not ch.isdigit()) for word in words) if w]
    return digits, [w for w in rest if w not in kinds]


def _exact_team(query: str, team: OrgUnit) -> bool:
    """The typed text names this team exactly: its code, or its name without diacritics, spaces or case."""
    folded = fold(query)
    return folded == team.code.lower() or fold_compact(query) == fold_compact(team.name) or folded == team.name_folded


def _same_name(query: str, team: OrgUnit, kinds: frozenset[str]) -> bool:
    """Same number and same words once kind words are dropped ("3" and "thon 3" for "Thôn 3")."""
    q_digits, q_words = _parts(query, kinds)
    t_digits, t_words = _parts(team.name, kinds)
    if not q_digits and not q_words:
        return False
    return q_digits == t_digits and q_words == t_words


def _candidates(query: str, teams: list[OrgUnit], kinds: frozenset[str]) -> list[OrgUnit]:
    """Units that plausibly carry the typed name: the same number if one is typed, similar words if any are."""
    q_digits, q_words = _parts(query, kinds)
    scored: list[tuple[float, OrgUnit]] = []
    for team in teams:
        t_digits, t_words = _parts(team.name, kinds)
        if q_digits and q_digits != t_digits:
            continue  # "thon 9" is never "Thôn Y" nor "Thôn 3"
        if q_words:
            if not t_words:
                continue
            score = similarity(" ".join(q_words), " ".join(t_words))
        else:
            score = 1.0 if q_digits else similarity(query, team.name)
        if score >= CHOICE_SCORE:
            scored.append((score, team))
    scored.sort(key=lambda pair: (-pair[0], pair[1].name))
    return [team for _, team in scored]


def pick_team(
    query: str, teams: list[OrgUnit], kinds: frozenset[str] = TEAM_KIND_WORDS
) -> tuple[OrgUnit | None, list[OrgUnit]]:
    """The unit the typed text names for sure, or None with the real candidates to list (maybe none)."""
    exact = [t for t in teams if _exact_team(query, t)]
    if len(exact) == 1:
        return exact[0], []
    same = [t for t in teams if _same_name(query, t, kinds)]
    if not exact and len(same) == 1:
        return same[0], []
    return None, exact or same or _candidates(query, teams, kinds)


def name_words_match(query: str, name: str) -> bool:
    """Whether every typed word is a whole word of the name, folded ("hoa" names "Bế Thị Hoa", never "Hoàng")."""
    typed = fold(query).split()
    words = set(fold(name).split())
    return bool(typed) and all(word in words for word in typed)

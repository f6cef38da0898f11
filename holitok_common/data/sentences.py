"""A small English grammar that writes varied, grammatical read-speech sentences (4-20 words).

Vocabulary: the word lists in `lexicon/` (package data; about 3,700 distinct word forms: nouns and
people with plurals, transitive/intransitive verbs with all forms, adjectives, adverbs, first names,
places, time phrases). Templates: statements in past/present/future/progressive, yes/no and wh-
questions, subordinate and relative clauses, reported speech, imperatives, and numbers, times and
years written out in words. Everything is driven by one `random.Random(seed)`: the same seed gives
the same sentences, on every platform (no hash-ordering or set iteration is involved).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from holitok_common.numbers_en import cardinal, year

MIN_WORDS, MAX_WORDS = 4, 20


@dataclass(frozen=True)
class Lexicon:
    nouns: tuple[tuple[str, str], ...]  # (singular, plural)
    people: tuple[tuple[str, str], ...]
    verbs_t: tuple[tuple[str, ...], ...]  # (base, 3sg, past, participle, -ing)
    verbs_i: tuple[tuple[str, ...], ...]
    adjectives: tuple[str, ...]
    adverbs: tuple[str, ...]
    names: tuple[str, ...]
    places: tuple[str, ...]
    times: tuple[str, ...]

    def num_word_forms(self) -> int:
        words = {w for group in (self.nouns, self.people, self.verbs_t, self.verbs_i) for row in group for w in row}
        words |= set(self.adjectives) | set(self.adverbs) | set(self.names) | set(self.places)
        return len(words | {w for t in self.times for w in t.split()})

    def subset(self, fraction: float) -> "Lexicon":
        """Every list cut to `fraction` of its rows (at least 2), picked evenly spaced through the
        (alphabetical) list so the subset keeps its variety. 1.0 returns the full lexicon. A
        small-vocabulary corpus (like Resource Management's ~1,000 words) lets a tiny model from
        scratch see every word many times, so that a CPU-sized ASR can generalise to unseen
        sentences instead of meeting one word in ten for the first time at test time."""
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"lexicon fraction must be in (0, 1], got {fraction}")
        if fraction == 1.0:
            return self

        def cut(rows: tuple) -> tuple:
            n = max(2, round(len(rows) * fraction))
            return tuple(rows[(i * len(rows)) // n] for i in range(n))

        return Lexicon(*(cut(getattr(self, f)) for f in
                         ("nouns", "people", "verbs_t", "verbs_i", "adjectives", "adverbs", "names", "places", "times")))


def _rows(name: str, width: int | None = None) -> tuple:
    text = resources.files("holitok_common.data.lexicon").joinpath(name).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if width is None:
        return tuple(lines)
    rows = tuple(tuple(line.split()) for line in lines)
    bad = [r for r in rows if len(r) != width]
    if bad:
        raise ValueError(f"lexicon/{name}: rows must have {width} words, got {bad[:3]}")
    return rows


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    return Lexicon(_rows("nouns.txt", 2), _rows("people.txt", 2), _rows("verbs_transitive.txt", 5),
                   _rows("verbs_intransitive.txt", 5), _rows("adjectives.txt"), _rows("adverbs.txt"),
                   _rows("names.txt"), _rows("places.txt"), _rows("time_phrases.txt"))


def _a(word: str) -> str:
    """Indefinite article for `word` ('an apple', 'a unicorn', 'an honest')."""
    w = word.lower()
    vowel = w[0] in "aeiou" and not w.startswith(("uni", "use", "usu", "eu", "one"))
    return "an" if vowel or w.startswith(("hour", "honest")) else "a"


class SentenceGenerator:
    """`SentenceGenerator(seed).take(n)` -> n distinct sentences, deterministic in `seed`."""

    def __init__(self, seed: int = 0, lexicon: Lexicon | None = None):
        self.rng = random.Random(seed)
        self.lex = lexicon or load_lexicon()
        self.templates = [getattr(self, name) for name in sorted(dir(self)) if name.startswith("_t_")]

    # ---- phrases -------------------------------------------------------------------------------
    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def noun_phrase(self) -> str:
        sg, pl = self.pick(self.lex.nouns)
        adj = self.pick(self.lex.adjectives)
        kind = self.rng.randrange(7)
        if kind == 0:
            return f"{_a(adj)} {adj} {sg}"
        if kind == 1:
            return f"the {adj} {sg}"
        if kind == 2:
            return f"{self.pick(('my', 'his', 'her', 'their', 'our', 'your'))} {sg}"
        if kind == 3:
            return f"{cardinal(self.rng.randint(2, 12))} {adj} {pl}"
        if kind == 4:
            return f"{self.pick(('some', 'many', 'a few', 'the'))} {pl}"
        return f"the {sg}"

    def subject(self) -> str:
        """A third-person singular subject (verb agreement stays simple)."""
        person, _ = self.pick(self.lex.people)
        kind = self.rng.randrange(4)
        if kind <= 1:
            return self.pick(self.lex.names)
        if kind == 2:
            return f"the {self.pick(self.lex.adjectives)} {person}"
        return f"{self.pick(('the', 'my', 'our', 'a'))} {person}" if kind == 3 else f"the {person}"

    def place(self) -> str:
        if self.rng.random() < 0.5:
            return "in " + self.pick(self.lex.places)
        prep = self.pick(("near", "behind", "under", "beside", "inside", "across", "next to", "at"))
        return f"{prep} the {self.pick(self.lex.nouns)[0]}"

    def extra(self) -> str:
        """An optional place, time or manner phrase (may be empty)."""
        kind = self.rng.randrange(4)
        return ("", self.place(), self.pick(self.lex.times), self.pick(self.lex.adverbs))[kind]

    def clause(self) -> str:
        verb = self.pick(self.lex.verbs_t)
        return f"{self.subject()} {verb[2]} {self.noun_phrase()}"

    # ---- templates (each returns a sentence without final punctuation, and '.' or '?') ----------
    def _t_past(self):
        return f"{self.clause()} {self.extra()}", "."

    def _t_intransitive(self):
        verb = self.pick(self.lex.verbs_i)
        return f"{self.subject()} {verb[2]} {self.pick(self.lex.adverbs)} {self.extra()}", "."

    def _t_present(self):
        verb = self.pick(self.lex.verbs_t)
        how = self.pick(("usually", "often", "sometimes", "never", "always", ""))
        return f"{self.subject()} {how} {verb[1]} {self.noun_phrase()} {self.pick(self.lex.times)}", "."

    def _t_future(self):
        verb = self.pick(self.lex.verbs_t)
        return f"{self.subject()} will {verb[0]} {self.noun_phrase()} {self.pick(self.lex.times)}", "."

    def _t_progressive(self):
        verb, other = self.pick(self.lex.verbs_t), self.pick(self.lex.verbs_i)
        return f"{self.subject()} was {verb[4]} {self.noun_phrase()} when {self.subject()} {other[2]}", "."

    def _t_yes_no(self):
        verb = self.pick(self.lex.verbs_t)
        return f"did {self.subject()} {verb[0]} {self.noun_phrase()} {self.extra()}", "?"

    def _t_wh(self):
        verb = self.pick(self.lex.verbs_t)
        wh = self.pick(("why", "when", "where", "how"))
        return f"{wh} did {self.subject()} {verb[0]} {self.noun_phrase()}", "?"

    def _t_how_many(self):
        noun, verb = self.pick(self.lex.nouns), self.pick(self.lex.verbs_t)
        return f"how many {noun[1]} did {self.subject()} {verb[0]} {self.place()}", "?"

    def _t_ever(self):
        verb, adj, noun = self.pick(self.lex.verbs_t), self.pick(self.lex.adjectives), self.pick(self.lex.nouns)[0]
        return f"have you ever {verb[3]} {_a(adj)} {adj} {noun} {self.place()}", "?"

    def _t_subordinate(self):
        conj = self.pick(("when", "because", "after", "before", "although", "while", "as soon as"))
        verb = self.pick(self.lex.verbs_i)
        return f"{conj} {self.subject()} {verb[2]} {self.extra()}, {self.clause()}", "."

    def _t_compound(self):
        return f"{self.clause()}, {self.pick(('and', 'but', 'so'))} {self.clause()}", "."

    def _t_reported(self):
        said = self.pick(("said", "thought", "told me", "explained", "remembered", "wrote"))
        return f"{self.pick(self.lex.names)} {said} that {self.clause()} {self.pick(self.lex.times)}", "."

    def _t_relative(self):
        noun, verb = self.pick(self.lex.nouns)[0], self.pick(self.lex.verbs_t)
        adj = self.pick(self.lex.adjectives)
        return f"the {noun} that {self.subject()} {verb[2]} was very {adj}", "."

    def _t_imperative(self):
        verb = self.pick(self.lex.verbs_t)
        return f"{self.pick(('please', 'do not', 'never', 'always', ''))} {verb[0]} {self.noun_phrase()} {self.extra()}", "."

    def _t_price(self):
        noun, n, price = self.pick(self.lex.nouns), self.rng.randint(2, 40), self.rng.randint(2, 950)
        return (f"{self.pick(self.lex.names)} bought {cardinal(n)} {noun[1]} for "
                f"{cardinal(price)} {self.pick(('dollars', 'pounds', 'euros'))}"), "."

    def _t_clock(self):
        hour, minute = self.rng.randint(1, 12), self.rng.choice((0, 15, 30, 45, self.rng.randint(1, 59)))
        when = f"{cardinal(hour)} o'clock" if minute == 0 else f"{cardinal(hour)} {cardinal(minute)}"
        vehicle = self.pick(("train", "bus", "boat", "plane", "coach"))
        return f"the {vehicle} to {self.pick(self.lex.places)} leaves at {when} {self.pick(('today', 'tonight', 'tomorrow', ''))}", "."

    def _t_year(self):
        when = year(self.rng.randint(1900, 2030))
        return f"in {when}, {self.clause()} {self.place()}", "."

    def _t_there_were(self):
        noun, adj = self.pick(self.lex.nouns), self.pick(self.lex.adjectives)
        n = self.rng.randint(2, 999)
        return f"there were {cardinal(n)} {adj} {noun[1]} {self.place()}", "."

    # ---- driver ------------------------------------------------------------------------------------
    def sentence(self) -> str:
        """One sentence of MIN_WORDS..MAX_WORDS words, capitalised, with final punctuation."""
        while True:
            body, mark = self.pick(self.templates)()
            words = body.replace(" ,", ",").split()
            if MIN_WORDS <= len(words) <= MAX_WORDS:
                text = " ".join(words).rstrip(",")
                return text[0].upper() + text[1:] + mark

    def take(self, n: int) -> list[str]:
        """`n` distinct sentences (first occurrences kept, in generation order)."""
        out, seen = [], set()
        while len(out) < n:
            s = self.sentence()
            if s not in seen:
                seen.add(s)
                out.append(s)
        return out

"""The Debian speech engines and voices the embedded corpus is synthesised with.

Each voice is a `VoiceSpec`: an engine (espeak-ng formant voices, mbrola diphone voices driven by
espeak-ng, flite, festival, pico, RHVoice), the Debian package that provides it, and a fixed speaking rate
(espeak-ng's default 175 wpm is hard to understand; 130-160 is clearer). `voice_available` checks a
voice without synthesising; `ensure_engines` installs what is missing with apt-get (root only).
mbrola, festvox, pico and RHVoice voices are in Debian contrib/non-free: a deb822 sources file enabling them is added first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan")
ESPEAK_VARIANTS = ("m1", "m3", "f2", "f4")
CONTRIB_SOURCES = Path("/etc/apt/sources.list.d/holitok-contrib.sources")
MBROLA_DIR = Path("/usr/share/mbrola")
# Non-English mbrola voices that espeak-ng can drive with English text ("mb-<name>-en").
MBROLA_ENGLISH_READERS = ("af1", "de1", "de2", "de3", "de4", "de5", "de6", "fr1", "fr4", "gr2", "hu1", "nl2",
                          "pl1", "ro1", "sw1", "sw2")
RHVOICE_DIR = Path("/usr/share/RHVoice/voices")
FESTIVAL_VOICES = Path("/usr/share/festival/voices")


@dataclass(frozen=True)
class VoiceSpec:
    """One synthetic speaker. `voice_id` is the corpus speaker id; `rate` is words per minute
    (espeak-ng/mbrola only); `packages` are the Debian packages it needs."""

    voice_id: str
    engine: str  # "espeak-ng" | "mbrola" | "flite" | "festival" | "pico" | "rhvoice"
    name: str  # the engine's own voice name
    packages: tuple[str, ...]
    rate: int = 145


def _espeak_voices() -> list[VoiceSpec]:
    voices = []
    for i, accent in enumerate(ESPEAK_ACCENTS):
        for j, variant in enumerate(ESPEAK_VARIANTS):
            rate = 130 + 5 * ((i + 2 * j) % 7)  # 130..160 wpm, fixed per voice
            voices.append(VoiceSpec(f"espeak-{accent}-{variant}", "espeak-ng", f"{accent}+{variant}",
                                    ("espeak-ng",), rate))
    return voices


VOICE_SETS = ("base", "extended")


def all_voices(voice_set: str = "base") -> list[VoiceSpec]:
    """Every voice of `voice_set`, in a fixed order (the order is part of determinism).

    "base": the 36 voices of the corpora up to session 13 (24 espeak-ng, 4 mbrola, 5 flite, 3 festival;
    what the unified model trains on). "extended": those plus 24 recorded identities
    (`_more_natural_voices`), the tiny recipe's tokenizer corpus: a tokenizer that has heard more natural
    voices reconstructs unseen ones better (docs/tts_diagnosis.md, session 14).
    """
    if voice_set not in VOICE_SETS:
        raise ValueError(f"unknown voice set {voice_set!r}: use one of {', '.join(VOICE_SETS)}")
    voices = _espeak_voices()
    voices += [VoiceSpec(f"mbrola-{n}", "mbrola", f"mb-{n}", ("espeak-ng", "mbrola", f"mbrola-{n}"), r)
               for n, r in (("us1", 140), ("us2", 145), ("us3", 140), ("en1", 135))]
    voices += [VoiceSpec(f"flite-{n}", "flite", n, ("flite",)) for n in ("kal", "kal16", "awb", "rms", "slt")]
    voices += [VoiceSpec(f"festival-{short}", "festival", name, ("festival", pkg)) for short, name, pkg in (
        ("kal", "kal_diphone", "festvox-kallpc16k"),
        ("ked", "ked_diphone", "festvox-kdlpc16k"),
        ("slt", "cmu_us_slt_arctic_hts", "festvox-us-slt-hts"))]
    if voice_set == "extended":
        voices += _more_natural_voices()
    return voices


def _more_natural_voices() -> list[VoiceSpec]:
    """Recorded (diphone / HMM) identities added in session 14 to widen the training voices: the
    non-English mbrola voices reading English through espeak-ng's phoneme maps (accented English),
    pico (2), RHVoice (4) and festival's rab and don. RHVoice's "alan" is left out: it is built from
    the CMU ARCTIC awb recordings, the held-out flite-awb's identity."""
    voices = [VoiceSpec(f"mbrola-{n}", "mbrola", f"mb-{n}-en", ("espeak-ng", "mbrola", f"mbrola-{n}"), 140)
              for n in MBROLA_ENGLISH_READERS]
    voices += [VoiceSpec(f"pico-{lang.lower()}", "pico", lang, ("libttspico-utils",)) for lang in ("en-US", "en-GB")]
    voices += [VoiceSpec(f"rhvoice-{n}", "rhvoice", n, ("rhvoice", "rhvoice-english"))
               for n in ("bdl", "clb", "evgeniy-eng", "lyubov")]
    voices += [VoiceSpec(f"festival-{short}", "festival", f"{short}_diphone", ("festival", pkg))
               for short, pkg in (("rab", "festvox-rablpc16k"), ("don", "festvox-don"))]
    return voices


# Voices never used for training: one per engine family, each a recorded identity that no other
# voice shares (kal and slt exist in both flite and festival, so they are not held out).
HELDOUT_VOICES = ("flite-awb", "festival-ked", "mbrola-us3")


@lru_cache(maxsize=None)
def _flite_voices() -> frozenset[str]:
    if not shutil.which("flite"):
        return frozenset()
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    return frozenset(out.split(":", 1)[-1].split())


def voice_available(voice: VoiceSpec) -> bool:
    """True when the voice's engine binary and voice data are installed (no synthesis)."""
    if voice.engine == "espeak-ng":
        return shutil.which("espeak-ng") is not None
    if voice.engine == "mbrola":
        name = voice.name.removeprefix("mb-").removesuffix("-en")
        return bool(shutil.which("espeak-ng") and shutil.which("mbrola")) and (MBROLA_DIR / name / name).is_file()
    if voice.engine == "flite":
        return voice.name in _flite_voices()
    if voice.engine == "festival":
        return bool(shutil.which("text2wave")) and any(FESTIVAL_VOICES.glob(f"*/{voice.name}"))
    if voice.engine == "pico":
        return shutil.which("pico2wave") is not None
    if voice.engine == "rhvoice":
        return shutil.which("RHVoice-test") is not None and (RHVOICE_DIR / voice.name).is_dir()
    raise ValueError(f"unknown engine {voice.engine!r} for voice {voice.voice_id}")


def available_voices(voice_set: str = "base") -> tuple[list[VoiceSpec], list[VoiceSpec]]:
    """(present, missing) voices of `voice_set`, each in `all_voices()` order."""
    _flite_voices.cache_clear()
    present, missing = [], []
    for v in all_voices(voice_set):
        (present if voice_available(v) else missing).append(v)
    return present, missing


def missing_packages(missing: list[VoiceSpec]) -> list[str]:
    packages = {p for v in missing for p in v.packages}
    packages.add("sox")  # not needed by the corpus builder, but the project's recipes use it
    if shutil.which("sox"):
        packages.discard("sox")
    return sorted(packages)


def _contrib_sources_text() -> str:
    """deb822 stanza enabling contrib/non-free, mirroring the main Debian source's URI and key."""
    uri, keyring = "http://deb.debian.org/debian", "/usr/share/keyrings/debian-archive-keyring.gpg"
    main = Path("/etc/apt/sources.list.d/debian.sources")
    if main.is_file():
        for stanza in main.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
            if "bookworm" in fields.get("Suites", "").split() and "URIs" in fields:
                uri = fields["URIs"].split()[0]
                keyring = fields.get("Signed-By", keyring).strip()
                break
    return ("# Added by `holitok-data engines --install`: mbrola voices are in contrib/non-free.\n"
            f"Types: deb\nURIs: {uri}\nSuites: bookworm bookworm-updates\n"
            f"Components: contrib non-free\nSigned-By: {keyring}\n")


def install_packages(packages: list[str]) -> None:
    """apt-get install `packages` (root only), enabling contrib/non-free first (mbrola, festvox,
    pico and RHVoice live there)."""
    if not CONTRIB_SOURCES.exists():
        CONTRIB_SOURCES.write_text(_contrib_sources_text())
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True, env=env)


def ensure_engines(install: bool, voice_set: str = "extended") -> int:
    """Print which voices of `voice_set` (default: all of them) are present; with `install` (as root)
    apt-get the missing packages.

    Returns a process exit code: 0 when every voice is present (after installing), 1 otherwise.
    A no-op (no apt-get call) when everything is already installed.
    """
    present, missing = available_voices(voice_set)
    print(f"speech voices present: {len(present)}/{len(present) + len(missing)}")
    if not missing:
        return 0
    packages = missing_packages(missing)
    print("missing voices: " + ", ".join(v.voice_id for v in missing))
    if not install:
        print("install them with:\n  sudo apt-get update && sudo apt-get install -y " + " ".join(packages)
              + f"\n(mbrola-* need contrib/non-free enabled; `holitok-data engines --install` as root does both)")
        return 1
    if os.geteuid() != 0:
        print("not root: cannot install. Run as root: sudo " + " ".join(sys.argv[:1]) + " engines --install\n"
              "or: sudo apt-get install -y " + " ".join(packages), file=sys.stderr)
        return 1
    install_packages(packages)
    present, missing = available_voices(voice_set)
    print(f"after install: {len(present)} voices present, missing: {[v.voice_id for v in missing] or 'none'}")
    return 0 if not missing else 1

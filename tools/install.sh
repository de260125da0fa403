#!/usr/bin/env bash
# Idempotent installer (ESPnet's tools/ convention): the Debian packages the recipe needs and the
# project's virtual environment tools/venv with every Python package at the exact version in
# tools/constraints.txt. Re-running it when nothing changed does nothing.
#
#   tools/install.sh            # both
#   SKIP_APT=1 tools/install.sh # only the venv (e.g. no root; install the packages yourself)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=tools/venv

# --- Debian packages: one list per concern in tools/debian_packages.d/*.txt ---------------------
mapfile -t pkgs < <(cat tools/debian_packages.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && [ -z "${SKIP_APT:-}" ]; then
    echo "install.sh: installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
elif [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: SKIP_APT set; these Debian packages are missing: ${missing[*]}" >&2
fi

# --- Offline guard for ESPnet's g2p_en import ------------------------------------------------------
# espnet2.text.phoneme_tokenizer imports g2p_en, which calls nltk.download() at import time when
# its two resources are absent: a network request from every ESPnet process. We never use English
# g2p, so empty archives under tools/nltk_data (exported as NLTK_DATA by path.sh and the tests)
# satisfy the lookup and no download is attempted.
mkdir -p tools/nltk_data/taggers tools/nltk_data/corpora
for z in taggers/averaged_perceptron_tagger_eng.zip corpora/cmudict.zip; do
    [ -f "tools/nltk_data/$z" ] || "$PYTHON" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').close()" "tools/nltk_data/$z"
done

# --- Python venv ---------------------------------------------------------------------------------
stamp="$VENV/.installed-$(cat setup.py tools/constraints.txt | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
    exit 0
fi
# The venv is about 7.5 GiB (torch's PyPI wheel brings its CUDA runtime even for CPU use) and pip
# unpacks wheels beside it: say so up front rather than die mid-install with ENOSPC.
min_free_gib=${MIN_FREE_GIB:-9}
free_gib=$(df -Pk tools | awk 'NR==2 {print int($4 / 1048576)}')
if [ "$free_gib" -lt "$min_free_gib" ]; then
    echo "install.sh: only ${free_gib} GiB free on the file system of $(pwd)/tools; the Python" \
         "environment needs about ${min_free_gib} GiB. Free some space (old exp/ or dump/ dirs," \
         "pip's cache) and rerun, or set MIN_FREE_GIB=0 to try anyway." >&2
    exit 2
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# pip >= 26 fails on a direct-URL requirement in espnet's dependency tree: stay below it.
"$VENV/bin/python" -m pip install -q "pip==23.2.1"
"$VENV/bin/python" -m pip install -c tools/constraints.txt -e ".[test]"
# Import check: fails here, not in the middle of a recipe, if the pins stop working together.
"$VENV/bin/python" -c "import espnet2.bin.asr_train, s3prl.hub, espnet_ext, jiwer, kaldiio, sentencepiece" \
    > /dev/null 2>&1 || { echo "install.sh: import check failed:"; "$VENV/bin/python" -c \
    "import espnet2.bin.asr_train, s3prl.hub, espnet_ext, jiwer, kaldiio, sentencepiece"; exit 1; }
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "install.sh: environment ready in $VENV"

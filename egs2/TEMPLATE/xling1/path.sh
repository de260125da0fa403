# Environment of the recipe: the project's venv, the runners in utils/, thread and malloc settings.
XLING_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
if [ -f "${XLING_ROOT}/tools/venv/bin/activate" ]; then
    # shellcheck disable=SC1091
    . "${XLING_ROOT}/tools/venv/bin/activate"
fi
export PATH="${PWD}/utils:${PATH}"
export PYTHONIOENCODING=UTF-8
export LC_ALL=C.UTF-8
# glibc malloc fragmented ESPnet CPU training up to 8 GB RSS; jemalloc kept it at 1-2 GB
# (measured). Preloaded only where the library exists. Its default 10 s page purging made a
# Conformer training step ~1.7x slower than glibc here; 30 s decay measured on par with glibc.
# XLING_MALLOC=glibc skips the preload (benchmarks/peak_rss.py --compare_malloc measures both).
if [ "${XLING_MALLOC:-}" != glibc ]; then
    for _lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2; do
        if [ -f "${_lib}" ]; then
            case ":${LD_PRELOAD:-}:" in *":${_lib}:"*) ;; *) export LD_PRELOAD="${_lib}${LD_PRELOAD:+:${LD_PRELOAD}}" ;; esac
            export MALLOC_CONF=${MALLOC_CONF:-dirty_decay_ms:30000,muzzy_decay_ms:30000}
            break
        fi
    done
fi
# Empty NLTK resources made by tools/install.sh: stop g2p_en (imported by every ESPnet process)
# from trying to download them.
export NLTK_DATA="${XLING_ROOT}/tools/nltk_data"

#!/usr/bin/env bash
# Data preparation of the CGN study (stage 1) from a local copy of CGN (db.sh: CGN):
#   ${datadir}/pretrain_nl/              pre-training pool: Flemish CGN chunks of the train
#                                        speakers, minus the speakers held out for text
#   ${datadir}/dev_nl/                   pre-training validation (dev speakers, <= dev_max_hours)
#   ${datadir}/{train,test}_nl/          all train speakers / the test speakers (ASR on Flemish,
#                                        with --languages nl)
#   ${datadir}/pretrain_text_nl/sentences.txt
#                                        transcripts of the held-out text speakers, without any
#                                        sentence of the pool, dev or test (the joint model's text)
#   ${datadir}/local/                    CGN's own dirs (cgn_vl, cgn_vl_{train,dev,test}) and the
#                                        cut 16 kHz audio (local/audio/cgn_vl)
# No speaker is in two of pool, text, dev and test. The evaluation languages come from
# xling.sh's --lang_data (run.sh), not from here. Idempotent: the preparation keeps
# ${datadir}/.cgn_nl.done with its options (other options need --force true).
set -euo pipefail

datadir=data
cgn_components="a,b,f,g,h,i,j,k,l,o"  # CGN components (letters a-o, comma- or space-separated)
cgn_regions=vl          # vl (Flanders); nl (the Netherlands) or "vl,nl" for both
cgn_max_hours=""        # keep at most this much CGN speech (seeded recordings); empty: all
text_ratio=0.1          # share of the train speakers' duration held out as text only
dev_max_hours=2         # cap of dev_nl (pre-training validates on it every epoch)
languages=nl            # languages the run needs from here (xling.sh): CGN gives nl only
need_roots=""           # more db.sh roots that must be set, comma-separated (run.sh: those its
                        # evaluation languages use, e.g. FLEURS,COMMON_VOICE)
nj=2
seed=1
force=false

. ./utils/parse_options.sh
. ./path.sh
. ./db.sh

. local/check_root.sh
for _lang in ${languages}; do
    # Not an error here: only a stage that uses such a language needs its data.
    [ "${_lang}" = nl ] || echo "$0: note: CGN has no '${_lang}' speech; a stage that uses it" \
        "needs it from --lang_data (run.sh: --eval_langs)" >&2
done
check_root CGN
for _root in ${need_roots//,/ }; do
    check_root "${_root}"
done

_force=(); [ "${force}" = true ] && _force=(--force)
_max=(); [ -n "${cgn_max_hours}" ] && _max=(--max_hours "${cgn_max_hours}")
_dev=(); [ -n "${dev_max_hours}" ] && _dev=(--dev_max_hours "${dev_max_hours}")
# shellcheck disable=SC2086
python3 -m espnet_ext.bin.prepare_cgn --root "${CGN}" --out_dir "${datadir}" --lang nl \
    --regions ${cgn_regions//,/ } --components ${cgn_components//,/ } \
    --text_ratio "${text_ratio}" --nj "${nj}" --seed "${seed}" \
    "${_max[@]}" "${_dev[@]}" "${_force[@]}"

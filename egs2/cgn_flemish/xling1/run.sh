#!/usr/bin/env bash
# The real study, GPU-sized: self-supervised pre-training on Flemish CGN (APC, wav2vec 2.0, the
# joint text-audio model and its audio-only twin, each on nested amounts of the pool), then
# downstream ASR on non-Germanic languages for each of them, fbank and off-the-shelf upstreams.
# Corpus paths: db.sh; what they must contain, disk, time and GPU needs: README.md.
#   ./run.sh                                    # every stage
#   ./run.sh --stage 1 --stop_stage 2           # data, token lists and phones only
#   ./run.sh --eval_langs "es=common_voice:es cs=common_voice:cs" --stage 5
# Options of run.sh itself: --eval_langs, --local_data_opts (added to the defaults below); any
# other --option goes to xling.sh (see the variables at its top).
set -euo pipefail

# Evaluation languages, "CODE=KIND:FOLDER ...": KIND fleurs or common_voice, FOLDER a language
# folder inside db.sh's FLEURS or COMMON_VOICE (other kinds of xling.sh --lang_data, e.g.
# kaldi, take an absolute path). Romance, Slavic and Bantu, all from FLEURS so that every
# language has the same kind of read speech and the same sentences.
eval_langs="es=fleurs:es_419 fr=fleurs:fr_fr it=fleurs:it_it cs=fleurs:cs_cz pl=fleurs:pl_pl sw=fleurs:sw_ke"
# local/data.sh: the CGN selection (comma-separated: xling.sh splits these options on spaces).
local_data_opts="--cgn_components a,b,f,g,h,i,j,k,l,o --cgn_regions vl --text_ratio 0.1 --dev_max_hours 2 --nj 8"

args=()
stage=1
stop_stage=10000
while [ $# -gt 0 ]; do
    case "$1" in
        --eval_langs) eval_langs=$2; shift 2 ;;
        --local_data_opts) local_data_opts+=" $2"; shift 2 ;;
        # read here and passed on: stage 1 needs db.sh's roots
        --stage) stage=$2; args+=("$1" "$2"); shift 2 ;;
        --stop_stage) stop_stage=$2; args+=("$1" "$2"); shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

. ./db.sh
. local/check_root.sh
# --lang_data of xling.sh from eval_langs (the db.sh roots used here are checked below).
lang_data=""
roots=""
for _entry in ${eval_langs}; do
    _kind=${_entry#*=}; _kind=${_kind%%:*}
    case "${_kind}" in
        fleurs) _root=FLEURS ;;
        common_voice) _root=COMMON_VOICE ;;
        *) _root="" ;;
    esac
    if [ -n "${_root}" ]; then
        lang_data+=" ${_entry%%:*}:${!_root}/${_entry#*:}"
        [[ ",${roots}," == *",${_root},"* ]] || roots+="${roots:+,}${_root}"
    else
        lang_data+=" ${_entry}"
    fi
done

# Stage 1 reads the roots: an unset one is named here, before xling.sh would report its
# --lang_data path (e.g. /sw_ke for an empty FLEURS) as missing.
if [ "${stage}" -le 1 ] 2>/dev/null && [ "${stop_stage}" -ge 1 ] 2>/dev/null; then
    check_root CGN
    for _root in ${roots//,/ }; do check_root "${_root}"; done
fi

# APC and wav2vec 2.0 on four nested amounts of the pool (the seed paper's "more Flemish" curve,
# equal update budget per amount); the joint model and its audio-only twin on the smallest and the
# whole pool (text with little and with all audio; the twin equals wav2vec2_base there by
# construction: their difference is the run-to-run noise). Off-the-shelf: English APC and
# wav2vec 2.0, multilingual XLSR-53. Downstream as the default recipe, on 1 h training sets
# (ML-SUPERB), clean + degraded tests decoded by CTC best path; float16 caches (half the disk).
./xling.sh \
    --ngpu 1 \
    --nj 8 \
    --inference_nj 8 \
    --languages "" \
    --lang_data "${lang_data}" \
    --local_data_opts "${local_data_opts}${roots:+ --need_roots ${roots}}" \
    --train_max_hours 1 \
    --train_jobs 1 \
    --token_type char \
    --upstreams "fbank apc wav2vec2_base xlsr53" \
    --pretrain_configs "conf/pretrain/apc_base.yaml conf/pretrain/wav2vec2_base.yaml conf/pretrain/joint_base.yaml:10,all" \
    --pretrain_hours "10 50 100 all" \
    --feats_dtype float16 \
    --asr_config conf/asr/train_asr_conformer.yaml \
    --inference_config conf/decode/decode_ctc_greedy.yaml \
    --degrade_config conf/degrade/default.yaml \
    --probe_languages "nl es cs" \
    --probe_num_utts 60 \
    "${args[@]}"

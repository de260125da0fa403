#!/usr/bin/env bash
# Data preparation of the offline default recipe (stage 1), built only from Debian packages
# (installed by tools/install.sh; paths in db.sh) and speech synthesis:
#   ${datadir}/{train,dev,test}_<lang>   labelled sets, split by sentence text (no text shared
#                                        between train and dev/test); nl cs es fr it ru
#   ${datadir}/pretrain_text_nl/         Dutch text corpus (test/dev sentences excluded)
#   ${datadir}/pretrain_synth_nl/        synthetic Dutch speech (espeak-ng voices), ${pretrain_hours} h
#   ${datadir}/pretrain_nl/              pre-training pool: train_nl (real) + synthetic speech,
#                                        interleaved so every nested amount mixes both
#   ${datadir}/summary.{md,json}         hours / utterances / speakers per set
# Every set carries a provenance file (package, version, licence). Idempotent: each step keeps a
# .done marker with its options.
set -euo pipefail

datadir=data
languages="nl cs es fr it ru"
max_utts_per_lang=0     # >0: deterministic subsample per language (fast variant)
pretrain_hours=2        # hours of synthetic Dutch speech for pre-training
nj=2
seed=1
force=false

. ./utils/parse_options.sh
. ./path.sh
. ./db.sh

_force=(); [ "${force}" = true ] && _force=(--force)
_max=(); [ "${max_utts_per_lang}" -gt 0 ] && _max=(--max_utts_per_lang "${max_utts_per_lang}")

python3 -m espnet_ext.bin.prepare_offline_corpus \
    --out_root . --data_dir "${datadir}" --languages "${languages}" --seed "${seed}" --nj "${nj}" \
    --game_dir "${FILLETS}" --asterisk_sounds_dir "${ASTERISK_SOUNDS}" --doc_dir "${ASTERISK_DOCS}" \
    --festvox_dir "${FESTVOX_RU}" "${_max[@]}" "${_force[@]}"

_excl=()
for _set in dev_nl test_nl; do
    [ -f "${datadir}/${_set}/text" ] && _excl+=(--exclude_text "${datadir}/${_set}/text")
done
python3 -m espnet_ext.bin.prepare_pretrain_data \
    --lang nl --text_out "${datadir}/pretrain_text_nl/sentences.txt" "${_excl[@]}" \
    --synth_hours "${pretrain_hours}" --out_dir "${datadir}/pretrain_synth_nl" \
    --audio_dir "${datadir}/local/audio/synth_nl" --nj "${nj}" --seed "${seed}" "${_force[@]}"

# Pre-training pool (audio only; dev/test Dutch speech stays out of it).
_pool=()
for _set in train_nl pretrain_synth_nl; do
    [ -f "${datadir}/${_set}/wav.scp" ] && _pool+=("${datadir}/${_set}")
done
python3 -m espnet_ext.bin.combine_data_dirs "${_force[@]}" "${_pool[@]}" "${datadir}/pretrain_nl"

# Where the corpora of the CGN study live on local disk (nothing is downloaded). Set each default
# here, e.g. CGN=${CGN:-/corpora/CGN_2.0.3}, or export the variable before ./run.sh (an exported
# value wins). What each folder must contain: README.md of this recipe.

# CGN release (licensed by the Dutch Language Institute): the directory that holds data/, i.e.
# data/audio/wav/comp-<a-o>/vl/*.wav and data/annot/text/ort/comp-<a-o>/vl/*.ort.gz.
CGN=${CGN:-}
# Common Voice release: the directory holding one folder per language (es/, cs/, ...), each with
# {train,dev,test,validated}.tsv and clips/*.mp3 (e.g. .../cv-corpus-17.0-2024-03-15).
COMMON_VOICE=${COMMON_VOICE:-}
# FLEURS: the directory holding one folder per language (es_419/, sw_ke/, ...), each with
# {train,dev,test}.tsv and audio/{train,dev,test}/*.wav (archives extracted).
FLEURS=${FLEURS:-}
# Off-the-shelf upstream checkpoints named by conf/upstream/*.yaml (${XLING_CKPT_DIR}/...):
# apc_360hr.ckpt, wav2vec_small.pt, xlsr_53_56k.pt (s3prl-converted), for stage 5 on. Exported
# only when set (unset, a YAML that needs it stops with a message saying so).
XLING_CKPT_DIR=${XLING_CKPT_DIR:-}
[ -z "${XLING_CKPT_DIR}" ] || export XLING_CKPT_DIR

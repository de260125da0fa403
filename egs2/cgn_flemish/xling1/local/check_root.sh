# Sourced by run.sh and local/data.sh (after db.sh).
# check_root NAME: db.sh's NAME must name an existing directory.
check_root() {
    local _value=${!1:-}
    if [ -z "${_value}" ]; then
        echo "$0: Error: ${1} is not set: set ${1}= in $(pwd)/db.sh (or export ${1}) to the" \
             "corpus folder described there and in README.md" >&2
        exit 2
    fi
    if [ ! -d "${_value}" ]; then
        echo "$0: Error: ${1}=${_value} (db.sh) is not a directory: fix ${1} in $(pwd)/db.sh" >&2
        exit 2
    fi
}

#!/usr/bin/env bash
# Sourced by a script after it sets its defaults: turns "--some_option value" (or
# "--some-option value", or "--some_option=value") into some_option=value for every variable the
# script already defines, so options and defaults stay in one place. An unknown option is an
# error that lists where the valid ones are defined. "--config file" sources a file of defaults.
# Stops at the first argument that does not start with "--".
while true; do
    [ -z "${1:-}" ] && break
    case "$1" in
        --help|-h)
            echo "${help_message:-usage: $0 [--option value ...]}"
            exit 0 ;;
        --config)
            # shellcheck disable=SC1090
            . "$2" || exit 1
            shift 2 ;;
        --*=*)
            _name=${1%%=*}; _name=${_name#--}; _name=${_name//-/_}
            _value=${1#*=}
            if [ -z "${!_name+x}" ]; then
                echo "$0: unknown option --${_name} (valid options are the variables set at the top of $0)" >&2
                exit 1
            fi
            printf -v "$_name" '%s' "$_value"
            shift ;;
        --*)
            _name=${1#--}; _name=${_name//-/_}
            if [ -z "${!_name+x}" ]; then
                echo "$0: unknown option --${_name} (valid options are the variables set at the top of $0)" >&2
                exit 1
            fi
            if [ $# -lt 2 ]; then
                echo "$0: option --${_name} needs a value" >&2
                exit 1
            fi
            printf -v "$_name" '%s' "$2"
            shift 2 ;;
        *) break ;;
    esac
done
true

# Where the source corpora live. The default recipe builds everything from Debian packages
# (installed by tools/install.sh), so these are the packages' install paths.
FILLETS=${FILLETS:-/usr/share/games/fillets-ng}
ASTERISK_SOUNDS=${ASTERISK_SOUNDS:-/usr/share/asterisk/sounds}
ASTERISK_DOCS=${ASTERISK_DOCS:-/usr/share/doc}
FESTVOX_RU=${FESTVOX_RU:-/usr/share/festival/voices/russian/msu_ru_nsh_clunits}
